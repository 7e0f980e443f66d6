#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import Testing
@testable import CheckpointAdapters

/// The capture engine against the scripted fake ioctl layer: negotiation, conversion, every rung of the ladder.
@Suite struct CameraCaptureTests {
    /// Runs the engine over `camera`'s script; returns delivered frames and the sleeps it asked for.
    static func run(_ camera: FakeCamera, settings: CameraSettings = Self.settings()) -> (engine: V4L2CaptureEngine, frames: [Frame], sleeps: [Double]) {
        let cancellation = CaptureCancellation()
        camera.onExhausted = { cancellation.cancel() }
        var sleeps: [Double] = []
        let engine = V4L2CaptureEngine(settings: settings, opener: camera, cancellation: cancellation,
                                       sleeper: { sleeps.append($0); return true }, random: { 0.5 })
        var frames: [Frame] = []
        engine.run { frames.append($0) }
        return (engine, frames, sleeps)
    }

    static func settings(width: Int = 8, height: Int = 4, formats: [CameraPixelFormat] = [.yuyv], output: PixelLayout = .gray8) -> CameraSettings {
        CameraSettings(device: "/dev/v4l/by-id/usb-fake-video-index0", formats: formats, width: width, height: height, fps: 15, buffers: 4, frameTimeoutMs: 2500,
                       warmupFrames: 1, minimumJPEGBytes: 64, output: output)
    }

    static func frame(_ seq: UInt32, luma: UInt8 = 100, error: Bool = false) -> FakeCamera.FakeFrame {
        FakeCamera.FakeFrame(sequence: seq, bytes: FakeFrames.yuyv(width: 8, height: 4, luma: luma), errorFlag: error)
    }

    @Test func negotiationTakesTheDriversAnswerAndSkipsSubstitutedFormats() {
        let camera = FakeCamera()
        camera.formats.append(V4L2FormatDescription(fourcc: CameraPixelFormat.grey.fourcc, description: "Greyscale", compressed: false))
        // This driver claims MJPEG but answers S_FMT(MJPG) with YUYV, and shrinks every size to 8x2.
        camera.answerFormat = { fourcc, _, _ in
            DriverFormat(fourcc: CameraPixelFormat.yuyv.fourcc, width: 8, height: 2, bytesPerLine: 16, sizeImage: 32)
        }
        camera.frameRate = V4L2FrameRate(numerator: 1, denominator: 25, supported: true)
        camera.script = [.frames([Self.frame(0, luma: 7)])]
        let (engine, frames, _) = Self.run(camera, settings: Self.settings(formats: [.mjpeg, .yuyv]))
        #expect(camera.ioctls.filter { $0.hasPrefix("s_fmt") } == ["s_fmt MJPG 8x4", "s_fmt YUYV 8x4"])
        let format = engine.status.format
        #expect(format?.format == .yuyv && format?.width == 8 && format?.height == 2 && format?.fps == 25)
        #expect(frames.count == 1 && frames[0].width == 8 && frames[0].height == 2 && frames[0].pixels == [UInt8](repeating: 7, count: 16))
    }

    @Test func noUsableFormatIsAClearErrorAndTheLadderKeepsTrying() {
        let camera = FakeCamera()
        camera.formats = [V4L2FormatDescription(fourcc: CameraPixelFormat.fourcc("H264"), description: "H.264", compressed: true)]
        camera.script = [.timeout]  // never reached: each open fails negotiation; the run ends when cancelled below
        let cancellation = CaptureCancellation()
        var sleeps: [Double] = []
        let engine = V4L2CaptureEngine(settings: Self.settings(), opener: camera, cancellation: cancellation,
                                       sleeper: { sleeps.append($0); if sleeps.count == 3 { cancellation.cancel() }; return true })
        engine.run { _ in }
        #expect(camera.opens == 3)
        #expect(engine.status.lastError?.contains("offers none of the configured formats YUYV (device offers: H264)") == true)
        #expect(sleeps.allSatisfy { $0 >= 0.5 && $0 <= 30 })
        #expect(camera.openDevices == 0, "every failed open was closed again")
    }

    @Test func aNodeWithoutCaptureAndStreamingIsRefused() {
        let camera = FakeCamera()
        camera.capabilities.videoCapture = false  // the UVC metadata node
        let cancellation = CaptureCancellation()
        let engine = V4L2CaptureEngine(settings: Self.settings(), opener: camera, cancellation: cancellation,
                                       sleeper: { _ in cancellation.cancel(); return false })
        engine.run { _ in }
        #expect(engine.status.lastError?.contains("lacks VIDEO_CAPTURE in device_caps") == true)
        #expect(!camera.ioctls.contains { $0.hasPrefix("s_fmt") })
    }

    @Test func onlyTheNewestFrameIsDeliveredAndBuffersGoStraightBack() {
        let camera = FakeCamera()
        camera.script = [
            .frames([Self.frame(0)]),
            .frames([Self.frame(1), Self.frame(2), Self.frame(3)]),  // consumer fell behind: three waiting
            .frames([Self.frame(4)]),
        ]
        let (engine, frames, _) = Self.run(camera)
        #expect(frames.map(\.sequence) == [0, 3, 4])
        #expect(engine.status.counters.droppedStale == 2)
        #expect(engine.status.counters.delivered == 3)
        #expect(frames.allSatisfy { $0.layout == .gray8 && $0.pixels.count == 32 })
        #expect(camera.mappedBuffers == 0 && camera.openDevices == 0, "cancel unmaps and closes")
    }

    @Test func errorFlaggedBuffersWarmupFramesAndSequenceGaps() {
        let camera = FakeCamera()
        camera.script = [
            .frames([Self.frame(0, error: true)]),  // first frame after STREAMON, bad: warm-up drop
            .frames([Self.frame(1)]),
            .frames([Self.frame(2, error: true)]),  // V4L2_BUF_FLAG_ERROR later: counted as such
            .frames([Self.frame(6)]),  // driver dropped 3, 4, 5
            .frames([Self.frame(7)]),
        ]
        let (engine, frames, _) = Self.run(camera)
        let c = engine.status.counters
        #expect(frames.map(\.sequence) == [1, 6, 7])
        #expect(c.droppedWarmup == 1 && c.droppedErrorFlag == 1)
        #expect(c.sequenceGaps == 1 && c.framesMissed == 3)
    }

    @Test func yuyvBecomesBGRForTheDetector() {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0, luma: 235)])]
        let (_, frames, _) = Self.run(camera, settings: Self.settings(output: .bgr24))
        #expect(frames.count == 1 && frames[0].layout == .bgr24 && frames[0].pixels == [UInt8](repeating: 255, count: 8 * 4 * 3))
    }

    @Test func firstTimeoutRestartsStreamingOnTheSameFdSecondReopens() {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0)]), .timeout, .frames([Self.frame(0)]), .timeout, .timeout, .frames([Self.frame(0)])]
        let (engine, frames, sleeps) = Self.run(camera)
        let log = camera.ioctls
        #expect(frames.count == 3)
        // After the first timeout: STREAMOFF + STREAMON without a close; the frame afterwards resets the ladder,
        // so the next timeout restarts streaming again, and the one after that reopens.
        let afterFirst = log.split(separator: "dqbuf 0", omittingEmptySubsequences: false)[1]
        #expect(Array(afterFirst.prefix(2)) == ["streamoff", "streamon"])
        #expect(camera.opens == 2)
        let c = engine.status.counters
        #expect(c.timeouts == 3 && c.streamRestarts == 2 && c.reopens == 1)
        #expect(sleeps.isEmpty, "a frozen camera is reopened at once the first time")
        #expect(engine.status.health == .streaming)
    }

    @Test func pollErrAndEIOReopen() {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0)]), .pollError, .frames([Self.frame(0)]), .dequeueError(EIO), .frames([Self.frame(0)])]
        let (engine, frames, sleeps) = Self.run(camera)
        #expect(frames.count == 3)
        #expect(camera.opens == 3)
        #expect(sleeps.isEmpty, "an isolated I/O error reopens at once")
        #expect(engine.status.counters.reopens == 2)
        #expect(camera.ioctls.filter { $0 == "close" }.count == 3, "two reopens plus the final teardown")
    }

    @Test func unplugClosesEverythingBacksOffAndReappliesControlsOnReturn() {
        let camera = FakeCamera()
        camera.controls = [CameraControlInfo(id: 0x0098_0918, name: "Power Line Frequency", kind: .menu, minimum: 0, maximum: 2)]
        camera.script = [.frames([Self.frame(0)]), .hangup, .frames([Self.frame(0)])]
        // While unplugged the node is gone: two opens fail before it comes back.
        var settings = Self.settings()
        settings.controls = [CameraControlRequest(name: "power_line_frequency", value: 1)]
        let cancellation = CaptureCancellation()
        camera.onExhausted = { cancellation.cancel() }
        var sleeps: [Double] = []
        let engine = V4L2CaptureEngine(settings: settings, opener: camera, cancellation: cancellation,
                                       sleeper: { s in
                                           if sleeps.isEmpty { camera.openErrors = [ENOENT, ENODEV] }
                                           sleeps.append(s)
                                           return true
                                       }, random: { 0.5 })
        var frames: [Frame] = []
        engine.run { frames.append($0) }
        #expect(frames.count == 2)
        let log = camera.ioctls
        let hang = log.firstIndex(of: "dqbuf 0")!
        #expect(Array(log[(hang + 1)...].prefix(3)) == ["streamoff", "release", "close"], "teardown before any retry: \(log)")
        #expect(sleeps.count == 3 && sleeps.allSatisfy { $0 >= 0.5 && $0 <= 30 })
        #expect(sleeps[2] > sleeps[0], "backoff grows while the camera stays away: \(sleeps)")
        #expect(log.filter { $0 == "s_ctrl 0x980918=1" }.count == 2, "controls re-applied after reconnect")
        #expect(engine.status.counters.disconnects == 1)
        #expect(engine.status.health == .streaming)
    }

    @Test func unplugSeenAsENODEVFromDQBUF() {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0)]), .dequeueError(ENODEV), .frames([Self.frame(0)])]
        let (engine, frames, sleeps) = Self.run(camera)
        #expect(frames.count == 2 && sleeps.count == 1 && sleeps[0] >= 0.5)
        #expect(engine.status.counters.disconnects == 1)
    }

    @Test func busyDeviceBacksOff() {
        let camera = FakeCamera()
        camera.openErrors = [EBUSY, EBUSY]
        camera.script = [.frames([Self.frame(0)])]
        let (engine, frames, sleeps) = Self.run(camera)
        #expect(frames.count == 1 && camera.opens == 3)
        #expect(sleeps.count == 2 && sleeps.allSatisfy { $0 >= 0.5 })
        #expect(engine.status.health == .streaming)
    }

    @Test func streamOnFailureDuringRestartFallsBackToReopen() {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0)]), .timeout, .frames([Self.frame(0)])]
        camera.streamOnErrors = [0, EINVAL]  // the initial STREAMON works, the restart's fails
        let (_, frames, _) = Self.run(camera)
        #expect(frames.count == 2 && camera.opens == 2)
    }

    @Test func missingReadOnlyAndRefusedControlsAreReportedNotFatal() {
        let camera = FakeCamera()
        camera.controls = [
            CameraControlInfo(id: 0x009A_0901, name: "Auto Exposure", kind: .menu, minimum: 0, maximum: 3, defaultValue: 3),
            CameraControlInfo(id: 0x0098_0913, name: "Gain", minimum: 0, maximum: 100, readOnly: true),
            CameraControlInfo(id: 0x009A_0902, name: "Exposure Time, Absolute", minimum: 1, maximum: 5000),
        ]
        camera.refusedControls = [0x009A_0902: EACCES]
        camera.script = [.frames([Self.frame(0)])]
        var settings = Self.settings()
        settings.controls = [
            CameraControlRequest(name: "exposure_absolute", value: 300),
            CameraControlRequest(name: "exposure_auto", value: 1),
            CameraControlRequest(name: "gain", value: 5),
            CameraControlRequest(name: "white_balance_temperature", value: 4600),
        ]
        let (engine, frames, _) = Self.run(camera, settings: settings)
        #expect(frames.count == 1)
        #expect(camera.ioctls.filter { $0.hasPrefix("s_ctrl") } == ["s_ctrl 0x9a0901=1", "s_ctrl 0x9a0902=300"], "mode first")
        let reports = engine.status.controlReports
        #expect(reports.contains(CameraControlReport(name: "gain", problem: .readOnly)))
        #expect(reports.contains(CameraControlReport(name: "white_balance_temperature", problem: .missing)))
        #expect(reports.contains { $0.name == "exposure_absolute" && "\($0.problem)".contains("Permission denied") })
    }

    @Test func mjpegRealFramesDecodeTruncatedOnesAreDroppedAndCounted() throws {
        // A real JPEG, from a real encoder: 16x8 mid-gray.
        let jpeg = try ImageCodec.encode([UInt8](repeating: 90, count: 16 * 8), width: 16, height: 8, channels: 1, quality: 95)
        let truncated = Array(jpeg.prefix(jpeg.count * 2 / 3))
        var garbage = [UInt8](repeating: 0x41, count: 400)
        garbage[0] = 0xFF; garbage[1] = 0xD8; garbage[398] = 0xFF; garbage[399] = 0xD9
        let camera = FakeCamera()
        camera.script = [
            .frames([FakeCamera.FakeFrame(sequence: 0, bytes: truncated)]),  // stale first buffer after STREAMON (warm-up)
            .frames([FakeCamera.FakeFrame(sequence: 1, bytes: jpeg)]),
            .frames([FakeCamera.FakeFrame(sequence: 2, bytes: truncated)]),  // no EOI: low-light truncation
            .frames([FakeCamera.FakeFrame(sequence: 3, bytes: garbage)]),  // SOI/EOI but not a JPEG
            .frames([FakeCamera.FakeFrame(sequence: 4, bytes: jpeg + [0, 0, 0, 0])]),  // zero padding after EOI
        ]
        let (engine, frames, _) = Self.run(camera, settings: Self.settings(width: 16, height: 8, formats: [.mjpeg], output: .gray8))
        #expect(frames.map(\.sequence) == [1, 4])
        #expect(frames.allSatisfy { $0.width == 16 && $0.height == 8 && abs(Int($0.pixels[0]) - 90) <= 3 })
        let c = engine.status.counters
        #expect(c.droppedWarmup == 1 && c.droppedCorrupt == 2)
    }

    /// A broken camera sends an MJPEG frame whose header claims far more than the negotiated 16×8 (here 4096×3072, a
    /// 37 MB decode): it is refused from the header and counted as corrupt; the frames around it still arrive.
    @Test func mjpegLargerThanNegotiatedIsRefusedBeforeDecoding() throws {
        let small = try ImageCodec.encode([UInt8](repeating: 90, count: 16 * 8), width: 16, height: 8, channels: 1, quality: 95)
        let huge = try ImageCodec.encode([UInt8](repeating: 10, count: 4096 * 3072), width: 4096, height: 3072, channels: 1, quality: 10)
        let camera = FakeCamera()
        camera.script = [
            .frames([FakeCamera.FakeFrame(sequence: 0, bytes: small)]),  // warm-up
            .frames([FakeCamera.FakeFrame(sequence: 1, bytes: small)]),
            .frames([FakeCamera.FakeFrame(sequence: 2, bytes: huge)]),
            .frames([FakeCamera.FakeFrame(sequence: 3, bytes: small)]),
        ]
        let (engine, frames, _) = Self.run(camera, settings: Self.settings(width: 16, height: 8, formats: [.mjpeg], output: .gray8))
        #expect(frames.map(\.sequence) == [0, 1, 3])
        #expect(engine.status.counters.droppedCorrupt == 1)
        let direct = ImageCodecBoundProbe.refusal(huge, maxWidth: 640, maxHeight: 480)
        #expect(direct?.contains("4096x3072, larger than the 640x480 allowed") == true, "\(direct ?? "decoded")")
    }

    @Test func theFrameSourceDeliversThroughAnAsyncStreamAndStopsWhenDropped() async throws {
        let camera = FakeCamera()
        // Long enough that a consumer starved by a loaded machine still sees 3 frames before the script ends: five
        // minutes at 50 fps (20 s was not: in a full parallel `swift test` on 2 cores, tests that detect faces
        // synchronously hold the cooperative threads, and this consumer once got fewer than 3 frames).
        camera.script = (0..<15_000).map { .frames([Self.frame(UInt32($0))]) }
        camera.waitDelay = 0.02  // 50 fps
        let source = V4L2Camera(settings: Self.settings(), opener: camera)
        var got: [UInt64] = []
        for await event in source.events() {
            guard case .frame(let frame) = event else { continue }
            got.append(frame.sequence)
            if got.count == 3 { break }
        }
        #expect(got.count == 3 && got == got.sorted())
        // Leaving the loop cancels capture: the device gets closed on the capture thread.
        let deadline = ContinuousClock.now + .seconds(30)  // generous: a busy machine may schedule that thread late
        while camera.openDevices != 0 && ContinuousClock.now < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        #expect(camera.openDevices == 0 && camera.mappedBuffers == 0)
    }

    /// The camera's stream carries its health: unplugged, the consumer is told the camera is degraded (and why)
    /// while no frame comes; each change once; frames follow when the device is back.
    @Test(.timeLimit(.minutes(2))) func theStreamCarriesTheCamerasHealthChanges() async throws {
        let camera = FakeCamera()
        camera.script = [.frames([Self.frame(0)]), .hangup] + (1..<1000).map { .frames([Self.frame(UInt32($0))]) }
        camera.waitDelay = 0.02
        // The first open works; after the unplug the node stays gone until the test has seen the camera degraded.
        camera.openErrors = [0] + [Int32](repeating: ENOENT, count: 500)
        let source = V4L2Camera(settings: Self.settings(), opener: camera)
        var healths: [CameraHealth] = []
        var framesAfterDegraded = 0
        for await event in source.events() {
            switch event {
            case .health(let h):
                healths.append(h)
                if case .degraded = h {
                    camera.lock.withLock { camera.openErrors = [] }
                }
            case .frame:
                if healths.contains(where: { if case .degraded = $0 { return true }; return false }) { framesAfterDegraded += 1 }
            }
            if framesAfterDegraded == 2 { break }
        }
        let degraded = healths.compactMap { h -> String? in if case .degraded(let why) = h { return why }; return nil }
        #expect(!degraded.isEmpty && degraded.allSatisfy { !$0.isEmpty }, "health events: \(healths)")
        #expect(framesAfterDegraded == 2)
        #expect(zip(healths, healths.dropFirst()).allSatisfy { $0 != $1 }, "each change once: \(healths)")
    }
}

@Suite struct CameraReplayTests {
    static func makeDirectory(_ lumas: [UInt8]) throws -> String {
        let dir = NSTemporaryDirectory() + "replay-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, l) in lumas.enumerated() {
            let png = try ImageCodec.encode([UInt8](repeating: l, count: 12 * 10), width: 12, height: 10, channels: 1, png: true)
            try Data(png).write(to: URL(fileURLWithPath: "\(dir)/frame-\(String(format: "%06d", i)).png"))
        }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(dir)/notes.txt"))
        return dir
    }

    @Test func playsInNameOrderLoopsAndKeepsTheRate() async throws {
        let dir = try Self.makeDirectory([10, 20, 30])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try ReplaySource(directory: dir, fps: 20, loop: true, output: .gray8)
        #expect(source.files.count == 3)
        let start = Date()
        var lumas: [UInt8] = []
        var sequences: [UInt64] = []
        for await event in source.events() {
            guard case .frame(let frame) = event else { Issue.record("a replay yields frames only: \(event)"); continue }
            lumas.append(frame.pixels[0])
            sequences.append(frame.sequence)
            if lumas.count == 7 { break }
        }
        let elapsed = -start.timeIntervalSinceNow
        // A slow consumer may miss frames (newest-only delivery), but what it gets is in order, each frame is
        // the file its sequence names (name order, looping), and the source keeps its pace.
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 })
        #expect(zip(lumas, sequences).allSatisfy { $0 == [10, 20, 30][Int($1 % 3)] }, "lumas \(lumas) for sequences \(sequences)")
        #expect(sequences.last! >= 6, "looped past the last file")
        #expect(elapsed >= Double(sequences.last!) * 0.05 * 0.9, "\(sequences.last!) periods at 20 fps, took \(elapsed)")
    }

    @Test func withoutLoopTheStreamEndsAndBGRIsDefault() async throws {
        let dir = try Self.makeDirectory([50, 60])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try ReplaySource(directory: dir, fps: 200, loop: false)
        var sequences: [UInt64] = []
        for await event in source.events() {
            guard case .frame(let frame) = event else { Issue.record("a replay yields frames only: \(event)"); continue }
            #expect(frame.layout == .bgr24 && frame.width == 12 && frame.height == 10)
            sequences.append(frame.sequence)
        }
        // The stream ends after the last file; its frame is never lost (a slow consumer may miss the first).
        #expect(sequences.last == 1 && sequences.count <= 2)
    }

    @Test func anEmptyOrMissingDirectoryIsAClearError() throws {
        let dir = NSTemporaryDirectory() + "replay-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ReplaySource(directory: dir, fps: 10)
            Issue.record("empty directory accepted")
        } catch {
            #expect(error.message.contains("holds no .jpg, .jpeg or .png image"))
        }
        #expect(throws: AdapterError.self) { try ReplaySource(directory: dir + "/missing", fps: 10) }
        #expect(throws: AdapterError.self) { try ReplaySource(directory: dir, fps: 0) }
    }
}

/// The real ioctl layer on nodes that are not cameras: errors name the device and carry errno.
@Suite struct CameraSystemDeviceTests {
    @Test func aMissingNodeIsADisconnectWithENOENT() {
        do {
            _ = try SystemV4L2Device(path: "/dev/checkpointd-no-such-camera")
            Issue.record("opened a missing node")
        } catch {
            #expect(error.code == .disconnected && error.errnoValue == ENOENT)
            #expect(error.description.contains("/dev/checkpointd-no-such-camera"))
        }
    }

    @Test func aNonV4L2NodeFailsQueryCapWithENOTTY() throws {
        let dev = try SystemV4L2Device(path: "/dev/null")
        defer { dev.close() }
        do {
            _ = try dev.queryCapabilities()
            Issue.record("/dev/null answered QUERYCAP")
        } catch {
            #expect(error.errnoValue == ENOTTY && error.message.contains("VIDIOC_QUERYCAP on /dev/null"))
        }
    }

    @Test func theEngineReportsANonCameraAndKeepsRetrying() {
        let cancellation = CaptureCancellation()
        var sleeps = 0
        let engine = V4L2CaptureEngine(settings: CameraSettings(device: "/dev/null"), cancellation: cancellation,
                                       sleeper: { _ in sleeps += 1; if sleeps == 2 { cancellation.cancel() }; return true })
        engine.run { _ in Issue.record("no frame can come from /dev/null") }
        #expect(sleeps == 2)
        #expect(engine.status.lastError?.contains("Inappropriate ioctl") == true)
        #expect(engine.status.health.description.hasPrefix("degraded"))
    }
}

enum ImageCodecBoundProbe {
    /// The refusal message for an image decoded with a size bound, or nil when it decoded.
    static func refusal(_ bytes: [UInt8], maxWidth: Int, maxHeight: Int) -> String? {
        do {
            _ = try ImageCodec.decode(bytes, gray: true, maxWidth: maxWidth, maxHeight: maxHeight)
            return nil
        } catch {
            return "\(error)"
        }
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import CheckpointSimulators
import Foundation
import Synchronization
import Logging

/// `checkpointctl camera list|snapshot|record`: the technician's view of the kiosk camera.
struct CameraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera",
        abstract: "List cameras, take snapshots, record frames for replay.",
        subcommands: [CameraListCommand.self, CameraLiveCommand.self, CameraSnapshotCommand.self, CameraRecordCommand.self, CameraBenchCommand.self]
    )
}

/// Options shared by the capturing subcommands. Every option not given comes from the daemon's `[camera]` table.
struct CameraCaptureOptions: ParsableArguments {
    @OptionGroup var daemon: DaemonConfigOption

    @Option(name: .long, help: "V4L2 device; a stable /dev/v4l/by-id/… path is best (default: the configuration's).")
    var device: String?

    @Option(name: .long, help: "Use a directory of JPEG/PNG images (a recording) instead of a device (default: the configuration's, when it replays).")
    var replay: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Capture formats in preference order (YUYV, MJPEG, GREY) (default: the configuration's).")
    var format: [String] = []

    @Option(name: .long, help: "Requested width in pixels; the driver may choose another (default: the configuration's).")
    var width: Int?

    @Option(name: .long, help: "Requested height in pixels; the driver may choose another (default: the configuration's).")
    var height: Int?

    @Option(name: .long, help: "Requested frames per second; best effort on the device, exact for --replay (default: the configuration's).")
    var fps: Int?

    @Option(name: .long, help: "Give up when no frame arrives within this many seconds.")
    var timeout: Double = 15

    @Option(name: .long, parsing: .singleValue, help: "A camera control NAME=VALUE (repeatable), e.g. power_line_frequency=50hz (default: the configuration's controls).")
    var control: [String] = []

    func validate() throws {
        for f in format where CameraPixelFormat(name: f) == nil {
            throw ValidationError("--format \(f) is not one of YUYV, MJPEG, GREY")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        for c in control where !c.contains("=") {
            throw ValidationError("--control \(c) must look like NAME=VALUE")
        }
    }

    /// The daemon's camera settings. With a device or a replay given, only for the other settings, and only when the
    /// configuration can be read (a bench, a test, or a broken kiosk config do not stop a technician's snapshot).
    private func base() throws -> CheckpointConfig.Camera? {
        if device != nil || replay != nil { return try? daemon.load(forDefaultsOf: ["--device"]).camera }
        return try daemon.load(forDefaultsOf: ["--device (or --replay)"]).camera
    }

    func settings(output: PixelLayout = .bgr24) throws -> CameraSettings {
        var s = try base().map { CameraSettings(config: $0) } ?? CameraSettings()
        if let device { s.device = device }
        if !format.isEmpty { s.formats = format.compactMap(CameraPixelFormat.init(name:)) }
        if let width { s.width = width }
        if let height { s.height = height }
        if let fps { s.fps = fps }
        s.output = output
        s.frameTimeoutMs = CameraSettings().frameTimeoutMs   // the schema's default, whatever the kiosk's config says
        if !control.isEmpty {
            s.controls = try control.map { text in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                do throws(CoreError) {
                    return try CameraControlRequest(name: parts[0], text: parts[1])
                } catch {
                    throw ValidationError(error.message)
                }
            }
        }
        do {
            try s.validate()
        } catch {
            throw ValidationError(error.message)
        }
        return s
    }

    /// The source the options describe, plus a closure describing its state for error messages.
    func makeSource(output: PixelLayout = .bgr24) throws -> (any FrameSource, () -> String, @Sendable () -> Bool) {
        var replay = replay
        let configured = device == nil ? try base() : nil
        if replay == nil, let configured, configured.source == .replay { replay = configured.replayPath }
        if let replay {
            do {
                let rate = fps.map(Double.init) ?? configured?.replayFPS ?? 15
                let source = try ReplaySource(directory: replay, fps: rate, loop: false, output: output)
                return (source, { "replay: \(source.delivered) frames, \(source.undecodable) undecodable" }, { false })
            } catch {
                throw CtlError.runtime(error.description)
            }
        }
        var logger = Logger(label: "checkpointd.camera")
        logger.logLevel = ProcessInfo.processInfo.environment["CHECKPOINT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let camera = V4L2Camera(settings: try settings(output: output), logger: logger)
        return (camera, {
            if case .busy? = camera.status.lastFault {
                return "\(camera.status.device) is in use, most likely by checkpointd, which holds the camera while it runs: "
                    + "see the live kiosk with 'checkpointctl watch' (or the screen's preview), or stop it first (systemctl stop checkpointd)"
            }
            return camera.status.summary
        }, {
            if case .busy? = camera.status.lastFault { return true }
            return false
        })
    }
}

extension CameraStatus {
    /// One line for technicians: health, format, counters, last error.
    var summary: String {
        var parts = ["\(device): \(health)"]
        if let format { parts.append("format \(format)") }
        let c = counters
        parts.append("delivered=\(c.delivered) stale=\(c.droppedStale) error_flag=\(c.droppedErrorFlag) corrupt=\(c.droppedCorrupt) "
            + "warmup=\(c.droppedWarmup) seq_gaps=\(c.sequenceGaps) missed=\(c.framesMissed) timeouts=\(c.timeouts) "
            + "restarts=\(c.streamRestarts) reopens=\(c.reopens) disconnects=\(c.disconnects)")
        if let lastError { parts.append("last error: \(lastError)") }
        return parts.joined(separator: "; ")
    }
}

/// Iterates a frame source until `body` returns false, the stream ends, or `timeout` seconds pass without a frame.
/// Returns false on that timeout.
func consumeFrames(_ source: any FrameSource, timeout: Double, giveUpWhen held: @escaping @Sendable () -> Bool = { false },
                   _ body: (Frame) throws -> Bool) async throws -> Bool {
    let (relay, continuation) = AsyncStream<Frame>.makeStream(bufferingPolicy: .bufferingNewest(1))
    let watch = FrameWatch()
    let upstream = source.events()
    let forwarder = Task {
        for await event in upstream {
            // Health changes are not frames: a camera that only reports being lost times out here.
            guard case .frame(let frame) = event else { continue }
            watch.touch()
            continuation.yield(frame)
        }
        continuation.finish()
    }
    let watchdog = Task {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 100_000_000)
            if watch.idleSeconds > timeout || held() {
                watch.markTimedOut()
                continuation.finish()
                return
            }
        }
    }
    defer {
        forwarder.cancel()
        watchdog.cancel()
    }
    for await frame in relay {
        if try !body(frame) { break }
    }
    return !watch.timedOut
}

/// When the last frame arrived (shared between the forwarding and watchdog tasks).
final class FrameWatch: Sendable {
    private let last = Mutex(Date())
    private let timedOutFlag = Mutex(false)

    func touch() { last.withLock { $0 = Date() } }
    var idleSeconds: Double { -last.withLock { $0 }.timeIntervalSinceNow }
    func markTimedOut() { timedOutFlag.withLock { $0 = true } }
    var timedOut: Bool { timedOutFlag.withLock { $0 } }
}

/// Writes an image of people to `path` atomically (temporary file, then rename), readable by its owner only (0600):
/// camera stills and recordings show faces, which are personal data.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    do {
        try AtomicFileWriter.write(bytes: bytes, to: path, mode: 0o600)
    } catch {
        throw CtlError.runtime("cannot write \(path): \(error)")
    }
}

func encode(_ frame: Frame, png: Bool, quality: Int = 90) throws -> [UInt8] {
    do {
        return try ImageCodec.encode(frame.pixels, width: frame.width, height: frame.height, channels: frame.layout.bytesPerPixel, png: png, quality: quality)
    } catch {
        throw CtlError.runtime("cannot encode the frame: \(error)")
    }
}

func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `camera list`: every video node with driver, card, formats, sizes and frame intervals.
struct CameraListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Each V4L2 device with its driver, card, capabilities, formats, sizes, fps and controls (like v4l2-ctl --list-formats-ext)."
    )

    @Option(name: .long, help: "Describe only this device.")
    var device: String?

    @Flag(name: .long, help: "Also list the controls with their ranges and flags.")
    var controls = false

    @Flag(name: .long, help: "One JSON object per device, one per line.")
    var json = false

    func run() async throws {
        let nodes = device.map { [$0] } ?? CameraProbe.videoNodes()
        if nodes.isEmpty { throw CtlError.runtime("no V4L2 devices (/dev/video*) found") }
        var failures = 0
        for node in nodes {
            do {
                var d = try CameraProbe.describe(path: node)
                if !controls { d.controls = [] }
                print(json ? try JSONOutput.line(Listing(d)) : d.render())
            } catch {
                failures += 1
                if json {
                    print(try JSONOutput.line(["path": node, "error": "\(error)"]))
                } else {
                    printErr("\(node): \(error)")
                }
            }
        }
        if failures == nodes.count { throw CtlError.runtime("no usable V4L2 device among \(nodes.joined(separator: ", "))") }
    }

    /// A device for scripts: what `render()` prints, as data.
    struct Listing: Encodable {
        struct Size: Encodable {
            var width: Int?, height: Int?
            var stepwise: [String: Int]?
            var fps: [Double]
        }
        struct Format: Encodable {
            var fourcc: String, description: String, compressed: Bool
            var sizes: [Size]
        }
        struct Control: Encodable {
            var name: String, minimum: Int, maximum: Int, step: Int, defaultValue: Int
        }
        var path: String, aliases: [String], driver: String, card: String, busInfo: String
        var capture: Bool
        var formats: [Format]
        var controls: [Control]

        init(_ d: CameraDescription) {
            path = d.path
            aliases = d.aliases
            driver = d.capabilities.driver
            card = d.capabilities.card
            busInfo = d.capabilities.busInfo
            capture = d.capabilities.videoCapture && d.capabilities.streaming
            formats = d.formats.map { f in
                Format(fourcc: CameraPixelFormat.fourccString(f.format.fourcc), description: f.format.description, compressed: f.format.compressed,
                       sizes: f.sizes.map { size, intervals in
                           let fps = intervals.compactMap { i -> Double? in
                               if case .discrete(let n, let den) = i, n > 0 { return (Double(den) / Double(n) * 1000).rounded() / 1000 }
                               return nil
                           }
                           switch size {
                           case .discrete(let w, let h): return Size(width: w, height: h, stepwise: nil, fps: fps)
                           case .stepwise(let minW, let maxW, let sw, let minH, let maxH, let sh):
                               return Size(width: nil, height: nil, stepwise: ["minWidth": minW, "maxWidth": maxW, "stepWidth": sw,
                                                                            "minHeight": minH, "maxHeight": maxH, "stepHeight": sh], fps: fps)
                           }
                       })
            }
            controls = d.controls.map { Control(name: $0.name, minimum: $0.minimum, maximum: $0.maximum, step: $0.step, defaultValue: $0.defaultValue) }
        }
    }
}

/// `camera live --out FILE.png`: the running daemon's next camera frame, annotated, through its API socket.
struct CameraLiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "The running kiosk's camera as PNG: every face with its box, landmarks and score, the registered thermal overlay, and the readiness reasons; the service keeps running.",
        discussion: "The file shows a person: it is written mode 0600; delete it when done.")

    @OptionGroup var daemon: DaemonAPIOption
    @Option(name: .long, help: "Output file (.png).") var out: String

    func validate() throws {
        guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must end in .png, got '\(out)'") }
    }

    func run() async throws {
        let link = daemon.link()
        let response = try await link.get("/v1/camera/snapshot.png", timeout: .seconds(20))
        guard response.status == 200, response.body.starts(with: [0x89, 0x50, 0x4E, 0x47]) else {
            let code = (try? JSONDecoder().decode([String: String?].self, from: response.body))?["code"] ?? nil
            throw CtlError.runtime("checkpointd gave no snapshot: HTTP \(response.status)\(code.map { " (\($0))" } ?? "")")
        }
        try writeAtomically([UInt8](response.body), to: out)
        print("wrote \(out) (\(response.body.count / 1024) KiB, mode 0600)")
    }
}

/// `camera snapshot --out FILE [--faces]`: one still, optionally with detected faces outlined.
struct CameraSnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Save one frame as JPEG or PNG (by the file extension), optionally with the detected faces outlined."
    )

    @OptionGroup var capture: CameraCaptureOptions

    @Option(name: .long, help: "Output file (.jpg, .jpeg or .png).")
    var out: String

    @Flag(name: .long, help: "Detect faces (YuNet) and draw their boxes.")
    var faces = false

    @Option(name: .long, help: "The YuNet model for --faces.")
    var model: String = FaceDetectorConfig.defaultModelPath

    @Option(name: .long, help: "Frames to skip first, so exposure settles (device only).")
    var skip: Int = 5

    func validate() throws {
        let ext = (out as NSString).pathExtension.lowercased()
        guard ["jpg", "jpeg", "png"].contains(ext) else { throw ValidationError("--out must end in .jpg, .jpeg or .png, got '\(out)'") }
        guard skip >= 0 else { throw ValidationError("--skip must not be negative") }
    }

    func run() async throws {
        let (source, describe, held) = try capture.makeSource()
        var detector: FaceDetector?
        if faces {
            do {
                detector = try FaceDetector(config: FaceDetectorConfig(modelPath: model))
            } catch {
                throw ValidationError("--faces: \(error)")
            }
        }
        var seen = 0
        var picked: Frame?
        let toSkip = source is ReplaySource ? 0 : skip
        let ok = try await consumeFrames(source, timeout: capture.timeout, giveUpWhen: held) { frame in
            seen += 1
            if seen > toSkip {
                picked = frame
                return false
            }
            return true
        }
        guard var frame = picked else {
            if held() { throw CtlError.runtime(describe()) }
            throw CtlError.runtime("no frame within \(capture.timeout) s (\(ok ? "source ended" : "timed out")); \(describe())")
        }
        var faceCount = 0
        if let detector {
            let found = try detector.detect(frame)
            faceCount = found.count
            for f in found {
                FrameDrawing.drawRectangle(&frame, x: Int(f.box.x.rounded()), y: Int(f.box.y.rounded()),
                                           width: Int(f.box.width.rounded()), height: Int(f.box.height.rounded()), thickness: 2)
            }
        }
        let png = (out as NSString).pathExtension.lowercased() == "png"
        try writeAtomically(try encode(frame, png: png), to: out)
        print("wrote \(out): \(frame.width)x\(frame.height) sequence \(frame.sequence)" + (faces ? ", \(faceCount) face\(faceCount == 1 ? "" : "s")" : ""))
        print(describe())
    }
}

/// `camera record --seconds N --out DIR`: frames as numbered JPEG files, ready for `--replay`.
struct CameraRecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Save N seconds of frames as numbered JPEG files in DIR, for replay (the daemon's replay source, --replay)."
    )

    @OptionGroup var capture: CameraCaptureOptions

    @Option(name: .long, help: "How long to record.")
    var seconds: Double

    @Option(name: .long, help: "Output directory (created if missing; must not already hold frames).")
    var out: String

    @Option(name: .long, help: "JPEG quality 1–100.")
    var quality: Int = 90

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in 0…3600, got \(seconds)") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be in 1…100, got \(quality)") }
    }

    func run() async throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CtlError.runtime("cannot create \(out): \(error.localizedDescription)")
        }
        if let existing = try? ReplaySource.listImages(in: out), !existing.isEmpty {
            throw ValidationError("\(out) already holds \(existing.count) images; choose an empty directory")
        }
        let (source, describe, held) = try capture.makeSource()
        let start = Date()
        var written = 0
        let ok = try await consumeFrames(source, timeout: capture.timeout, giveUpWhen: held) { frame in
            if -start.timeIntervalSinceNow >= seconds { return false }
            let name = String(format: "frame-%06d.jpg", written)
            try writeAtomically(try encode(frame, png: false, quality: quality), to: (out as NSString).appendingPathComponent(name))
            written += 1
            return true
        }
        if !ok && written == 0 {
            if held() { throw CtlError.runtime(describe()) }
            throw CtlError.runtime("no frame within \(capture.timeout) s; \(describe())")
        }
        print("recorded \(written) frames in \(String(format: "%.1f", -start.timeIntervalSinceNow)) s to \(out)")
        print(describe())
    }
}

/// `camera bench`: the capture path's own cost per frame (drain, checks, conversion or MJPEG decode, Frame copy)
/// over an in-memory device, so the figure excludes the kernel and USB. Used by Tests/Benchmarks/camera-bench.sh.
struct CameraBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure capture + conversion cost per frame over an in-memory V4L2 device (prints markdown rows).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "YUYV or MJPEG.")
    var format: String = "YUYV"

    @Option(name: .long, help: "Output layout: bgr or gray.")
    var output: String = "bgr"

    @Option(name: .long) var width: Int = 640
    @Option(name: .long) var height: Int = 480

    @Option(name: .long, help: "Frames for the throughput run.")
    var frames: Int = 300

    @Option(name: .long, help: "Paced run: frames per second and seconds (CPU %).")
    var fps: Int = 15
    @Option(name: .long) var seconds: Double = 4

    func validate() throws {
        guard let f = CameraPixelFormat(name: format), f != .grey else { throw ValidationError("--format must be YUYV or MJPEG") }
        guard ["bgr", "gray"].contains(output) else { throw ValidationError("--output must be bgr or gray") }
        guard frames > 0, fps > 0, seconds > 0 else { throw ValidationError("--frames, --fps and --seconds must be positive") }
    }

    func run() async throws {
        let fmt = CameraPixelFormat(name: format)!
        let layout: PixelLayout = output == "gray" ? .gray8 : .bgr24
        let payload = try Self.payload(fmt, width: width, height: height)
        let (wall, cpu, n) = try await measure(fmt, layout, payload, fps: 0, frames: frames, seconds: 600)
        let label = "camera \(fmt == .mjpeg ? "MJPEG" : "YUYV") \(width)x\(height) → \(output)"
        print("| \(label): capture+conversion | \(String(format: "%.3f", wall * 1000 / Double(n))) | ms/frame (wall, \(n) frames) |")
        print("| \(label): capture+conversion CPU | \(String(format: "%.3f", cpu * 1000 / Double(n))) | ms CPU/frame |")
        let (pWall, pCPU, pn) = try await measure(fmt, layout, payload, fps: Double(fps), frames: Int.max, seconds: seconds)
        print("| \(label): CPU at \(fps) fps | \(String(format: "%.1f", pCPU / pWall * 100)) | % of one core (\(pn) frames in \(String(format: "%.1f", pWall)) s) |")
        if fmt == .mjpeg { print("note: MJPEG payload is a \(payload.count)-byte quality-85 JPEG of a noisy 640x480 scene (a hard case)") }
    }

    /// A deterministic noisy scene: gradients plus pseudo-random texture (JPEG-hostile, like a real sensor).
    static func payload(_ format: CameraPixelFormat, width: Int, height: Int) throws -> [UInt8] {
        var seed: UInt32 = 12345
        func noise() -> Int {
            seed = seed &* 1_103_515_245 &+ 12345
            return Int((seed >> 16) & 31) - 16
        }
        switch format {
        case .mjpeg:
            var bgr = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    let o = (y * width + x) * 3
                    bgr[o] = UInt8(clamping: x * 255 / width + noise())
                    bgr[o + 1] = UInt8(clamping: y * 255 / height + noise())
                    bgr[o + 2] = UInt8(clamping: 128 + noise())
                }
            }
            return try ImageCodec.encode(bgr, width: width, height: height, channels: 3, quality: 85)
        default:
            var yuyv = [UInt8](repeating: 128, count: width * height * 2)
            for y in 0..<height {
                for x in 0..<width {
                    let o = (y * width + x) * 2
                    yuyv[o] = UInt8(clamping: 16 + (x + y) * 219 / (width + height) + noise())
                    yuyv[o + 1] = UInt8(clamping: (x & 1 == 0 ? 100 : 160) + noise())
                }
            }
            return yuyv
        }
    }

    private func measure(_ format: CameraPixelFormat, _ layout: PixelLayout, _ payload: [UInt8], fps: Double, frames: Int, seconds: Double) async throws -> (Double, Double, Int) {
        let opener = SyntheticV4L2DeviceOpener(format: format, width: width, height: height, payload: payload, fps: fps)
        var settings = CameraSettings(device: "synthetic")
        settings.formats = [format]
        settings.width = width
        settings.height = height
        settings.fps = max(1, Int(fps))
        settings.output = layout
        settings.warmupFrames = 0
        var logger = Logger(label: "checkpointd.camera.bench")
        logger.logLevel = .error
        return await withCheckedContinuation { (done: CheckedContinuation<(Double, Double, Int), Never>) in
            let thread = Thread { [settings, logger] in
                let engine = V4L2CaptureEngine(settings: settings, opener: opener, logger: logger)
                var count = 0
                let cpu0 = Self.cpuSeconds()
                let start = Date()
                engine.run { _ in
                    count += 1
                    if count >= frames || -start.timeIntervalSinceNow >= seconds { engine.cancellation.cancel() }
                }
                done.resume(returning: (-start.timeIntervalSinceNow, Self.cpuSeconds() - cpu0, count))
            }
            thread.start()
        }
    }

    /// CPU time (user + system) of the whole process.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

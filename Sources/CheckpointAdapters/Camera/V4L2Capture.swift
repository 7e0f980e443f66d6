#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import Logging
import Synchronization

/// A snapshot of a camera's state for health reporting.
public struct CameraStatus: Sendable, Equatable {
    public var device: String
    public var health: CameraHealth
    public var format: NegotiatedFormat?
    public var counters: CameraCounters
    public var lastError: String?
    /// The fault behind `lastError` (e.g. `.busy`: another process, usually the daemon, holds the camera).
    public var lastFault: CameraFault?
    public var controlReports: [CameraControlReport]

    public init(device: String) {
        self.device = device
        health = .starting
        format = nil
        counters = CameraCounters()
        lastError = nil
        lastFault = nil
        controlReports = []
    }
}

/// Why raw ioctls and not libv4l2's conversion (v4l2_open/v4l2_ioctl with format emulation): libv4l2 would hide
/// the camera's native format (an app asking for BGR24 silently gets MJPEG decoded or YUYV converted inside every
/// DQBUF), add a full decode + colour conversion per frame on the capture thread even for frames the newest-only
/// policy then drops, turn early decode errors into hidden EAGAIN retries and repeated ones into EIO, and can pass
/// short frames as full size. We negotiate the native format ourselves, drop stale frames *before* converting,
/// take YUYV's Y plane as gray with no arithmetic, and decode MJPEG only for the one frame that goes on, with
/// our own SOI/EOI/size checks and counters. What we give up: libv4l2's default Huffman tables for DHT-less MJPEG
/// (OpenCV's libjpeg decoder handles those too) and its support for exotic vendor formats (we need only
/// YUYV/MJPEG/GREY, which every UVC camera offers).
///
/// The V4L2 capture loop: open, negotiate, stream through mmap, deliver only the newest frame, and climb
/// the reconnect ladder (`ReconnectLadder`, camera schedule) whenever something goes wrong. It never gives up.
///
/// `run` blocks: create the engine on the dedicated thread that runs it (`V4L2Camera` does), so it is not `Sendable`
/// and needs no lock; other threads see only what `onStatus` publishes and the `cancellation`. Everything
/// device-facing goes through `V4L2Device`, so a scripted fake can drive every branch.
public final class V4L2CaptureEngine {
    public let settings: CameraSettings
    private let opener: any V4L2DeviceOpener
    public let cancellation: CaptureCancellation
    private let logger: Logger
    private let sleeper: (Double) -> Bool
    private let now: () -> UInt64

    private var ladder: ReconnectLadder
    private var device: (any V4L2Device)?
    private var bufferCount = 0
    private var format: NegotiatedFormat?
    private var sequence = SequenceTracker()
    private var framesSinceStreamOn = 0

    private let onStatus: (CameraStatus) -> Void
    /// The current status (on the engine's thread; other threads get it through `onStatus`).
    public private(set) var status: CameraStatus {
        didSet { onStatus(status) }
    }

    /// - Parameters:
    ///   - sleeper: waits the given seconds; returns false when cancelled (default: the cancellation's sleep).
    ///   - random: uniform [0, 1) numbers for backoff jitter.
    ///   - onStatus: called (on the engine's thread) with every status change.
    public init(
        settings: CameraSettings,
        opener: any V4L2DeviceOpener = SystemV4L2DeviceOpener(),
        cancellation: CaptureCancellation = CaptureCancellation(),
        logger: Logger = Logger(label: "checkpointd.camera"),
        sleeper: ((Double) -> Bool)? = nil,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        monotonicNanos: @escaping () -> UInt64 = { monotonicNanos() },
        onStatus: @escaping (CameraStatus) -> Void = { _ in }
    ) {
        self.settings = settings
        self.opener = opener
        self.cancellation = cancellation
        self.logger = logger
        self.sleeper = sleeper ?? { [cancellation] in cancellation.sleep(seconds: $0) }
        self.now = monotonicNanos
        ladder = ReconnectLadder(schedule: .camera(minimumBackoff: settings.backoffMinSeconds, maximumBackoff: settings.backoffMaxSeconds), random: random)
        self.onStatus = onStatus
        status = CameraStatus(device: settings.device)
    }

    private func update(_ body: (inout CameraStatus) -> Void) {
        body(&status)
    }

    /// Captures until cancelled, handing each delivered frame to `deliver` (on this thread).
    /// Returns only after `cancellation.cancel()`; every fd is closed and every buffer unmapped on return.
    public func run(deliver: (Frame) -> Void) {
        defer { teardown() }
        var pending: ReconnectAction? = nil
        while !cancellation.isCancelled {
            if let action = pending {
                pending = nil
                if !perform(action) { return }
                continue
            }
            if device == nil {
                do {
                    try openAndStart()
                } catch {
                    pending = fail(classify(error), during: "open")
                }
                continue
            }
            switch step(deliver: deliver) {
            case .ok: continue
            case .cancelled: return
            case .fault(let fault): pending = fail(fault, during: "capture")
            }
        }
    }

    // MARK: - Ladder

    private func fail(_ fault: CameraFault, during phase: String) -> ReconnectAction {
        let action = ladder.handle(fault.reconnectFault)
        update {
            $0.health = .degraded(fault.description)
            $0.lastError = "\(phase): \(fault)"
            $0.lastFault = fault
            switch fault {
            case .timeout: $0.counters.timeouts += 1
            case .disconnected: if phase == "capture" { $0.counters.disconnects += 1 }
            default: break
            }
        }
        switch action {
        case .restart:
            logger.warning("camera \(phase) fault, restarting the stream", metadata: ["fault": "\(fault)"])
        case .reopen(let after):
            logger.warning("camera \(phase) fault, reopening", metadata: ["fault": "\(fault)", "after_s": "\(String(format: "%.2f", after))"])
        }
        return action
    }

    /// Returns false when cancelled.
    private func perform(_ action: ReconnectAction) -> Bool {
        switch action {
        case .restart:
            guard let device else { return true }
            update { $0.counters.streamRestarts += 1 }
            do {
                try? device.streamOff()
                for i in 0..<bufferCount { try device.queueBuffer(index: i) }
                try device.streamOn()
                startedStreaming()
            } catch {
                let next = fail(classify(error), during: "stream restart")
                return perform(next)
            }
            return true
        case .reopen(let after):
            teardown()
            update { $0.counters.reopens += 1 }
            if after > 0 { return sleeper(after) && !cancellation.isCancelled }
            return !cancellation.isCancelled
        }
    }

    // MARK: - Open and configure

    /// Opens the device, checks capabilities, negotiates, applies controls, maps buffers and starts streaming.
    func openAndStart() throws(AdapterError) {
        let dev = try opener.open(path: settings.device, cancellation: cancellation)
        device = dev
        let caps = try dev.queryCapabilities()
        guard caps.videoCapture, caps.streaming else {
            throw AdapterError(.unsupported, "\(settings.device) (\(caps.driver), \(caps.card)) lacks "
                + [caps.videoCapture ? nil : "VIDEO_CAPTURE", caps.streaming ? nil : "STREAMING"].compactMap { $0 }.joined(separator: " and ")
                + " in device_caps; is it a metadata node?")
        }
        var negotiated = try negotiate(dev)
        let rate = try dev.setFrameRate(fps: settings.fps)
        let judged = FormatNegotiation.judgeFrameRate(requested: settings.fps, numerator: rate.numerator, denominator: rate.denominator, supported: rate.supported)
        negotiated.fps = judged.fps
        if let note = judged.coercion { logger.notice("camera frame rate coerced by the driver", metadata: ["coercion": "\(note)"]) }
        format = negotiated
        let reports = applyControls(dev)
        bufferCount = try dev.allocateBuffers(count: settings.buffers)
        if bufferCount < settings.buffers {
            logger.notice("camera granted fewer buffers than asked", metadata: ["asked": "\(settings.buffers)", "granted": "\(bufferCount)"])
        }
        for i in 0..<bufferCount { try dev.queueBuffer(index: i) }
        try dev.streamOn()
        startedStreaming()
        update {
            $0.format = negotiated
            $0.controlReports = reports
        }
        logger.info("camera streaming", metadata: [
            "device": "\(settings.device)", "driver": "\(caps.driver)", "card": "\(caps.card)",
            "format": "\(negotiated)", "buffers": "\(bufferCount)",
        ])
    }

    private func startedStreaming() {
        sequence.reset()
        framesSinceStreamOn = 0
    }

    private func negotiate(_ dev: any V4L2Device) throws(AdapterError) -> NegotiatedFormat {
        let offered: [UInt32]
        do {
            offered = try dev.enumerateFormats().map(\.fourcc)
        } catch where error.code == .disconnected || error.code == .io || error.code == .busy {
            throw error
        } catch {
            offered = []
        }
        let candidates = FormatNegotiation.candidates(preferences: settings.formats, offered: offered)
        var reasons: [String] = []
        for candidate in candidates {
            let answer: DriverFormat
            do {
                answer = try dev.setFormat(fourcc: candidate.fourcc, width: settings.width, height: settings.height)
            } catch where error.code == .ioctl {
                reasons.append("\(candidate): \(error)")
                continue
            }
            switch FormatNegotiation.judge(format: candidate, width: settings.width, height: settings.height, answer: answer) {
            case .accepted(let negotiated, let coercions):
                if !coercions.isEmpty {
                    logger.notice("camera format coerced by the driver", metadata: ["format": "\(candidate)", "coercions": "\(coercions.joined(separator: "; "))"])
                }
                return negotiated
            case .rejected(let why):
                reasons.append(why)
            }
        }
        let offeredText = offered.map(CameraPixelFormat.fourccString).joined(separator: ", ")
        throw AdapterError(.unsupported, "\(settings.device) offers none of the configured formats "
            + "\(settings.formats.map(\.rawValue).joined(separator: ", ")) (device offers: \(offeredText.isEmpty ? "nothing enumerable" : offeredText))"
            + (reasons.isEmpty ? "" : "; " + reasons.joined(separator: "; ")))
    }

    /// Applies the configured controls (mode controls first). Problems are logged and returned, never thrown.
    func applyControls(_ dev: any V4L2Device) -> [CameraControlReport] {
        guard !settings.controls.isEmpty else { return [] }
        let available: [CameraControlInfo]
        do {
            available = try dev.queryControls()
        } catch {
            let reports = settings.controls.map { CameraControlReport(name: $0.name, problem: .refused("cannot list controls: \(error)")) }
            for r in reports { logger.warning("\(r.description)") }
            return reports
        }
        var (steps, reports) = CameraControlPlan.plan(settings.controls, available: available)
        for step in steps {
            do {
                try dev.setControl(id: step.id, value: step.value)
                logger.info("camera control applied", metadata: [
                    "control": "\(step.requestedName)", "driver_name": "\(step.driverName)", "requested": "\(step.requested)", "applied": "\(step.value)",
                ])
            } catch {
                reports.append(CameraControlReport(name: step.requestedName, problem: .refused(error.cause?.description ?? error.message)))
            }
        }
        for r in reports { logger.warning("\(r.description)") }
        return reports
    }

    // MARK: - Streaming

    enum StepResult { case ok, cancelled, fault(CameraFault) }

    /// One poll + drain + deliver.
    func step(deliver: (Frame) -> Void) -> StepResult {
        guard let dev = device, let format else { return .fault(.failed("no device")) }
        switch dev.wait(timeoutMs: settings.frameTimeoutMs) {
        case .cancelled: return .cancelled
        case .timeout: return .fault(.timeout)
        case .hangup: return .fault(.disconnected("POLLHUP"))
        case .error: return .fault(.ioError("POLLERR"))
        case .ready: break
        }
        // Drain: keep only the newest good buffer, give every other one straight back to the driver.
        var newest: V4L2DequeuedBuffer?
        var drained = 0
        var dropped = CameraCounters()
        do {
            while drained < max(bufferCount, 1) * 2, let buffer = try dev.dequeueBuffer() {
                drained += 1
                let missed = sequence.observe(buffer.sequence)
                if missed > 0 {
                    dropped.sequenceGaps += 1
                    dropped.framesMissed += missed
                }
                framesSinceStreamOn += 1
                if buffer.errorFlag {
                    if framesSinceStreamOn <= settings.warmupFrames { dropped.droppedWarmup += 1 } else { dropped.droppedErrorFlag += 1 }
                    try dev.queueBuffer(index: buffer.index)
                    continue
                }
                if let older = newest {
                    dropped.droppedStale += 1
                    try dev.queueBuffer(index: older.index)
                }
                newest = buffer
            }
        } catch {
            merge(dropped)
            if let newest { try? dev.queueBuffer(index: newest.index) }
            return .fault(classify(error))
        }
        guard let buffer = newest else {
            merge(dropped)
            return .ok
        }
        let frame = convert(dev, buffer, format: format, dropped: &dropped)
        do {
            try dev.queueBuffer(index: buffer.index)
        } catch {
            merge(dropped)
            return .fault(classify(error))
        }
        merge(dropped)
        if let frame {
            ladder.succeeded()
            update {
                $0.counters.delivered += 1
                $0.health = .streaming
            }
            deliver(frame)
        }
        return .ok
    }

    private func merge(_ d: CameraCounters) {
        update {
            $0.counters.droppedStale += d.droppedStale
            $0.counters.droppedErrorFlag += d.droppedErrorFlag
            $0.counters.droppedWarmup += d.droppedWarmup
            $0.counters.droppedCorrupt += d.droppedCorrupt
            $0.counters.sequenceGaps += d.sequenceGaps
            $0.counters.framesMissed += d.framesMissed
        }
    }

    private func convert(_ dev: any V4L2Device, _ buffer: V4L2DequeuedBuffer, format: NegotiatedFormat, dropped: inout CameraCounters) -> Frame? {
        let inWarmup = framesSinceStreamOn <= settings.warmupFrames
        let stamp = buffer.timestampNanos > 0 ? buffer.timestampNanos : now()
        let result: Result<Frame, CameraFrameError> = dev.withBuffer(index: buffer.index, length: buffer.bytesUsed) { bytes in
            Self.makeFrame(bytes, format: format, output: settings.output, minimumJPEGBytes: settings.minimumJPEGBytes,
                           sequence: UInt64(buffer.sequence), monotonicNanos: stamp)
        }
        switch result {
        case .success(let frame):
            return frame
        case .failure(let problem):
            if inWarmup { dropped.droppedWarmup += 1 } else { dropped.droppedCorrupt += 1 }
            logger.debug("camera frame dropped", metadata: ["sequence": "\(buffer.sequence)", "reason": "\(problem.message)"])
            return nil
        }
    }

    /// Turns one captured buffer into a `Frame`: YUYV/GREY through `FrameConversion`, MJPEG checked then decoded.
    public static func makeFrame(
        _ bytes: UnsafeRawBufferPointer, format: NegotiatedFormat, output: PixelLayout, minimumJPEGBytes: Int,
        sequence: UInt64, monotonicNanos: UInt64
    ) -> Result<Frame, CameraFrameError> {
        switch format.format {
        case .yuyv, .grey:
            do {
                let pixels = try FrameConversion.convert(bytes, format: format.format, width: format.width, height: format.height,
                                                         bytesPerLine: format.bytesPerLine, to: output)
                return .success(Frame(width: format.width, height: format.height, layout: output, pixels: pixels,
                                      sequence: sequence, monotonicNanos: monotonicNanos))
            } catch {
                return .failure(CameraFrameError(message: error.message))
            }
        case .mjpeg:
            let check = MJPEGValidation.check(bytes, minimumBytes: minimumJPEGBytes)
            guard case .valid(let length) = check else { return .failure(CameraFrameError(message: "MJPEG \(check)")) }
            do {
                // Refused from the header when larger than negotiated: a broken camera cannot make us allocate 200 MB.
                let image = try ImageCodec.decode(Array(bytes.prefix(length)), gray: output == .gray8,
                                                  maxWidth: format.width, maxHeight: format.height)
                return .success(Frame(width: image.width, height: image.height, layout: output, pixels: image.pixels,
                                      sequence: sequence, monotonicNanos: monotonicNanos))
            } catch {
                return .failure(CameraFrameError(message: "MJPEG decode: \(error)"))
            }
        }
    }

    // MARK: - Teardown and errors

    /// STREAMOFF (errors ignored: the device may be gone), munmap, REQBUFS(0), close.
    func teardown() {
        guard let dev = device else { return }
        try? dev.streamOff()
        dev.releaseBuffers()
        dev.close()
        device = nil
        bufferCount = 0
        format = nil
    }

    /// The camera's reading of an error: `AdapterError(errno:_:_:)` has already classified the errno into the code.
    func classify(_ error: any Error) -> CameraFault {
        guard let e = error as? AdapterError else { return .failed("\(error)") }
        switch e.code {
        case .disconnected: return .disconnected(e.description)
        case .busy: return .busy(e.description)
        case .io: return .ioError(e.description)
        case .timeout: return .timeout
        default: return .failed(e.description)
        }
    }
}

/// Why a buffer did not become a frame.
public struct CameraFrameError: Error, Sendable, Equatable {
    public var message: String
}

/// The V4L2 camera as a `FrameSource`: runs `V4L2CaptureEngine` on its own thread and hands the consumer
/// only the newest frame (a one-slot mailbox: a slow consumer never sees a backlog).
///
/// The engine is created on that thread; what is shared is the `Mutex` of the status it publishes and the
/// thread's `CaptureCancellation`.
public final class V4L2Camera: FrameSource, Sendable {
    public let settings: CameraSettings
    private let opener: any V4L2DeviceOpener
    private let logger: Logger
    /// The running engine's last published status.
    private let shared = Mutex<CameraStatus?>(nil)

    public init(settings: CameraSettings, opener: any V4L2DeviceOpener = SystemV4L2DeviceOpener(), logger: Logger = Logger(label: "checkpointd.camera")) {
        self.settings = settings
        self.opener = opener
        self.logger = logger
    }

    public var description: String { "V4L2 camera \(settings.device)" }

    /// The running engine's status (or a `.starting` status before `frames()` is called).
    public var status: CameraStatus {
        shared.withLock { $0 } ?? CameraStatus(device: settings.device)
    }

    /// Starts capturing on a dedicated thread; ending the stream (or dropping its consumer) stops it. The stream
    /// carries each health change (`.health`) between the frames. Call once per camera: a second concurrent call
    /// would find the device busy.
    public func events() -> AsyncStream<CameraEvent> {
        let cancellation = CaptureCancellation()
        let starting = CameraStatus(device: settings.device)
        shared.withLock { $0 = starting }
        let (stream, continuation) = AsyncStream<CameraEvent>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in cancellation.cancel() }
        let thread = Thread { [self] in
            // On this thread only: the health last put on the stream, so only changes are.
            var announced = starting.health
            let engine = V4L2CaptureEngine(settings: settings, opener: opener, cancellation: cancellation, logger: logger,
                                           onStatus: { status in
                                               self.shared.withLock { $0 = status }
                                               if status.health != announced {
                                                   announced = status.health
                                                   continuation.yield(.health(status.health))
                                               }
                                           })
            engine.run { frame in continuation.yield(.frame(frame)) }
            continuation.finish()
        }
        thread.name = "camera-capture"
        thread.start()
        return stream
    }
}

import CheckpointAdapters
import CheckpointCore
@testable import CheckpointServices
import Foundation
import InMemoryLogging
import Logging
import Prometheus
import Synchronization

// Stand-ins at the hardware boundary only (camera, detector, sensor, systemd); the hub, health board,
// metrics registry and SQLite queue are the real ones.

/// A monotonic clock the test moves by hand; counts how often it was read (the supervisor reads it each tick).
final class TestClock: Sendable {
    private let nanos = Mutex<UInt64>(1_000_000_000)
    let reads = Mutex(0)
    func now() -> UInt64 {
        reads.withLock { $0 += 1 }
        return nanos.withLock { $0 }
    }
    func advance(seconds: Double) { nanos.withLock { $0 += UInt64(seconds * 1e9) } }
}

/// A camera that yields the given frames, then either ends or stays open until the consumer stops listening.
final class ScriptedFrameSource: FrameSource {
    let description = "scripted camera"
    private let script: [Frame]
    private let endAfterScript: Bool
    /// Set when the consumer's stream ended (the camera would release its device then).
    let released = Mutex(false)

    init(frames: Int, endAfterScript: Bool) {
        script = (1...frames).map { i in
            Frame(width: 4, height: 4, layout: .bgr24, pixels: [UInt8](repeating: 0, count: 48), sequence: UInt64(i), monotonicNanos: UInt64(i) * 1_000_000)
        }
        self.endAfterScript = endAfterScript
    }

    func events() -> AsyncStream<CameraEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: CameraEvent.self, bufferingPolicy: .unbounded)
        for frame in script { continuation.yield(.frame(frame)) }
        continuation.onTermination = { _ in self.released.withLock { $0 = true } }
        if endAfterScript { continuation.finish() }
        return stream
    }
}

/// A camera driven by the test, event by event, as the V4L2 camera's capture thread drives its stream (frames, and
/// health changes when the device is lost and comes back).
final class ControlledCamera: FrameSource {
    let description = "controlled camera"
    private let continuation = Mutex<AsyncStream<CameraEvent>.Continuation?>(nil)
    func events() -> AsyncStream<CameraEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: CameraEvent.self, bufferingPolicy: .unbounded)
        self.continuation.withLock { $0 = continuation }
        return stream
    }
    var isListening: Bool { continuation.withLock { $0 != nil } }
    func send(_ event: CameraEvent) { continuation.withLock { _ = $0?.yield(event) } }
    static func frame(_ sequence: UInt64) -> Frame {
        Frame(width: 4, height: 4, layout: .bgr24, pixels: [UInt8](repeating: 0, count: 48), sequence: sequence,
              monotonicNanos: sequence * 1_000_000)
    }
}

/// A detector that finds no face, and fails on the frames whose sequence numbers it is given.
final class ScriptedDetector: FaceDetecting {
    let kindName = "scripted"
    private let failing: Set<UInt64>
    let detected = Mutex<[UInt64]>([])
    let shutdowns = Mutex(0)
    init(failingOn failing: Set<UInt64>) { self.failing = failing }

    func detect(_ frame: Frame) async throws -> FaceDetections {
        detected.withLock { $0.append(frame.sequence) }
        if failing.contains(frame.sequence) { throw AdapterError(.io, "scripted detection failure") }
        return FaceDetections(frameSequence: frame.sequence, monotonicNanos: frame.monotonicNanos,
                              frameWidth: frame.width, frameHeight: frame.height, faces: [], milliseconds: 1)
    }

    func shutdown() async { shutdowns.withLock { $0 += 1 } }
}

/// A thermal sensor that sends the given events, then either ends or stays open until `stop()`.
final class ScriptedSensor: SensorEventSource {
    private let events: [SensorEvent]
    private let endAfterScript: Bool
    private let continuation = Mutex<AsyncStream<SensorEvent>.Continuation?>(nil)
    let stops = Mutex(0)

    init(_ events: [SensorEvent], endAfterScript: Bool) {
        self.events = events
        self.endAfterScript = endAfterScript
    }

    func start() -> AsyncStream<SensorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SensorEvent.self, bufferingPolicy: .unbounded)
        for event in events { continuation.yield(event) }
        if endAfterScript { continuation.finish() }
        self.continuation.withLock { $0 = continuation }
        return stream
    }

    /// Like the serial link: the reader thread ends and with it the stream.
    func stop() {
        stops.withLock { $0 += 1 }
        continuation.withLock { $0?.finish() }
    }
}

/// Records what would have gone to systemd's notification socket.
final class RecordingNotifier: ServiceNotifier {
    let sent = Mutex<[String]>([])
    func ready(status: String?) throws(AdapterError) { record("READY=1" + (status.map { "\nSTATUS=\($0)" } ?? "")) }
    func reloading(monotonicMicros: UInt64) throws(AdapterError) { record("RELOADING=1") }
    func stopping() throws(AdapterError) { record("STOPPING=1") }
    func watchdog() throws(AdapterError) { record("WATCHDOG=1") }
    func status(_ text: String) throws(AdapterError) { record("STATUS=\(text)") }
    private func record(_ message: String) { sent.withLock { $0.append(message) } }
    var messages: [String] { sent.withLock { $0 } }
    func count(_ prefix: String) -> Int { messages.filter { $0.hasPrefix(prefix) }.count }
}

enum Fixtures {
    static func hub() -> ScreeningHub {
        var config = ScreeningConfig()
        config.warmUpSeconds = 0
        let engine = ScreeningEngine(config: config, calibration: .uncalibrated,
                                     registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                     sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM-1"))
        return ScreeningHub(engine: engine, clock: { DispatchTime.now().uptimeNanoseconds }, encodeSnapshot: { _ in nil })
    }

    static func metrics() -> PipelineMetrics { PipelineMetrics(registry: PrometheusCollectorRegistry()) }

    /// One sample's value in the registry's exposition text, as GET /metrics serves it.
    static func value(_ name: String, in metrics: PipelineMetrics) -> Double? {
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last!)
        }
        return nil
    }

    static func logger() -> (Logger, InMemoryLogHandler) {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .trace
        return (logger, handler)
    }

    static func thermalFrame(ambient: Double = 24) -> ThermalFrame {
        ThermalFrame(width: 32, height: 24, pixels: [Float](repeating: 30, count: 32 * 24), ambientC: ambient)
    }

    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "services-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Waits (yielding, bounded) until `condition` holds; the tests assert on what happened, not on how fast.
    static func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<2000 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return await condition()
    }
}

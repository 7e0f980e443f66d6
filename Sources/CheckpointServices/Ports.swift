import CheckpointAdapters
import CheckpointCore

// The small seams the services need so a test can stand in for hardware (camera, detector, sensor, systemd).
// The daemon passes the real adapters; each conforms below without any change to its own module.

/// Finds faces in a frame (the daemon: `DetectionWorker`, OpenCV on its own thread).
public protocol FaceDetecting: Sendable {
    /// What is detecting, for logs ("yunet", "haar").
    var kindName: String { get }
    func detect(_ frame: Frame) async throws -> FaceDetections
    /// Releases the detector; called once when the vision loop ends.
    func shutdown() async
}

/// A thermal sensor as a stream of events (the daemon: `ThermalSensorLink`, serial on its own thread).
public protocol SensorEventSource: Sendable {
    /// Starts reading; the stream ends after `stop()`.
    func start() -> AsyncStream<SensorEvent>
    func stop()
}

/// systemd's notification socket (the daemon: `SystemdNotifier`).
public protocol ServiceNotifier: Sendable {
    func ready(status: String?) throws(AdapterError)
    func reloading(monotonicMicros: UInt64) throws(AdapterError)
    func stopping() throws(AdapterError)
    func watchdog() throws(AdapterError)
    func status(_ text: String) throws(AdapterError)
}

extension DetectionWorker: FaceDetecting {
    public var kindName: String { kind.rawValue }
}

extension ThermalSensorLink: SensorEventSource {}

extension SystemdNotifier: ServiceNotifier {}

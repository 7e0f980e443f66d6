import CheckpointCore
import Metrics

/// The pipeline's own metrics (swift-metrics, exported in Prometheus text at GET /metrics next to the
/// uplink's queue and upload metrics).
struct PipelineMetrics: Sendable {
    let frames = Counter(label: "checkpointd_camera_frames_total")
    let detectionSeconds = Timer(label: "checkpointd_detection_seconds")
    let detectionErrors = Counter(label: "checkpointd_detection_errors_total")
    let thermalFrames = Counter(label: "checkpointd_sensor_frames_total")
    let thermalErrors = Counter(label: "checkpointd_sensor_errors_total")
    let cameraFPS = Gauge(label: "checkpointd_camera_fps")

    /// Person ready (the camera frame in which the face first became ready) → screening result.
    let lastLatency = Gauge(label: "checkpointd_screening_last_latency_seconds")
    /// The thermal frames the last result used, and their own time (count × the sensor's measured period).
    let lastThermalFrames = Gauge(label: "checkpointd_screening_last_thermal_frames")
    let lastThermalSeconds = Gauge(label: "checkpointd_screening_last_thermal_frames_seconds")
    /// Latency minus the thermal frames' own time (may be negative: see `ScreeningTiming`).
    let lastOverhead = Gauge(label: "checkpointd_screening_last_overhead_seconds")

    func screening(outcome: String) -> Counter {
        Counter(label: "checkpointd_screenings_total", dimensions: [("result", outcome)])
    }

    func latency(outcome: String) -> Timer {
        Timer(label: "checkpointd_screening_latency_seconds", dimensions: [("result", outcome)])
    }

    /// The gauges first, then the histogram: a reader that sees the count grow reads this result's gauges.
    func record(_ timing: ScreeningTiming) {
        lastLatency.record(Double(timing.readyToResultNanos) / 1e9)
        lastThermalFrames.record(Double(timing.thermalFrames))
        lastThermalSeconds.record(timing.thermalFramesNanos.map { Double($0) / 1e9 } ?? .nan)
        lastOverhead.record(timing.overheadNanos.map { Double($0) / 1e9 } ?? .nan)
        latency(outcome: timing.outcome.rawValue).recordNanoseconds(Int64(clamping: timing.readyToResultNanos))
    }
}

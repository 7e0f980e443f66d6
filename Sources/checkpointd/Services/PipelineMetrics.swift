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

    func screening(outcome: String) -> Counter {
        Counter(label: "checkpointd_screenings_total", dimensions: [("result", outcome)])
    }
}

import CheckpointAdapters
import CheckpointCore
import Prometheus

/// The pipeline's own metrics, on the registry served at GET /metrics next to the uplink's queue and upload metrics.
/// Names and help texts: `MetricCatalog`.
public struct PipelineMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let frames: Counter
    public let detectionSeconds: DurationHistogram
    public let detectionErrors: Counter
    public let thermalFrames: Counter
    public let thermalErrors: Counter
    public let cameraFPS: Gauge
    public let sensorUp: Gauge
    public let sensorAmbient: Gauge

    /// Person ready (the camera frame in which the face first became ready) → screening result.
    public let lastLatency: Gauge
    /// The thermal frames the last result used, and their own time (count × the sensor's measured period).
    public let lastThermalFrames: Gauge
    public let lastThermalSeconds: Gauge
    /// Latency minus the thermal frames' own time (may be negative: see `ScreeningTiming`).
    public let lastOverhead: Gauge

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        frames = registry.counter(MetricCatalog.cameraFrames)
        detectionSeconds = registry.durationHistogram(MetricCatalog.detectionSeconds)
        detectionErrors = registry.counter(MetricCatalog.detectionErrors)
        thermalFrames = registry.counter(MetricCatalog.sensorFrames)
        thermalErrors = registry.counter(MetricCatalog.sensorErrors)
        cameraFPS = registry.gauge(MetricCatalog.cameraFPS)
        sensorUp = registry.gauge(MetricCatalog.sensorUp)
        sensorAmbient = registry.gauge(MetricCatalog.sensorAmbient)
        lastLatency = registry.gauge(MetricCatalog.lastLatency)
        lastThermalFrames = registry.gauge(MetricCatalog.lastThermalFrames)
        lastThermalSeconds = registry.gauge(MetricCatalog.lastThermalSeconds)
        lastOverhead = registry.gauge(MetricCatalog.lastOverhead)
    }

    public func screening(outcome: String) -> Counter {
        registry.counter(MetricCatalog.screenings, [("result", outcome)])
    }

    public func latency(outcome: String) -> DurationHistogram {
        registry.durationHistogram(MetricCatalog.screeningLatency, [("result", outcome)])
    }

    /// The gauges first, then the histogram: a reader that sees the count grow reads this result's gauges.
    public func record(_ timing: ScreeningTiming) {
        lastLatency.set(Double(timing.readyToResultNanos) / 1e9)
        lastThermalFrames.set(Double(timing.thermalFrames))
        lastThermalSeconds.set(timing.thermalFramesNanos.map { Double($0) / 1e9 } ?? .nan)
        lastOverhead.set(timing.overheadNanos.map { Double($0) / 1e9 } ?? .nan)
        latency(outcome: timing.outcome.rawValue).recordNanoseconds(Int64(clamping: timing.readyToResultNanos))
    }
}

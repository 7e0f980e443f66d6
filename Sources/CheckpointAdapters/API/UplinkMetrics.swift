import Foundation
import Prometheus

/// Prometheus metrics for the declaration API, the queue and the uploader, served at `GET /metrics`.
/// Other parts of the daemon can register their own metrics on `registry`.
public final class UplinkMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let declarationsAccepted: Counter
    let declarationsRejected: Counter
    let declarationsRefusedFull: Counter
    let queuePending: Gauge
    let queueDead: Gauge
    let queueUsedBytes: Gauge
    let queueMaxBytes: Gauge
    let queueOldestAge: Gauge
    let diskFreeBytes: Gauge
    let uploadsDelivered: Gauge
    let uploadsDeadLettered: Gauge
    let uploadFailures: Gauge
    let uploadAlert: Gauge
    let enqueueSeconds: DurationHistogram

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        declarationsAccepted = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "declarations_accepted_total", unitName: "", helpText: "Declarations stored durably."))
        declarationsRejected = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "declarations_rejected_total", unitName: "", helpText: "Declarations refused as bad input (400/413/422)."))
        declarationsRefusedFull = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "declarations_refused_full_total", unitName: "", helpText: "Declarations refused because the queue or disk was full (503/507)."))
        queuePending = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_pending", unitName: "", helpText: "Records waiting for upload."))
        queueDead = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_dead_letter", unitName: "", helpText: "Records permanently rejected by the server."))
        queueUsedBytes = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_used_bytes", unitName: "", helpText: "Bytes used by the queue database."))
        queueMaxBytes = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_max_bytes", unitName: "", helpText: "The queue's configured size limit in bytes."))
        queueOldestAge = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_oldest_pending_age", unitName: "seconds", helpText: "Age of the oldest record waiting for upload (0 when none)."))
        diskFreeBytes = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "queue_disk_free_bytes", unitName: "", helpText: "Free bytes on the queue's filesystem."))
        uploadsDelivered = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "uploads_delivered", unitName: "", helpText: "Records delivered since start."))
        uploadsDeadLettered = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "uploads_dead_lettered", unitName: "", helpText: "Records dead-lettered since start."))
        uploadFailures = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "upload_failed_attempts", unitName: "", helpText: "Failed upload attempts since start."))
        uploadAlert = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "upload_alert", unitName: "", helpText: "1 when the uploader needs attention (401/403, certificate, no receipt, rejections in a row, dead letters)."))
        enqueueSeconds = registry.makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: "checkpointd", metricName: "enqueue", unitName: "seconds", helpText: "Time to store a declaration durably."), buckets: [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ])
    }

    func update(queue: QueueStatus?, uploader: UploaderStatus?, now: Date = Date()) {
        if let queue {
            queuePending.set(Double(queue.pending))
            queueDead.set(Double(queue.dead))
            queueUsedBytes.set(Double(queue.usedBytes))
            queueMaxBytes.set(Double(queue.maxBytes))
            queueOldestAge.set(queue.oldestPendingAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
            diskFreeBytes.set(Double(queue.freeDiskBytes))
        }
        if let uploader {
            uploadsDelivered.set(Double(uploader.delivered))
            uploadsDeadLettered.set(Double(uploader.deadLettered))
            uploadFailures.set(Double(uploader.failedAttempts))
            uploadAlert.set(Double(uploader.attention == nil ? 0 : 1))
        }
    }

    public func render() -> String { registry.emitToString() }
}

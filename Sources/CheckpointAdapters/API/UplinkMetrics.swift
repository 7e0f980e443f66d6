import CheckpointCore
import Foundation
import Prometheus
import Synchronization

/// Prometheus metrics for the declaration API, the queue and the uploader, served at `GET /metrics`.
/// Other parts of the daemon register their own metrics on `registry` through `MetricCatalog` definitions (so each has
/// its `# HELP` text), and `setRefresh` lets the daemon update its state gauges just before each scrape.
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
    let uploadsDelivered: Counter
    let uploadsDeadLettered: Counter
    let uploadFailures: Counter
    let uploadAlert: Gauge
    let enqueueSeconds: DurationHistogram
    /// The uploader's since-start counts already added to the counters (a scrape adds what they grew by).
    private let counted = Mutex((delivered: 0, deadLettered: 0, failedAttempts: 0))
    private let refresh = Mutex<(@Sendable () async -> Void)?>(nil)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        declarationsAccepted = registry.counter(MetricCatalog.declarationsAccepted)
        declarationsRejected = registry.counter(MetricCatalog.declarationsRejected)
        declarationsRefusedFull = registry.counter(MetricCatalog.declarationsRefusedFull)
        queuePending = registry.gauge(MetricCatalog.queuePending)
        queueDead = registry.gauge(MetricCatalog.queueDead)
        queueUsedBytes = registry.gauge(MetricCatalog.queueUsedBytes)
        queueMaxBytes = registry.gauge(MetricCatalog.queueMaxBytes)
        queueOldestAge = registry.gauge(MetricCatalog.queueOldestAge)
        diskFreeBytes = registry.gauge(MetricCatalog.diskFreeBytes)
        uploadsDelivered = registry.counter(MetricCatalog.uploadsDelivered)
        uploadsDeadLettered = registry.counter(MetricCatalog.uploadsDeadLettered)
        uploadFailures = registry.counter(MetricCatalog.uploadFailures)
        uploadAlert = registry.gauge(MetricCatalog.uploadAlert)
        enqueueSeconds = registry.durationHistogram(MetricCatalog.enqueueSeconds, buckets: [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ])
    }

    /// Run `update` before each scrape (the daemon's state gauges: sensor, warm-up, calibration age).
    public func setRefresh(_ update: @escaping @Sendable () async -> Void) {
        refresh.withLock { $0 = update }
    }

    func refreshState() async {
        if let update = refresh.withLock({ $0 }) { await update() }
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
            let grown = counted.withLock { c -> (Int, Int, Int) in
                defer { c = (uploader.delivered, uploader.deadLettered, uploader.failedAttempts) }
                return (max(0, uploader.delivered - c.delivered), max(0, uploader.deadLettered - c.deadLettered),
                        max(0, uploader.failedAttempts - c.failedAttempts))
            }
            if grown.0 > 0 { uploadsDelivered.increment(by: Int64(grown.0)) }
            if grown.1 > 0 { uploadsDeadLettered.increment(by: Int64(grown.1)) }
            if grown.2 > 0 { uploadFailures.increment(by: Int64(grown.2)) }
            uploadAlert.set(Double(uploader.attention == nil ? 0 : 1))
            // Absent until the first delivery since start: "never" is not a time.
            if let at = uploader.lastDeliveryAt {
                registry.gauge(MetricCatalog.lastUploadSuccess).set(at.timeIntervalSince1970)
            }
        }
    }

    public func render() -> String { registry.emitToString() }
}

/// Metrics made from their `MetricCatalog` definition, so every one carries its `# HELP` text. (swift-metrics'
/// `Counter(label:)` cannot pass help text, and the registry refuses one name with two help texts.)
extension PrometheusCollectorRegistry {
    public func counter(_ d: MetricDefinition, _ labels: [(String, String)] = []) -> Counter {
        precondition(d.kind == .counter && labels.map(\.0) == d.labels, "\(d.name): kind or labels differ from its definition")
        return makeCounter(descriptor: d.descriptor, labels: labels)
    }

    public func gauge(_ d: MetricDefinition, _ labels: [(String, String)] = []) -> Gauge {
        precondition(d.kind == .gauge && labels.map(\.0) == d.labels, "\(d.name): kind or labels differ from its definition")
        return makeGauge(descriptor: d.descriptor, labels: labels)
    }

    /// Buckets default to swift-prometheus' own (5 ms … 10 s).
    public func durationHistogram(_ d: MetricDefinition, _ labels: [(String, String)] = [], buckets: [Duration]? = nil) -> DurationHistogram {
        precondition(d.kind == .histogram && labels.map(\.0) == d.labels, "\(d.name): kind or labels differ from its definition")
        return makeDurationHistogram(descriptor: d.descriptor, labels: labels,
                                     buckets: buckets ?? PrometheusMetricsFactory().defaultDurationHistogramBuckets)
    }
}

extension MetricDefinition {
    var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
}

import CheckpointCore
import Foundation
import Prometheus
import Synchronization

/// The daemon's state as metrics: the build, the calibration in use and its age, the sensor's warm-up and the upload
/// client certificate's expiry. Values come from `DaemonMetricValues` (Core); the sensor's up and ambient gauges are
/// set by the thermal stage as frames and link changes arrive (`PipelineMetrics`).
public final class DaemonStateMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private struct State {
        var calibrationInfo: Gauge?
        var calibratedAt: ConfigDateTime?
        var calibrationAge: Gauge?
        var clientCertificateNotAfter: Date?
        var certificateExpiry: Gauge?
        var warmUp: Gauge?
    }
    private let state = Mutex(State())

    public init(registry: PrometheusCollectorRegistry, version: String = CheckpointVersion.string) {
        self.registry = registry
        registry.gauge(MetricCatalog.buildInfo, [("version", version)]).set(1.0)
    }

    /// The calibration in use (at start and after a reload that changed it): the info series for the old id goes.
    public func calibration(id: String, calibratedAt: ConfigDateTime) {
        state.withLock { s in
            if let old = s.calibrationInfo { registry.unregisterGauge(old) }
            let info = registry.gauge(MetricCatalog.calibrationInfo, [("id", id)])
            info.set(1.0)
            s.calibrationInfo = info
            s.calibratedAt = calibratedAt
        }
    }

    /// The upload client certificate (nil: none configured). Its expiry is read now, so call this at start and on
    /// reload; a file that cannot be read removes the series (the upload itself reports the certificate problem).
    public func clientCertificate(path: String?) {
        let notAfter = path.flatMap { try? CertificateValidity.notAfter(pemFile: $0) }
        state.withLock { $0.clientCertificateNotAfter = notAfter }
    }

    /// Called before each scrape.
    public func update(warmUpRemainingSeconds: Double?, now: Date = Date()) {
        state.withLock { s in
            let values = DaemonMetricValues(warmUpRemainingSeconds: warmUpRemainingSeconds, calibratedAt: s.calibratedAt,
                                            clientCertificateNotAfter: s.clientCertificateNotAfter, now: now)
            s.warmUp = present(MetricCatalog.warmUpRemaining, values.warmUpRemainingSeconds, s.warmUp)
            s.calibrationAge = present(MetricCatalog.calibrationAge, values.calibrationAgeSeconds, s.calibrationAge)
            s.certificateExpiry = present(MetricCatalog.clientCertificateExpiry, values.clientCertificateExpiryTimestamp, s.certificateExpiry)
        }
    }

    /// A gauge set to `value`, or no series at all when the value is unknown.
    private func present(_ d: MetricDefinition, _ value: Double?, _ gauge: Gauge?) -> Gauge? {
        guard let value else {
            if let gauge { registry.unregisterGauge(gauge) }
            return nil
        }
        let g = gauge ?? registry.gauge(d)
        g.set(value)
        return g
    }
}

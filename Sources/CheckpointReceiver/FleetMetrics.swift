import CheckpointCore
import Foundation
import Prometheus

/// The fleet as Prometheus gauges (`GET /metrics`), one series per kiosk, so the province's monitoring can alert
/// ("checkpoint_kiosk_silent == 1", "checkpoint_kiosk_queue_oldest_seconds > 3600"). A fresh registry per scrape:
/// a kiosk removed from the database leaves no stale series behind.
public enum FleetMetrics {
    public static func exposition(_ fleet: FleetView) -> String {
        let registry = PrometheusCollectorRegistry()
        for status in FleetView.Status.allCases {
            registry.makeGauge(name: "checkpoint_fleet_kiosks", labels: [("status", status.rawValue)],
                               help: "Kiosks by status (silent, failed, attention, ok).")
                .set(Double(fleet.kiosks.filter { $0.status == status }.count))
        }
        registry.makeGauge(name: "checkpoint_fleet_silent_after_seconds", help: "A kiosk with no heartbeat for longer than this is silent.")
            .set(fleet.silentAfterSeconds)
        for k in fleet.kiosks {
            let labels = [("device", k.deviceId), ("checkpoint", k.checkpointId)]
            func gauge(_ name: String, _ help: String, _ value: Double) {
                registry.makeGauge(name: "checkpoint_kiosk_\(name)", labels: labels, help: help).set(value)
            }
            gauge("heartbeat_age_seconds", "Seconds since the kiosk's last heartbeat reached the receiver.", k.secondsSinceHeartbeat)
            gauge("silent", "1 when the kiosk sent no heartbeat for longer than the silent threshold.", k.status == .silent ? 1 : 0)
            gauge("healthy", "1 when the kiosk reports every stage ok and needs no attention.", k.status == .ok ? 1 : 0)
            gauge("sensor_connected", "1 when the thermal sensor delivers frames.", k.sensorConnected ? 1 : 0)
            gauge("queue_depth", "Declarations waiting on the kiosk for upload.", Double(k.queueDepth))
            gauge("queue_oldest_seconds", "Age of the oldest declaration waiting on the kiosk (0 when none).", k.oldestPendingAgeSeconds ?? 0)
            gauge("dead_letters", "Declarations the server rejected, waiting for a technician.", Double(k.deadLetters))
            gauge("uplink_alert", "1 when the kiosk's uplink needs a person (401/403, certificate, no receipt).", k.uplinkAlert ? 1 : 0)
            gauge("calibration_age_days", "Days since the kiosk's thermal calibration (-1 when unknown).", k.calibrationAgeDays ?? -1)
            gauge("free_disk_bytes", "Free disk space on the kiosk.", Double(k.freeDiskBytes))
            gauge("warmup_remaining_seconds", "Sensor warm-up left.", k.warmUpRemainingSeconds)
            if let e = k.certificateExpiresAt {
                gauge("certificate_expiry_timestamp_seconds", "When the kiosk's client certificate expires (Unix time).", e.timeIntervalSince1970)
            }
        }
        return registry.emitToString()
    }
}

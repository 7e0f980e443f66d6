import Foundation

/// One metric the daemon exports at `GET /metrics`: its Prometheus name, type, `# HELP` text and label names.
///
/// Prometheus' conventions, checked by `MetricCatalogTests` and by `promtool check metrics` in the `metrics` system
/// test: counters end in `_total` (and count events, so `increase()` works across restarts); units are in the name
/// (`_seconds`, `_bytes`, `_celsius`, `_timestamp_seconds` for Unix times); `_info` metrics are 1 with their facts in
/// labels. Labels never carry personal data.
public struct MetricDefinition: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public let name: String
    public let kind: Kind
    public let help: String
    public let labels: [String]

    public init(_ name: String, _ kind: Kind, _ help: String, labels: [String] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
    }
}

/// Every metric `checkpointd` exports: one home for the names and help texts (the README's metrics table lists them).
public enum MetricCatalog {
    // Camera and detection.
    public static let cameraFrames = MetricDefinition("checkpointd_camera_frames_total", .counter, "Camera frames received.")
    public static let cameraFPS = MetricDefinition("checkpointd_camera_fps", .gauge, "Camera frames per second over the last few seconds.")
    public static let detectionSeconds = MetricDefinition("checkpointd_detection_seconds", .histogram, "Time to detect faces in one frame.")
    public static let detectionErrors = MetricDefinition("checkpointd_detection_errors_total", .counter, "Frames whose face detection failed.")
    // Thermal sensor.
    public static let sensorUp = MetricDefinition("checkpointd_sensor_up", .gauge, "1 while the thermal sensor sends valid frames, else 0.")
    public static let sensorFrames = MetricDefinition("checkpointd_sensor_frames_total", .counter, "Valid thermal frames received.")
    public static let sensorErrors = MetricDefinition("checkpointd_sensor_errors_total", .counter, "Thermal frames lost to bad checksums or timeouts.")
    public static let sensorAmbient = MetricDefinition("checkpointd_sensor_ambient_celsius", .gauge, "The thermal sensor's own ambient temperature in the last frame.")
    public static let warmUpRemaining = MetricDefinition("checkpointd_sensor_warmup_remaining_seconds", .gauge, "Seconds until the sensor has warmed up and screening starts (0 when warm; absent while the sensor is down).")
    public static let calibrationInfo = MetricDefinition("checkpointd_calibration_info", .gauge, "The calibration in use (always 1; the id is in the label).", labels: ["id"])
    public static let calibrationAge = MetricDefinition("checkpointd_calibration_age_seconds", .gauge, "Seconds since the calibration in use was made (calibrated_at).")
    // Screening.
    public static let screenings = MetricDefinition("checkpointd_screenings_total", .counter, "Screening results, by result.", labels: ["result"])
    public static let screeningLatency = MetricDefinition("checkpointd_screening_latency_seconds", .histogram, "Person ready in front of the camera to screening result, by result.", labels: ["result"])
    public static let lastLatency = MetricDefinition("checkpointd_screening_last_latency_seconds", .gauge, "The last screening's ready-to-result latency.")
    public static let lastThermalFrames = MetricDefinition("checkpointd_screening_last_thermal_frames", .gauge, "Thermal frames the last screening result used.")
    public static let lastThermalSeconds = MetricDefinition("checkpointd_screening_last_thermal_frames_seconds", .gauge, "The own time of the thermal frames the last result used (count times the sensor's period).")
    public static let lastOverhead = MetricDefinition("checkpointd_screening_last_overhead_seconds", .gauge, "The last screening's latency minus its thermal frames' own time (may be negative).")
    // Declarations and the queue.
    public static let declarationsAccepted = MetricDefinition("checkpointd_declarations_accepted_total", .counter, "Declarations stored durably.")
    public static let declarationsRejected = MetricDefinition("checkpointd_declarations_rejected_total", .counter, "Declarations refused as bad input (400/413/422).")
    public static let declarationsRefusedFull = MetricDefinition("checkpointd_declarations_refused_full_total", .counter, "Declarations refused because the queue or disk was full (503/507).")
    public static let enqueueSeconds = MetricDefinition("checkpointd_enqueue_seconds", .histogram, "Time to store a declaration durably.")
    public static let queuePending = MetricDefinition("checkpointd_queue_pending", .gauge, "Records waiting for upload.")
    public static let queueDead = MetricDefinition("checkpointd_queue_dead_letter", .gauge, "Records permanently rejected by the server, waiting for a person.")
    public static let queueUsedBytes = MetricDefinition("checkpointd_queue_used_bytes", .gauge, "Bytes used by the queue database.")
    public static let queueMaxBytes = MetricDefinition("checkpointd_queue_max_bytes", .gauge, "The queue's configured size limit in bytes.")
    public static let queueOldestAge = MetricDefinition("checkpointd_queue_oldest_pending_age_seconds", .gauge, "Age of the oldest record waiting for upload (0 when none).")
    public static let diskFreeBytes = MetricDefinition("checkpointd_queue_disk_free_bytes", .gauge, "Free bytes on the queue's filesystem.")
    // Upload.
    public static let uploadsDelivered = MetricDefinition("checkpointd_uploads_delivered_total", .counter, "Records delivered to the receiver.")
    public static let uploadsDeadLettered = MetricDefinition("checkpointd_uploads_dead_lettered_total", .counter, "Records the receiver rejected permanently (moved to the dead letter).")
    public static let uploadFailures = MetricDefinition("checkpointd_upload_failed_attempts_total", .counter, "Upload attempts that failed and will be retried.")
    public static let uploadAlert = MetricDefinition("checkpointd_upload_alert", .gauge, "1 when the uploader needs attention (401/403, certificate, no receipt, rejections in a row, dead letters).")
    public static let lastUploadSuccess = MetricDefinition("checkpointd_last_upload_success_timestamp_seconds", .gauge, "Unix time of the last record delivered since the daemon started (absent before the first).")
    public static let clientCertificateExpiry = MetricDefinition("checkpointd_upload_client_certificate_expiry_timestamp_seconds", .gauge, "Unix time at which the configured upload client certificate expires (notAfter).")
    // QR codes.
    public static let qrScans = MetricDefinition("checkpointd_qr_scans_total", .counter, "QR scans started by the kiosk screen.")
    public static let qrFrames = MetricDefinition("checkpointd_qr_frames_total", .counter, "Camera frames decoded for QR codes.")
    public static let qrFramesDropped = MetricDefinition("checkpointd_qr_frames_dropped_total", .counter, "Frames skipped because a newer one arrived before the decoder was free.")
    public static let qrDecodeErrors = MetricDefinition("checkpointd_qr_decode_errors_total", .counter, "QR decoder failures.")
    public static let qrDecodeSeconds = MetricDefinition("checkpointd_qr_decode_seconds", .histogram, "Time to decode one frame for QR codes.")
    public static let qrReads = MetricDefinition("checkpointd_qr_reads_total", .counter, "Health QR codes read, by kind (never their content).", labels: ["kind"])
    public static let qrRefusals = MetricDefinition("checkpointd_qr_refusals_total", .counter, "QR codes refused, by reason code.", labels: ["reason"])
    // The build.
    public static let buildInfo = MetricDefinition("checkpointd_build_info", .gauge, "The running checkpointd's version (always 1; the version is in the label).", labels: ["version"])

    public static let all: [MetricDefinition] = [
        cameraFrames, cameraFPS, detectionSeconds, detectionErrors,
        sensorUp, sensorFrames, sensorErrors, sensorAmbient, warmUpRemaining, calibrationInfo, calibrationAge,
        screenings, screeningLatency, lastLatency, lastThermalFrames, lastThermalSeconds, lastOverhead,
        declarationsAccepted, declarationsRejected, declarationsRefusedFull, enqueueSeconds,
        queuePending, queueDead, queueUsedBytes, queueMaxBytes, queueOldestAge, diskFreeBytes,
        uploadsDelivered, uploadsDeadLettered, uploadFailures, uploadAlert, lastUploadSuccess, clientCertificateExpiry,
        qrScans, qrFrames, qrFramesDropped, qrDecodeErrors, qrDecodeSeconds, qrReads, qrRefusals,
        buildInfo,
    ]

    /// What a conventions check finds wrong with a definition (empty when it follows them).
    public static func problems(_ d: MetricDefinition) -> [String] {
        var out: [String] = []
        if !d.name.hasPrefix("checkpointd_") { out.append("\(d.name): not in the checkpointd_ namespace") }
        if d.name.range(of: "^[a-z_][a-z0-9_]*$", options: .regularExpression) == nil { out.append("\(d.name): not snake_case") }
        switch d.kind {
        case .counter: if !d.name.hasSuffix("_total") { out.append("\(d.name): a counter must end in _total") }
        case .gauge, .histogram: if d.name.hasSuffix("_total") { out.append("\(d.name): only counters end in _total") }
        }
        if d.name.hasSuffix("_info") && (d.kind != .gauge || d.labels.isEmpty) { out.append("\(d.name): an info metric is a gauge with labels") }
        if d.kind == .histogram && !d.name.hasSuffix("_seconds") { out.append("\(d.name): histograms here measure seconds") }
        for unit in ["_ms", "_milliseconds", "_kb", "_mb", "_celcius", "_fahrenheit"] where d.name.contains(unit) {
            out.append("\(d.name): use base units (seconds, bytes, celsius)")
        }
        if d.help.trimmingCharacters(in: .whitespaces).isEmpty { out.append("\(d.name): no help text") }
        if d.help.contains("\n") { out.append("\(d.name): help text on more than one line") }
        return out
    }
}

/// The daemon's state as metric values, from plain facts, so the rules are tested without a daemon: seconds and Unix
/// timestamps, and nil (the series is absent) rather than a made-up number when a fact is unknown.
public struct DaemonMetricValues: Sendable, Equatable {
    /// Whole seconds, rounded up (0 when warm); nil while the sensor is not running (the warm-up starts again from the
    /// beginning when it comes back, and `checkpointd_sensor_up` says it is down).
    public var warmUpRemainingSeconds: Double?
    /// nil when `calibrated_at` has no instant (a local date-time without an offset) or lies in the future.
    public var calibrationAgeSeconds: Double?
    /// nil when no client certificate is configured (or it could not be read).
    public var clientCertificateExpiryTimestamp: Double?

    public init(warmUpRemainingSeconds: Double?, calibratedAt: ConfigDateTime?, clientCertificateNotAfter: Date?, now: Date) {
        self.warmUpRemainingSeconds = warmUpRemainingSeconds.map { $0.isFinite ? max(0, $0.rounded(.up)) : 0 }
        calibrationAgeSeconds = calibratedAt?.date.flatMap { at in
            let age = now.timeIntervalSince(at)
            return age >= 0 ? age.rounded(.down) : nil
        }
        clientCertificateExpiryTimestamp = clientCertificateNotAfter.map { $0.timeIntervalSince1970 }
    }
}

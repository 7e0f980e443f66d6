/// Who measured: the sensor's identity as recorded with every result.
public struct SensorIdentity: Sendable, Equatable, Codable {
    public var model: String
    public var serial: String
    public var port: String?
    public init(model: String, serial: String, port: String? = nil) { self.model = model; self.serial = serial; self.port = port }
}

/// The thresholds that turn a corrected temperature into an outcome. Default: elevated at ≥ 37.5 °C.
public struct ScreeningThresholds: Sendable, Equatable, Codable {
    public var elevatedC: Double = 37.5
    public init(elevatedC: Double = 37.5) { self.elevatedC = elevatedC }

    enum CodingKeys: String, CodingKey { case elevatedC = "elevated_c" }
}

/// One screening's answer. Never rewritten toward "normal": the outcome follows from the corrected value and the
/// threshold alone, and every stage of the correction is kept.
public struct ScreeningResult: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        case normal
        /// A secondary check with a clinical thermometer is required (IEC 80601-2-59 NOTE 101).
        case elevated
        case invalid
    }

    public enum InvalidReason: String, Sendable, Codable {
        case warmingUp = "warming_up"
        case tooFar = "too_far"
        case severalFaces = "several_faces"
        case sensorUnavailable = "sensor_unavailable"
        case referenceMissing = "reference_missing"
        case referenceNoisy = "reference_noisy"
        /// The corrected value is below any living face's: the sensor did not see warm skin.
        case implausible = "implausible_low"
        /// The calibration in use is a shipped example, not this sensor's: nothing is measured.
        case notCalibrated = "not_calibrated"
    }

    public var outcome: Outcome
    public var invalidReason: InvalidReason?
    /// Human-readable detail for invalid results (no personal data).
    public var detail: String?
    public var sessionID: UInt64
    /// The sensor's own value of the statistic (median over the frames), °C.
    public var rawC: Double?
    /// After the whole calibration pipeline, °C.
    public var correctedC: Double?
    public var stages: CorrectionStages?
    /// Which statistic `rawC` is, e.g. "eye_band_top4_mean".
    public var statistic: String
    public var maxC: Double?
    public var meanC: Double?
    public var p90C: Double?
    public var frameCount: Int
    public var ambientC: Double?
    public var distanceM: Double?
    public var emissivity: Double
    public var calibrationID: String
    public var sensor: SensorIdentity
    public var thresholdC: Double
    public var monotonicNanos: UInt64

    public var secondaryCheckRequired: Bool { outcome == .elevated }

    enum CodingKeys: String, CodingKey {
        case outcome, invalidReason = "invalid_reason", detail, sessionID = "session_id", rawC = "raw_c", correctedC = "corrected_c"
        case stages, statistic, maxC = "max_c", meanC = "mean_c", p90C = "p90_c", frameCount = "frame_count"
        case ambientC = "ambient_c", distanceM = "distance_m", emissivity, calibrationID = "calibration_id", sensor
        case thresholdC = "threshold_c", monotonicNanos = "monotonic_ns"
    }

    /// The only place an outcome is decided from a value.
    public static func outcome(correctedC: Double, thresholds: ScreeningThresholds) -> Outcome {
        correctedC >= thresholds.elevatedC ? .elevated : .normal
    }
}

extension ScreeningResult {
    private enum ExtraKeys: String, CodingKey { case secondaryCheckRequired = "secondary_check_required" }

    /// Every stored field, plus `secondary_check_required` so a reader of the JSON cannot miss it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outcome, forKey: .outcome)
        try c.encodeIfPresent(invalidReason, forKey: .invalidReason)
        try c.encodeIfPresent(detail, forKey: .detail)
        try c.encode(sessionID, forKey: .sessionID)
        try c.encodeIfPresent(rawC, forKey: .rawC)
        try c.encodeIfPresent(correctedC, forKey: .correctedC)
        try c.encodeIfPresent(stages, forKey: .stages)
        try c.encode(statistic, forKey: .statistic)
        try c.encodeIfPresent(maxC, forKey: .maxC)
        try c.encodeIfPresent(meanC, forKey: .meanC)
        try c.encodeIfPresent(p90C, forKey: .p90C)
        try c.encode(frameCount, forKey: .frameCount)
        try c.encodeIfPresent(ambientC, forKey: .ambientC)
        try c.encodeIfPresent(distanceM, forKey: .distanceM)
        try c.encode(emissivity, forKey: .emissivity)
        try c.encode(calibrationID, forKey: .calibrationID)
        try c.encode(sensor, forKey: .sensor)
        try c.encode(thresholdC, forKey: .thresholdC)
        try c.encode(monotonicNanos, forKey: .monotonicNanos)
        var extra = encoder.container(keyedBy: ExtraKeys.self)
        try extra.encode(secondaryCheckRequired, forKey: .secondaryCheckRequired)
    }
}

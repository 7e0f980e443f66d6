import Foundation

/// The screening result attached to a declaration: what the kiosk showed the person, plus what a
/// reviewer needs to trust it (raw and corrected temperature, quality flags, calibration, sensor).
///
/// The thermal pipeline's own result type is mapped into this by the daemon's wiring.
public struct ScreeningSummary: Codable, Sendable, Equatable {
    /// The verdict shown to the person.
    public enum Result: String, Codable, Sendable, CaseIterable {
        /// Corrected temperature under the fever threshold.
        case normal
        /// Corrected temperature at or above the fever threshold.
        case elevated
        /// No valid measurement: warming up, too far, several faces, sensor unavailable, reference missing
        /// or noisy. The reason is the first flag and `detail` says more.
        case invalid
        /// No measurement was available in time (no face, no sensor).
        case unavailable
    }

    public var result: Result
    /// Sensor reading before calibration, °C.
    public var rawTemperatureC: Double?
    /// Calibrated estimate of body temperature, °C.
    public var correctedTemperatureC: Double?
    /// Quality flags from the thermal pipeline (for example "face-too-far", "ambient-out-of-range").
    public var flags: [String]
    /// Identifier of the calibration that produced `correctedTemperatureC`.
    public var calibrationId: String?
    /// Sensor identity (model and serial or port), e.g. "GY-MCU90640@/dev/ttyUSB0".
    public var sensor: String?
    /// When the measurement was taken (wall clock).
    public var measuredAt: Date?
    /// Why the result is invalid, for a person to read.
    public var detail: String?
    /// The statistic measured (e.g. "eye_band_top4_mean").
    public var statistic: String?
    /// How many thermal frames made the result (their median is reported).
    public var frameCount: Int?
    /// The sensor's ambient temperature, °C.
    public var ambientC: Double?
    /// Estimated subject distance, metres.
    public var distanceM: Double?
    /// The emissivity the sensor was set to.
    public var emissivity: Double?
    /// The threshold in force: elevated at or above it, °C.
    public var thresholdC: Double?

    public init(result: Result, rawTemperatureC: Double? = nil, correctedTemperatureC: Double? = nil, flags: [String] = [],
                calibrationId: String? = nil, sensor: String? = nil, measuredAt: Date? = nil) {
        self.result = result
        self.rawTemperatureC = rawTemperatureC
        self.correctedTemperatureC = correctedTemperatureC
        self.flags = flags
        self.calibrationId = calibrationId
        self.sensor = sensor
        self.measuredAt = measuredAt
    }

    /// The summary stored when no screening result arrived in time.
    public static let unavailable = ScreeningSummary(result: .unavailable, flags: ["no-result-in-time"])
}

/// What the kiosk display shows: the screening pipeline's current state.
public enum ScreeningState: Sendable, Equatable {
    case idle
    case faceSeen
    case measuring
    case result(ScreeningSummary)
}

extension ScreeningState: Codable {
    private enum CodingKeys: String, CodingKey { case state, screening }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .state) {
        case "idle": self = .idle
        case "face-seen": self = .faceSeen
        case "measuring": self = .measuring
        case "result": self = .result(try c.decode(ScreeningSummary.self, forKey: .screening))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "unknown state \(other)")
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .idle: try c.encode("idle", forKey: .state)
        case .faceSeen: try c.encode("face-seen", forKey: .state)
        case .measuring: try c.encode("measuring", forKey: .state)
        case .result(let s):
            try c.encode("result", forKey: .state)
            try c.encode(s, forKey: .screening)
        }
    }
}

/// A screening result together with the face snapshot taken during it.
public struct ScreeningCapture: Sendable {
    public var summary: ScreeningSummary
    /// JPEG of the face, if one was captured.
    public var faceJPEG: Data?
    public init(summary: ScreeningSummary, faceJPEG: Data? = nil) {
        self.summary = summary
        self.faceJPEG = faceJPEG
    }
}

/// Where the API gets screening results from. The daemon implements it over the thermal and face pipelines.
public protocol ScreeningProvider: Sendable {
    /// The current state for the kiosk display.
    func currentState() async -> ScreeningState
    /// The result for the person in front of the camera now, waiting at most `timeout` for one to appear.
    /// Returns nil when none came in time.
    func awaitCapture(timeout: Duration) async -> ScreeningCapture?
}

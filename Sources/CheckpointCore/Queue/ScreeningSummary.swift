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

    /// The summary stored when a declaration has no screening of its own; `flag` says why
    /// (`no-screening-id`, `screening-unknown-or-expired`). Never another person's result.
    public static func unavailable(_ flag: String) -> ScreeningSummary {
        ScreeningSummary(result: .unavailable, flags: [flag])
    }

    /// The declaration carried no `screeningId`.
    public static let noScreeningIdFlag = "no-screening-id"
    /// The declaration's `screeningId` is not one the hub holds (never issued, dropped, or older than the hold).
    public static let unknownOrExpiredFlag = "screening-unknown-or-expired"
}

/// A screening result together with the face snapshot taken during it.
public struct ScreeningCapture: Sendable, Equatable {
    public var summary: ScreeningSummary
    /// JPEG of the face, if one was captured.
    public var faceJPEG: Data?
    public init(summary: ScreeningSummary, faceJPEG: Data? = nil) {
        self.summary = summary
        self.faceJPEG = faceJPEG
    }
}

/// What claiming a screening for a declaration found.
public enum ScreeningClaim: Sendable, Equatable {
    /// The screening is now bound to this declaration (release it if the declaration is not stored).
    case claimed(ScreeningCapture)
    /// Another declaration already took it (HTTP 409).
    case alreadyUsed
    /// Never issued, dropped for space, or older than the declaration hold: the declaration gets no screening.
    case unknownOrExpired
}

/// Where the API gets screening results from. The daemon implements it over the thermal and face pipelines.
public protocol ScreeningProvider: Sendable {
    /// What the kiosk screen shows now.
    func currentView() async -> ScreeningView
    /// The current view first, then every change (newest wins for a slow reader). Ends when the caller stops iterating.
    func views() async -> AsyncStream<ScreeningView>
    /// Binds the decided screening `id` to one declaration; at most one claim succeeds per id.
    func claim(_ id: UUID) async -> ScreeningClaim
    /// Gives a claimed screening back (its declaration could not be stored).
    func release(_ id: UUID) async
    /// The newest thermal frame for a technician (nil when there is none, or the provider has no sensor).
    func thermalLive() async -> ThermalLiveView?
    /// The thermal overlay and text lines of a technician's camera snapshot.
    func snapshotContext() async -> TechnicianSnapshot.Context
}

extension ScreeningProvider {
    public func thermalLive() async -> ThermalLiveView? { nil }
    public func snapshotContext() async -> TechnicianSnapshot.Context { TechnicianSnapshot.Context(thermal: nil, lines: []) }
}

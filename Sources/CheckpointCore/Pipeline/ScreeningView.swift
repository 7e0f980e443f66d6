import Foundation

/// What the kiosk screen shows: the one view of the screening pipeline, built by `ScreeningHub`, served by
/// `GET /v1/screening` and pushed by `GET /v1/screening/events`.
///
/// JSON (every key always present, `null` when it does not apply):
/// `{"seq", "state", "sensor": {"available", "warmUpRemainingSeconds"}, "faces", "reasons", "distanceM",
///   "progress": {"frames", "needed"}, "screeningId", "screening", "personInView", "publishedAtMs"}`.
/// No personal data: counts, codes, distances and the screening result only.
public struct ScreeningView: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The sensor is up but still warming up, and nobody is being measured.
        case warmingUp = "warming-up"
        /// Nobody in view (also when the sensor is unavailable: `sensor.available` says so).
        case idle
        /// A face is in view but not ready to measure; `reasons` says why.
        case faceSeen = "face-seen"
        /// The face is ready and thermal frames are being collected; `progress` counts them.
        case measuring
        /// A decided result is shown; `screeningId` binds a declaration to it.
        case result
    }

    public struct Sensor: Sendable, Equatable, Codable {
        public var available: Bool
        /// Whole seconds of warm-up left; nil when warm or unavailable.
        public var warmUpRemainingSeconds: Double?
        public init(available: Bool, warmUpRemainingSeconds: Double? = nil) {
            self.available = available
            self.warmUpRemainingSeconds = warmUpRemainingSeconds
        }
        private enum CodingKeys: String, CodingKey { case available, warmUpRemainingSeconds }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(available, forKey: .available)
            try c.encode(warmUpRemainingSeconds, forKey: .warmUpRemainingSeconds)
        }
    }

    /// Thermal frames collected for the current measurement, of the `needed` (K) that make a result.
    public struct Progress: Sendable, Equatable, Codable {
        public var frames: Int
        public var needed: Int
        public init(frames: Int, needed: Int) {
            self.frames = frames
            self.needed = needed
        }
    }

    /// Increases by one per published change.
    public var seq: UInt64
    public var state: State
    public var sensor: Sensor
    /// Faces counted in view.
    public var faces: Int
    /// `FaceNotReadyReason.code` values, in order (state `face-seen`).
    public var reasons: [String]
    /// Estimated distance of the tracked face, metres.
    public var distanceM: Double?
    public var progress: Progress?
    /// Lowercase UUID of the shown result (state `result`).
    public var screeningId: String?
    public var screening: ScreeningSummary?
    /// State `result`: whether the person the result belongs to is still in front of the camera (false while the
    /// result is only held on screen after they left). The screen offers the declaration only while true, so nobody
    /// else can bind to a result whose person has gone. nil in other states.
    public var personInView: Bool?
    /// Wall-clock time (milliseconds since 1970) at which the hub published this view: the start of the
    /// "state change → browser" latency the UI benchmark measures. Not a change in itself (`differs` ignores it).
    public var publishedAtMs: Double?

    public init(seq: UInt64 = 0, state: State = .idle, sensor: Sensor = Sensor(available: false), faces: Int = 0,
                reasons: [String] = [], distanceM: Double? = nil, progress: Progress? = nil, screeningId: String? = nil,
                screening: ScreeningSummary? = nil, personInView: Bool? = nil, publishedAtMs: Double? = nil) {
        self.seq = seq
        self.state = state
        self.sensor = sensor
        self.faces = faces
        self.reasons = reasons
        self.distanceM = distanceM
        self.progress = progress
        self.screeningId = screeningId
        self.screening = screening
        self.personInView = personInView
        self.publishedAtMs = publishedAtMs
    }

    /// Distance changes smaller than this are not a change worth publishing.
    public static let distanceStepM = 0.05

    /// Whether `self` differs from `other` in anything the screen shows (`seq` and `publishedAtMs` aside; distance in
    /// 5 cm steps).
    public func differs(from other: ScreeningView) -> Bool {
        var a = self, b = other
        a.seq = 0; b.seq = 0
        a.publishedAtMs = nil; b.publishedAtMs = nil
        let da = a.distanceM, db = b.distanceM
        a.distanceM = nil; b.distanceM = nil
        if a != b { return true }
        switch (da, db) {
        case (nil, nil): return false
        case (let x?, let y?): return abs(x - y) >= Self.distanceStepM
        default: return true
        }
    }

    private enum CodingKeys: String, CodingKey {
        case seq, state, sensor, faces, reasons, distanceM, progress, screeningId, screening, personInView, publishedAtMs
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(state, forKey: .state)
        try c.encode(sensor, forKey: .sensor)
        try c.encode(faces, forKey: .faces)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(distanceM.map { ($0 * 100).rounded() / 100 }, forKey: .distanceM)
        try c.encode(progress, forKey: .progress)
        try c.encode(screeningId, forKey: .screeningId)
        try c.encode(screening, forKey: .screening)
        try c.encode(personInView, forKey: .personInView)
        try c.encode(publishedAtMs, forKey: .publishedAtMs)
    }
}

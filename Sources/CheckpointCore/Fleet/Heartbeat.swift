import Foundation

/// A kiosk's status report to the province (`POST /v1/heartbeats`, schema `Heartbeat` in openapi.yaml): what central
/// IT needs to see which kiosks are up, buffering, missing a sensor or on an old calibration. Only counts, states and
/// times: no personal data (no names, ID numbers, faces, declaration contents).
public struct Heartbeat: Codable, Sendable, Equatable {
    /// Why this heartbeat was sent.
    public enum Reason: String, Codable, Sendable, CaseIterable {
        case startup
        case interval
        case stateChange = "state-change"
    }

    /// A watched condition that changed since the last heartbeat sent (each sends one at once).
    public enum Change: String, Codable, Sendable, CaseIterable {
        case sensorLost = "sensor-lost"
        case sensorBack = "sensor-back"
        case cameraLost = "camera-lost"
        case cameraBack = "camera-back"
        case queueAlert = "queue-alert"
        case queueAlertCleared = "queue-alert-cleared"
        case deadLetters = "dead-letters"
        case deadLettersCleared = "dead-letters-cleared"
    }

    /// A stage's state, as `HealthSupervisor.State` names them.
    public enum StageState: String, Codable, Sendable, CaseIterable, Comparable {
        case ok, starting, degraded, recovering, failed

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

        public init(_ state: HealthSupervisor.State) {
            switch state {
            case .ok: self = .ok
            case .starting: self = .starting
            case .degraded: self = .degraded
            case .recovering: self = .recovering
            case .failed: self = .failed
            }
        }
    }

    public struct Stage: Codable, Sendable, Equatable {
        public var name: String
        public var state: StageState
        /// Why, when not ok (device and library messages, never personal data).
        public var detail: String?
        public init(name: String, state: StageState, detail: String? = nil) {
            self.name = name
            self.state = state
            self.detail = detail
        }
    }

    public struct Health: Codable, Sendable, Equatable {
        public var overall: StageState
        public var stages: [Stage]
        public init(overall: StageState, stages: [Stage]) {
            self.overall = overall
            self.stages = stages
        }
    }

    public struct Sensor: Codable, Sendable, Equatable {
        /// The thermal sensor is delivering frames.
        public var connected: Bool
        /// The sensor's own ambient (die) temperature, from its latest frame.
        public var ambientC: Double?
        /// Seconds of sensor warm-up left (0 = screening at full accuracy).
        public var warmUpRemainingSeconds: Double
        public init(connected: Bool, ambientC: Double? = nil, warmUpRemainingSeconds: Double = 0) {
            self.connected = connected
            self.ambientC = ambientC
            self.warmUpRemainingSeconds = warmUpRemainingSeconds
        }
    }

    public struct Calibration: Codable, Sendable, Equatable {
        public var id: String
        public var calibratedAt: Date?
        /// Days since `calibratedAt` at `sentAt`.
        public var ageDays: Double?
        public init(id: String, calibratedAt: Date?, ageDays: Double?) {
            self.id = id
            self.calibratedAt = calibratedAt
            self.ageDays = ageDays
        }
    }

    public struct Queue: Codable, Sendable, Equatable {
        /// Declarations waiting for upload.
        public var depth: Int
        public var oldestPendingAgeSeconds: Double?
        /// Declarations the server rejected, waiting for a technician.
        public var deadLetters: Int
        public var lastSuccessfulUploadAt: Date?
        /// The uplink needs a person (401/403, certificate, answers without a receipt).
        public var alert: Bool
        public init(depth: Int, oldestPendingAgeSeconds: Double?, deadLetters: Int, lastSuccessfulUploadAt: Date?, alert: Bool) {
            self.depth = depth
            self.oldestPendingAgeSeconds = oldestPendingAgeSeconds
            self.deadLetters = deadLetters
            self.lastSuccessfulUploadAt = lastSuccessfulUploadAt
            self.alert = alert
        }
    }

    /// Screenings decided since the last heartbeat the server acknowledged.
    public struct Screenings: Codable, Sendable, Equatable {
        public var normal: Int
        public var elevated: Int
        public var invalid: Int
        public init(normal: Int = 0, elevated: Int = 0, invalid: Int = 0) {
            self.normal = normal
            self.elevated = elevated
            self.invalid = invalid
        }
        public var total: Int { normal + elevated + invalid }
    }

    public var deviceId: String
    public var checkpointId: String
    public var softwareVersion: String
    public var sentAt: Date
    public var clockSynced: Bool
    public var bootId: String
    /// Counts up from 0 within a boot; with `bootId` it orders heartbeats whatever the wall clock says.
    public var sequence: Int
    public var reason: Reason
    public var changes: [Change]
    public var uptimeSeconds: Double
    public var health: Health
    public var sensor: Sensor
    public var calibration: Calibration
    public var queue: Queue
    /// When the kiosk's client certificate expires (nil without mutual TLS).
    public var certificateExpiresAt: Date?
    public var freeDiskBytes: Int64
    public var screenings: Screenings

    public init(deviceId: String, checkpointId: String, softwareVersion: String = CheckpointVersion.string, sentAt: Date,
                clockSynced: Bool, bootId: String, sequence: Int, reason: Reason, changes: [Change] = [], uptimeSeconds: Double,
                health: Health, sensor: Sensor, calibration: Calibration, queue: Queue, certificateExpiresAt: Date? = nil,
                freeDiskBytes: Int64, screenings: Screenings) {
        self.deviceId = deviceId
        self.checkpointId = checkpointId
        self.softwareVersion = softwareVersion
        self.sentAt = sentAt
        self.clockSynced = clockSynced
        self.bootId = bootId
        self.sequence = sequence
        self.reason = reason
        self.changes = changes
        self.uptimeSeconds = uptimeSeconds
        self.health = health
        self.sensor = sensor
        self.calibration = calibration
        self.queue = queue
        self.certificateExpiresAt = certificateExpiresAt
        self.freeDiskBytes = freeDiskBytes
        self.screenings = screenings
    }

    /// The wire encoding (sorted keys, millisecond ISO-8601 dates, as records).
    public func encoded() throws -> Data { try QueueRecord.encoder.encode(self) }

    /// Decodes and checks a heartbeat as the contract defines it: every required field, and the ranges the schema
    /// states (counts and ages not negative, identifiers not empty).
    public static func decode(_ data: Data) throws -> Heartbeat {
        let h = try QueueRecord.decoder.decode(Heartbeat.self, from: data)
        if let problem = h.problem { throw CoreError(.invalidInput, "heartbeat: \(problem)") }
        return h
    }

    /// What breaks the contract's ranges, if anything.
    public var problem: String? {
        if deviceId.isEmpty { return "deviceId is empty" }
        if checkpointId.isEmpty { return "checkpointId is empty" }
        if sequence < 0 { return "sequence is negative" }
        if !(uptimeSeconds >= 0) { return "uptimeSeconds is negative" }
        if !(sensor.warmUpRemainingSeconds >= 0) { return "sensor.warmUpRemainingSeconds is negative" }
        if let a = calibration.ageDays, !(a >= 0) { return "calibration.ageDays is negative" }
        if queue.depth < 0 || queue.deadLetters < 0 { return "queue counts are negative" }
        if let a = queue.oldestPendingAgeSeconds, !(a >= 0) { return "queue.oldestPendingAgeSeconds is negative" }
        if freeDiskBytes < 0 { return "freeDiskBytes is negative" }
        if screenings.normal < 0 || screenings.elevated < 0 || screenings.invalid < 0 { return "screening counts are negative" }
        return nil
    }
}

extension Heartbeat {
    /// Where heartbeats go: the upload endpoint with its last path segment replaced by `heartbeats`
    /// (`https://host/v1/records` → `https://host/v1/heartbeats`), so one `[upload]` table names both.
    public static func endpoint(forUpload upload: String) -> String { endpoint(forUpload: upload, last: "heartbeats") }

    /// The upload endpoint with its last path segment replaced by `last` (which may hold several segments).
    static func endpoint(forUpload upload: String, last: String) -> String {
        guard var c = URLComponents(string: upload) else { return upload }
        var segments = c.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        while segments.count > 1 && segments.last == "" { segments.removeLast() }
        if segments.count > 1 {
            segments[segments.count - 1] = last
        } else {
            segments.append(last)
        }
        c.path = segments.joined(separator: "/")
        c.query = nil
        return c.string ?? upload
    }
}

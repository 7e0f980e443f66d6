import CheckpointCore
import Foundation

/// What central IT sees of its kiosks: one row per device from its latest heartbeat, judged at `now`.
public struct FleetView: Codable, Sendable, Equatable {
    /// How a kiosk is doing, worst first.
    public enum Status: String, Codable, Sendable, Comparable, CaseIterable {
        /// No heartbeat for longer than the threshold: down, unplugged, or its link is.
        case silent
        /// A stage has failed: it cannot screen until a technician acts.
        case failed
        /// Working, but something needs a look: sensor lost, camera recovering, uplink alert, dead letters, an old
        /// backlog or calibration, little disk.
        case attention
        case ok

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    }

    public struct Kiosk: Codable, Sendable, Equatable {
        public var deviceId: String
        public var checkpointId: String
        public var status: Status
        /// Why the status is not ok, one short English phrase each (the page translates them).
        public var reasons: [String]
        public var lastHeartbeatAt: Date
        public var secondsSinceHeartbeat: Double
        public var softwareVersion: String
        public var health: Heartbeat.StageState
        public var stages: [Heartbeat.Stage]
        public var sensorConnected: Bool
        public var ambientC: Double?
        public var warmUpRemainingSeconds: Double
        public var calibrationId: String
        public var calibrationAgeDays: Double?
        public var queueDepth: Int
        public var oldestPendingAgeSeconds: Double?
        public var deadLetters: Int
        public var uplinkAlert: Bool
        public var lastSuccessfulUploadAt: Date?
        public var certificateExpiresAt: Date?
        public var freeDiskBytes: Int64
        public var uptimeSeconds: Double
        public var screenings: Heartbeat.Screenings
        /// Monitoring stills: the latest request's state and the latest still kept (nil: none).
        public var still: MonitoringStills.State?
    }

    public struct Thresholds: Sendable, Equatable {
        /// A kiosk with no heartbeat for longer than this is silent.
        public var silentAfterSeconds: Double
        /// A calibration older than this needs a look.
        public var calibrationMaxAgeDays: Double
        /// A backlog whose oldest declaration waited longer than this needs a look.
        public var backlogMaxAgeSeconds: Double
        /// Less free disk than this needs a look.
        public var minFreeDiskBytes: Int64
        /// A client certificate expiring within this many days needs a look.
        public var certificateWarningDays: Double

        public init(silentAfterSeconds: Double = 900, calibrationMaxAgeDays: Double = 180, backlogMaxAgeSeconds: Double = 3600,
                    minFreeDiskBytes: Int64 = 1 << 30, certificateWarningDays: Double = 30) {
            self.silentAfterSeconds = silentAfterSeconds
            self.calibrationMaxAgeDays = calibrationMaxAgeDays
            self.backlogMaxAgeSeconds = backlogMaxAgeSeconds
            self.minFreeDiskBytes = minFreeDiskBytes
            self.certificateWarningDays = certificateWarningDays
        }
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var total = 0
        public var silent = 0
        public var failed = 0
        public var attention = 0
        public var ok = 0
    }

    public var generatedAt: Date
    /// Whether this receiver keeps monitoring stills (`--stills`): the page offers its button only then.
    public var stillsEnabled = false
    public var silentAfterSeconds: Double
    public var counts: Counts
    /// Silent kiosks first (longest silent first), then failed, then needing attention, then fine; by device id within.
    public var kiosks: [Kiosk]

    /// The fleet from the stored latest heartbeats. A stored heartbeat that no longer decodes is skipped.
    public init(heartbeats: [IncomingHeartbeat], now: Date, thresholds: Thresholds) {
        generatedAt = now
        silentAfterSeconds = thresholds.silentAfterSeconds
        var rows: [Kiosk] = []
        for stored in heartbeats {
            guard let h = try? Heartbeat.decode(stored.json) else { continue }
            rows.append(Self.kiosk(h, receivedAt: stored.receivedAt, now: now, thresholds: thresholds))
        }
        rows.sort { a, b in
            if a.status != b.status { return a.status < b.status }
            if a.status == .silent && a.secondsSinceHeartbeat != b.secondsSinceHeartbeat { return a.secondsSinceHeartbeat > b.secondsSinceHeartbeat }
            return a.deviceId < b.deviceId
        }
        kiosks = rows
        counts = Counts()
        counts.total = rows.count
        for r in rows {
            switch r.status {
            case .silent: counts.silent += 1
            case .failed: counts.failed += 1
            case .attention: counts.attention += 1
            case .ok: counts.ok += 1
            }
        }
    }

    static func kiosk(_ h: Heartbeat, receivedAt: Date, now: Date, thresholds t: Thresholds) -> Kiosk {
        // Ages from the receiver's clock where the kiosk's may be wrong: time since the heartbeat is added.
        let since = max(0, now.timeIntervalSince(receivedAt))
        let calibrationAge = h.calibration.ageDays.map { $0 + since / 86400 }
        let backlogAge = h.queue.oldestPendingAgeSeconds.map { $0 + since }
        var reasons: [String] = []
        var status = Status.ok
        if since > t.silentAfterSeconds {
            status = .silent
            reasons.append("no heartbeat")
        }
        let failed = h.health.stages.filter { $0.state == .failed }
        if !failed.isEmpty {
            if status == .ok { status = .failed }
            reasons.append(contentsOf: failed.map { "\($0.name) failed" })
        }
        var attention: [String] = []
        if !h.sensor.connected { attention.append("sensor lost") }
        for s in h.health.stages where s.state == .recovering || s.state == .degraded { attention.append("\(s.name) \(s.state.rawValue)") }
        if h.queue.alert { attention.append("uplink alert") }
        if h.queue.deadLetters > 0 { attention.append("dead letters") }
        if let a = backlogAge, a > t.backlogMaxAgeSeconds { attention.append("old backlog") }
        if let a = calibrationAge, a > t.calibrationMaxAgeDays { attention.append("old calibration") }
        if h.freeDiskBytes < t.minFreeDiskBytes { attention.append("low disk") }
        if let e = h.certificateExpiresAt, e.timeIntervalSince(now) < t.certificateWarningDays * 86400 { attention.append("certificate expiring") }
        if !attention.isEmpty && status == .ok { status = .attention }
        reasons.append(contentsOf: attention)
        return Kiosk(
            deviceId: h.deviceId, checkpointId: h.checkpointId, status: status, reasons: reasons, lastHeartbeatAt: receivedAt,
            secondsSinceHeartbeat: since, softwareVersion: h.softwareVersion, health: h.health.overall, stages: h.health.stages,
            sensorConnected: h.sensor.connected, ambientC: h.sensor.ambientC, warmUpRemainingSeconds: h.sensor.warmUpRemainingSeconds,
            calibrationId: h.calibration.id, calibrationAgeDays: calibrationAge, queueDepth: h.queue.depth, oldestPendingAgeSeconds: backlogAge,
            deadLetters: h.queue.deadLetters, uplinkAlert: h.queue.alert, lastSuccessfulUploadAt: h.queue.lastSuccessfulUploadAt,
            certificateExpiresAt: h.certificateExpiresAt, freeDiskBytes: h.freeDiskBytes, uptimeSeconds: h.uptimeSeconds, screenings: h.screenings)
    }
}

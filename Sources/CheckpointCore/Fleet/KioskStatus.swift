import Foundation

/// What the daemon knows about itself at one moment, gathered from its stages for a heartbeat.
public struct KioskStatus: Sendable, Equatable {
    public var stages: [HealthSupervisor.Stage]
    public var overall: HealthSupervisor.State
    public var sensorAvailable: Bool
    public var ambientC: Double?
    public var warmUpRemainingSeconds: Double?
    public var calibrationId: String
    public var calibratedAt: Date?
    public var queueDepth: Int
    public var oldestPendingAt: Date?
    public var deadLetters: Int
    public var lastDeliveryAt: Date?
    /// The uplink's own alert (`UploaderStatus.alert`), dead letters aside.
    public var uplinkAlert: Bool
    public var certificateExpiresAt: Date?
    public var freeDiskBytes: Int64

    public init(stages: [HealthSupervisor.Stage], overall: HealthSupervisor.State, sensorAvailable: Bool, ambientC: Double? = nil,
                warmUpRemainingSeconds: Double? = nil, calibrationId: String, calibratedAt: Date?, queueDepth: Int, oldestPendingAt: Date?,
                deadLetters: Int, lastDeliveryAt: Date?, uplinkAlert: Bool, certificateExpiresAt: Date? = nil, freeDiskBytes: Int64) {
        self.stages = stages
        self.overall = overall
        self.sensorAvailable = sensorAvailable
        self.ambientC = ambientC
        self.warmUpRemainingSeconds = warmUpRemainingSeconds
        self.calibrationId = calibrationId
        self.calibratedAt = calibratedAt
        self.queueDepth = queueDepth
        self.oldestPendingAt = oldestPendingAt
        self.deadLetters = deadLetters
        self.lastDeliveryAt = lastDeliveryAt
        self.uplinkAlert = uplinkAlert
        self.certificateExpiresAt = certificateExpiresAt
        self.freeDiskBytes = freeDiskBytes
    }

    /// The watched conditions of this status.
    public var conditions: HeartbeatConditions {
        HeartbeatConditions(stages: stages, sensorAvailable: sensorAvailable, uplinkAlert: uplinkAlert, deadLetters: deadLetters)
    }
}

extension HeartbeatConditions {
    /// The watched conditions from the daemon's state: the sensor, the camera (lost while its stage recovers or has
    /// failed), the uplink alert and the dead letters.
    public init(stages: [HealthSupervisor.Stage], sensorAvailable: Bool, uplinkAlert: Bool, deadLetters: Int) {
        let cameraOK: Bool
        switch stages.first(where: { $0.stage == .camera })?.state {
        case .recovering?, .failed?: cameraOK = false
        default: cameraOK = true
        }
        self.init(sensorConnected: sensorAvailable, cameraOK: cameraOK, queueAlert: uplinkAlert, deadLetters: deadLetters)
    }
}

/// Who the kiosk is and which boot this is, for every heartbeat.
public struct HeartbeatIdentity: Sendable, Equatable {
    public var deviceId: String
    public var checkpointId: String
    public var bootId: String
    public init(deviceId: String, checkpointId: String, bootId: String) {
        self.deviceId = deviceId
        self.checkpointId = checkpointId
        self.bootId = bootId
    }
}

extension Heartbeat {
    /// The heartbeat for `status` at wall time `now`.
    public init(identity: HeartbeatIdentity, status: KioskStatus, decision: HeartbeatSchedule.Decision, sequence: Int, now: Date,
                clockSynced: Bool, uptimeSeconds: Double, screenings: Screenings) {
        func stage(_ s: HealthSupervisor.Stage) -> Stage {
            let detail: String?
            switch s.state {
            case .ok, .starting: detail = nil
            case .degraded(let why), .recovering(let why), .failed(let why): detail = String(why.prefix(200))
            }
            return Stage(name: s.name, state: StageState(s.state), detail: detail)
        }
        let age = status.calibratedAt.map { max(0, now.timeIntervalSince($0) / 86400) }
        self.init(
            deviceId: identity.deviceId, checkpointId: identity.checkpointId, sentAt: now, clockSynced: clockSynced,
            bootId: identity.bootId, sequence: sequence, reason: decision.reason, changes: decision.changes,
            uptimeSeconds: max(0, uptimeSeconds),
            health: Health(overall: StageState(status.overall), stages: status.stages.map(stage)),
            sensor: Sensor(connected: status.sensorAvailable, ambientC: status.ambientC,
                           warmUpRemainingSeconds: max(0, status.warmUpRemainingSeconds ?? 0)),
            calibration: Calibration(id: status.calibrationId, calibratedAt: status.calibratedAt, ageDays: age),
            queue: Queue(depth: status.queueDepth, oldestPendingAgeSeconds: status.oldestPendingAt.map { max(0, now.timeIntervalSince($0)) },
                         deadLetters: status.deadLetters, lastSuccessfulUploadAt: status.lastDeliveryAt, alert: status.uplinkAlert),
            certificateExpiresAt: status.certificateExpiresAt, freeDiskBytes: max(0, status.freeDiskBytes), screenings: screenings)
    }
}

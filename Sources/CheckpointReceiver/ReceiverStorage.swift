import CheckpointCore
import Foundation

/// Where the receiver keeps what kiosks send. Every backend gives the same guarantees:
///
/// * a record is stored once per Idempotency-Key, whichever receiver instance got it and however often it was sent
///   (the key is a unique constraint, so several receivers on one database need no coordination);
/// * a stored record is durable before `insertRecord` returns (the 201 the kiosk deletes its copy on);
/// * for heartbeats only the latest per device is kept;
/// * a kiosk's monitoring-still request lives here too, so that a request made on one receiver is handed out by
///   whichever receiver gets that kiosk's next heartbeat, and answered on whichever gets its still.
public protocol ReceiverStorage: Sendable {
    /// Stores a record under `id` (its Idempotency-Key), or says it is a retry of a stored one, or that the key was
    /// reused with a different record.
    func insertRecord(_ record: IncomingRecord) async throws -> InsertOutcome
    /// Keys of the stored records, oldest first.
    func recordIDs() async throws -> [String]
    /// Keeps `heartbeat` as its device's latest, unless a later one was already received (two receivers racing).
    func storeHeartbeat(_ heartbeat: IncomingHeartbeat) async throws
    /// The latest heartbeat of every device that ever sent one.
    func latestHeartbeats() async throws -> [IncomingHeartbeat]
    /// Deletes the records received before `cutoff` (retention) so that their content is gone from the storage, not
    /// only unlisted; returns their ids (whose face files the service then deletes).
    func purgeRecords(receivedBefore cutoff: Date) async throws -> [String]
    /// Makes `request` its kiosk's current monitoring-still request (an earlier one, answered or not, is replaced).
    func putStillRequest(_ request: StillRequestRecord) async throws
    /// Every kiosk's current monitoring-still request (the fleet view: one query, not one per kiosk).
    func stillRequests() async throws -> [StillRequestRecord]
    /// Moves the kiosk's current request to `state` when it is in one of `from` (and is `requestId`, when given),
    /// setting `refusal`; returns the request as it now is, or nil when none matched. One statement, so of two
    /// receivers racing (two heartbeats, a still and a refusal) exactly one wins.
    func advanceStillRequest(deviceId: String, requestId: String?, from: [StillRequestRecord.State], to state: StillRequestRecord.State,
                             refusal: StillRefusal.Reason?) async throws -> StillRequestRecord?
}

/// An operator's request for a kiosk's monitoring still, one current per kiosk (`MonitoringStill` in the fleet JSON).
public struct StillRequestRecord: Sendable, Equatable {
    /// `pending`: asked, waiting for the kiosk's next heartbeat; `delivered`: handed over on a heartbeat's reply,
    /// waiting for the still; `received`: answered with a still; `refused`: the kiosk said no (`refusal`).
    public enum State: String, Codable, Sendable, CaseIterable { case pending, delivered, received, refused }
    public var deviceId: String
    public var requestId: String
    public var state: State
    public var requestedAt: Date
    /// Why the kiosk refused (state `refused` only).
    public var refusal: StillRefusal.Reason?

    public init(deviceId: String, requestId: String, state: State, requestedAt: Date, refusal: StillRefusal.Reason? = nil) {
        self.deviceId = deviceId
        self.requestId = requestId
        self.state = state
        self.requestedAt = requestedAt
        self.refusal = refusal
    }
}

/// One heartbeat as received (only the latest per device is kept).
public struct IncomingHeartbeat: Sendable, Equatable {
    public var deviceId: String
    public var checkpointId: String
    /// The heartbeat JSON exactly as sent.
    public var json: Data
    public var receivedAt: Date

    public init(deviceId: String, checkpointId: String, json: Data, receivedAt: Date = Date()) {
        self.deviceId = deviceId
        self.checkpointId = checkpointId
        self.json = json
        self.receivedAt = receivedAt
    }
}

/// One declaration record as received.
public struct IncomingRecord: Sendable {
    /// The Idempotency-Key (= record id), lower-case.
    public var id: String
    public var deviceId: String
    public var checkpointId: String
    /// The record JSON exactly as sent.
    public var json: Data
    /// Size of the face snapshot that came with it (0: none). The image itself goes to a file, never to the storage.
    public var faceBytes: Int
    public var receivedAt: Date

    public init(id: String, deviceId: String, checkpointId: String, json: Data, faceBytes: Int = 0, receivedAt: Date = Date()) {
        self.id = id
        self.deviceId = deviceId
        self.checkpointId = checkpointId
        self.json = json
        self.faceBytes = faceBytes
        self.receivedAt = receivedAt
    }
}

public enum InsertOutcome: Sendable, Equatable {
    /// First time this key was seen: stored now.
    case stored
    /// The same record was stored before (a retry); nothing changed but the duplicate count.
    case duplicate
    /// The key was stored with a different record.
    case conflict
}

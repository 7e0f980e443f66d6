#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import GRDB

/// The embedded backend: one SQLite file (WAL, synchronous=FULL, mode 0600), for the demo, tests and a single
/// receiver. Every statement runs on GRDB's own dispatch queues, never on Swift's cooperative pool.
public final class SQLiteReceiverStorage: ReceiverStorage {
    let pool: DatabasePool

    public init(path: String) throws {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)   // private before SQLite creates -wal/-shm from its mode
        if fd >= 0 { fchmod(fd, 0o600); close(fd) }
        do {
            var config = Configuration()
            // secure_delete: a deleted record's bytes are overwritten in the file, not left in free pages.
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON") }
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB sets the writer to synchronous=NORMAL when it enables WAL; a 201 must survive a power cut: FULL.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.write { db in try Self.migrate(db) }
        } catch {
            throw ReceiverError(.storage, "cannot open the receiver database \(path)", cause: error)
        }
        chmod(path, 0o600)
    }

    static func migrate(_ db: Database) throws {
        // `received` keeps its original columns (tests and tools read id, json, received_at, duplicates).
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS received (
                id TEXT PRIMARY KEY, json BLOB NOT NULL, face_bytes INTEGER NOT NULL,
                received_at REAL NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0)
            """)
        let columns = try db.columns(in: "received").map(\.name)
        if !columns.contains("device_id") { try db.execute(sql: "ALTER TABLE received ADD COLUMN device_id TEXT") }
        if !columns.contains("checkpoint_id") { try db.execute(sql: "ALTER TABLE received ADD COLUMN checkpoint_id TEXT") }
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS heartbeats (
                device_id TEXT PRIMARY KEY, checkpoint_id TEXT NOT NULL, json BLOB NOT NULL, received_at REAL NOT NULL)
            """)
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS still_requests (
                device_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, state TEXT NOT NULL, requested_at REAL NOT NULL, refusal TEXT)
            """)
    }

    public func putStillRequest(_ r: StillRequestRecord) async throws {
        do {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO still_requests (device_id, request_id, state, requested_at, refusal) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET request_id = excluded.request_id, state = excluded.state,
                        requested_at = excluded.requested_at, refusal = excluded.refusal
                    """, arguments: [r.deviceId, r.requestId, r.state.rawValue, r.requestedAt.timeIntervalSince1970, r.refusal?.rawValue])
            }
        } catch {
            throw ReceiverError(.storage, "cannot store a still request", cause: error)
        }
    }

    public func stillRequests() async throws -> [StillRequestRecord] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT device_id, request_id, state, requested_at, refusal FROM still_requests")
                    .compactMap(Self.stillRequest)
            }
        } catch {
            throw ReceiverError(.storage, "cannot read the still requests", cause: error)
        }
    }

    public func advanceStillRequest(deviceId: String, requestId: String?, from: [StillRequestRecord.State], to state: StillRequestRecord.State,
                                    refusal: StillRefusal.Reason?) async throws -> StillRequestRecord? {
        do {
            return try await pool.write { db in
                let states = from.map { "'\($0.rawValue)'" }.joined(separator: ",")   // enum raw values: letters only
                return try Row.fetchOne(db, sql: """
                    UPDATE still_requests SET state = ?, refusal = ?
                    WHERE device_id = ? AND state IN (\(states)) AND (? IS NULL OR request_id = ?)
                    RETURNING device_id, request_id, state, requested_at, refusal
                    """, arguments: [state.rawValue, refusal?.rawValue, deviceId, requestId, requestId]).flatMap(Self.stillRequest)
            }
        } catch {
            throw ReceiverError(.storage, "cannot update a still request", cause: error)
        }
    }

    static func stillRequest(_ row: Row) -> StillRequestRecord? {
        guard let state = StillRequestRecord.State(rawValue: row[2]) else { return nil }
        return StillRequestRecord(deviceId: row[0], requestId: row[1], state: state, requestedAt: Date(timeIntervalSince1970: row[3]),
                                  refusal: (row[4] as String?).flatMap(StillRefusal.Reason.init(rawValue:)))
    }

    public func insertRecord(_ r: IncomingRecord) async throws -> InsertOutcome {
        do {
            return try await pool.write { db in
                if let existing = try Data.fetchOne(db, sql: "SELECT json FROM received WHERE id = ?", arguments: [r.id]) {
                    guard existing == r.json else { return .conflict }
                    try db.execute(sql: "UPDATE received SET duplicates = duplicates + 1 WHERE id = ?", arguments: [r.id])
                    return .duplicate
                }
                try db.execute(
                    sql: "INSERT INTO received (id, json, face_bytes, received_at, device_id, checkpoint_id) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [r.id, r.json, r.faceBytes, r.receivedAt.timeIntervalSince1970, r.deviceId, r.checkpointId])
                return .stored
            }
        } catch {
            throw ReceiverError(.storage, "cannot store a record", cause: error)
        }
    }

    public func storeHeartbeat(_ h: IncomingHeartbeat) async throws {
        do {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO heartbeats (device_id, checkpoint_id, json, received_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET checkpoint_id = excluded.checkpoint_id, json = excluded.json,
                        received_at = excluded.received_at
                    WHERE excluded.received_at >= heartbeats.received_at
                    """, arguments: [h.deviceId, h.checkpointId, h.json, h.receivedAt.timeIntervalSince1970])
            }
        } catch {
            throw ReceiverError(.storage, "cannot store a heartbeat", cause: error)
        }
    }

    public func latestHeartbeats() async throws -> [IncomingHeartbeat] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT device_id, checkpoint_id, json, received_at FROM heartbeats ORDER BY device_id").map {
                    IncomingHeartbeat(deviceId: $0[0], checkpointId: $0[1], json: $0[2], receivedAt: Date(timeIntervalSince1970: $0[3]))
                }
            }
        } catch {
            throw ReceiverError(.storage, "cannot read heartbeats", cause: error)
        }
    }

    public func purgeRecords(receivedBefore cutoff: Date) async throws -> [String] {
        do {
            let ids = try await pool.write { db -> [String] in
                let ids = try String.fetchAll(db, sql: "SELECT id FROM received WHERE received_at < ?", arguments: [cutoff.timeIntervalSince1970])
                try db.execute(sql: "DELETE FROM received WHERE received_at < ?", arguments: [cutoff.timeIntervalSince1970])
                return ids
            }
            if !ids.isEmpty {
                // The WAL still holds the deleted rows' old pages until it is checkpointed and truncated.
                try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            }
            return ids
        } catch {
            throw ReceiverError(.storage, "cannot purge old records", cause: error)
        }
    }

    public func recordIDs() async throws -> [String] {
        do {
            return try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM received ORDER BY received_at") }
        } catch {
            throw ReceiverError(.storage, "cannot list records", cause: error)
        }
    }
}

import Foundation
import Logging
import PostgresNIO

/// The production backend: PostgreSQL through postgres-nio. Deduplication is the `received` table's primary key
/// (`INSERT … ON CONFLICT (id) DO NOTHING`), so any number of receivers behind a load balancer can share one
/// database with no coordination between them: scaling out is adding instances.
///
/// The client's connection pool must be running (`client.run()`, a service) while the storage is used.
public final class PostgresReceiverStorage: ReceiverStorage {
    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger = Logger(label: "checkpoint-receiver.postgres")) {
        self.client = client
        self.logger = logger
    }

    /// A client for `postgres://user[:password]@host[:port]/database` (TLS off for loopback and Unix sockets
    /// only; `?sslmode=require` asks for TLS elsewhere). The password may also come from `PGPASSWORD`.
    public static func client(url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                              logger: Logger) throws -> PostgresClient {
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()),
              let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else {
            throw ReceiverError(.configuration, "--postgres must be postgres://user[:password]@host[:port]/database")
        }
        let database = String(c.path.drop(while: { $0 == "/" }))
        let password = c.password ?? environment["PGPASSWORD"]
        let requireTLS = c.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } ?? false
        if !requireTLS && !ReceiverServer.isLoopback(host) {
            throw ReceiverError(.configuration, "PostgreSQL at \(host) without TLS: add ?sslmode=require (plain connections only on loopback)")
        }
        var config = PostgresClient.Configuration(host: host, port: c.port ?? 5432, username: user, password: password,
                                                  database: database.isEmpty ? nil : database,
                                                  tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        config.options.maximumConnections = 16
        return PostgresClient(configuration: config, backgroundLogger: logger)
    }

    /// Creates the tables if they are missing. Several receivers starting at once take turns (an advisory lock).
    public func migrate() async throws {
        do {
            try await client.withTransaction(logger: logger) { conn in
                try await conn.query("SELECT pg_advisory_xact_lock(2026120720)", logger: logger)
                try await conn.query("""
                    CREATE TABLE IF NOT EXISTS received (
                        id TEXT PRIMARY KEY, json BYTEA NOT NULL, face_bytes INTEGER NOT NULL,
                        received_at TIMESTAMPTZ NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0,
                        device_id TEXT, checkpoint_id TEXT)
                    """, logger: logger)
                try await conn.query("CREATE INDEX IF NOT EXISTS received_device ON received (device_id, received_at)", logger: logger)
                try await conn.query("""
                    CREATE TABLE IF NOT EXISTS heartbeats (
                        device_id TEXT PRIMARY KEY, checkpoint_id TEXT NOT NULL, json BYTEA NOT NULL, received_at TIMESTAMPTZ NOT NULL)
                    """, logger: logger)
            }
        } catch {
            throw ReceiverError(.storage, "cannot prepare the PostgreSQL tables", cause: error)
        }
    }

    public func insertRecord(_ r: IncomingRecord) async throws -> InsertOutcome {
        do {
            let faceBytes = r.face?.count ?? 0
            // One statement decides: a row back means this receiver stored it; none means the key existed (here or
            // from another receiver, even one committing at this moment: the unique index makes the second wait).
            let inserted = try await client.query("""
                INSERT INTO received (id, json, face_bytes, received_at, device_id, checkpoint_id)
                VALUES (\(r.id), \(r.json), \(faceBytes), \(r.receivedAt), \(r.deviceId), \(r.checkpointId))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger)
            for try await _ in inserted.decode(String.self) { return .stored }
            let same = try await client.query("""
                UPDATE received SET duplicates = duplicates + 1 WHERE id = \(r.id) AND json = \(r.json) RETURNING id
                """, logger: logger)
            for try await _ in same.decode(String.self) { return .duplicate }
            return .conflict
        } catch {
            throw ReceiverError(.storage, "cannot store a record in PostgreSQL", cause: error)
        }
    }

    public func purgeRecords(receivedBefore cutoff: Date) async throws -> [String] {
        do {
            var ids: [String] = []
            let rows = try await client.query("DELETE FROM received WHERE received_at < \(cutoff) RETURNING id", logger: logger)
            for try await id in rows.decode(String.self) { ids.append(id) }
            // VACUUM makes the dead rows' space reusable at once (PostgreSQL overwrites it as new rows arrive).
            if !ids.isEmpty { try await client.query("VACUUM received", logger: logger) }
            return ids
        } catch {
            throw ReceiverError(.storage, "cannot purge old records in PostgreSQL", cause: error)
        }
    }

    public func recordIDs() async throws -> [String] {
        do {
            var ids: [String] = []
            for try await id in try await client.query("SELECT id FROM received ORDER BY received_at, id", logger: logger).decode(String.self) {
                ids.append(id)
            }
            return ids
        } catch {
            throw ReceiverError(.storage, "cannot list records in PostgreSQL", cause: error)
        }
    }

    public func storeHeartbeat(_ h: IncomingHeartbeat) async throws {
        do {
            try await client.query("""
                INSERT INTO heartbeats (device_id, checkpoint_id, json, received_at) VALUES (\(h.deviceId), \(h.checkpointId), \(h.json), \(h.receivedAt))
                ON CONFLICT (device_id) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, json = EXCLUDED.json, received_at = EXCLUDED.received_at
                WHERE heartbeats.received_at <= EXCLUDED.received_at
                """, logger: logger)
        } catch {
            throw ReceiverError(.storage, "cannot store a heartbeat in PostgreSQL", cause: error)
        }
    }

    public func latestHeartbeats() async throws -> [IncomingHeartbeat] {
        do {
            var out: [IncomingHeartbeat] = []
            let rows = try await client.query("SELECT device_id, checkpoint_id, json, received_at FROM heartbeats ORDER BY device_id", logger: logger)
            for try await (device, checkpoint, json, at) in rows.decode((String, String, Data, Date).self) {
                out.append(IncomingHeartbeat(deviceId: device, checkpointId: checkpoint, json: json, receivedAt: at))
            }
            return out
        } catch {
            throw ReceiverError(.storage, "cannot read heartbeats from PostgreSQL", cause: error)
        }
    }
}

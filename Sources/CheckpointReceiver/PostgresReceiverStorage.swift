import CheckpointCore
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

    /// Where and how to reach PostgreSQL, from `postgres://user[:password]@host[:port]/database[?sslmode=…]`.
    ///
    /// `sslmode` (as libpq names them): `disable` (the default; loopback and Unix sockets only), `require` (TLS, the
    /// server certificate verified against the system's CAs and, when the host is a name, that name),
    /// `verify-ca` (TLS, verified against `sslrootcert=FILE`, any name) and `verify-full` (TLS, verified against
    /// `sslrootcert=FILE` and the host name in the URL). The password may also come from `PGPASSWORD`.
    public struct Target: Sendable {
        public let host: String
        public let port: Int
        public let username: String
        public let password: String?
        public let database: String?
        public let tls: TLSConfiguration?
        /// What the server certificate is checked against, for error messages.
        public let trust: String

        public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()),
                  let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else {
                throw ReceiverError(.configuration, "--postgres must be postgres://user[:password]@host[:port]/database")
            }
            let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            if let unknown = query.keys.first(where: { !["sslmode", "sslrootcert"].contains($0) }) {
                throw ReceiverError(.configuration, "--postgres: unknown parameter '\(unknown)' (known: sslmode, sslrootcert)")
            }
            let mode = query["sslmode"] ?? "disable"
            let rootCert = query["sslrootcert"]
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            switch mode {
            case "disable":
                guard ReceiverServer.isLoopback(host) else {
                    throw ReceiverError(.configuration, "PostgreSQL at \(host) without TLS: add ?sslmode=verify-full&sslrootcert=CA.pem (plain connections only on loopback)")
                }
                self.tls = nil
                self.trust = "none"
            case "require", "verify-ca", "verify-full":
                let parts = host.split(separator: ".", omittingEmptySubsequences: false)
                if mode == "verify-full" && (host.contains(":") || (parts.count == 4 && parts.allSatisfy { UInt8($0) != nil })) {
                    throw ReceiverError(.configuration, "--postgres: sslmode=verify-full checks the server's name: give its host name, not the address \(host)")
                }
                if mode == "require" {
                    guard rootCert == nil else { throw ReceiverError(.configuration, "--postgres: sslrootcert needs sslmode=verify-ca or verify-full") }
                    self.trust = "the system's CAs"
                } else {
                    guard let rootCert, !rootCert.isEmpty else {
                        throw ReceiverError(.configuration, "--postgres: sslmode=\(mode) needs sslrootcert=FILE (the CA that signed the server's certificate)")
                    }
                    let roots: [NIOSSLCertificate]
                    do { roots = try NIOSSLCertificate.fromPEMFile(rootCert) } catch {
                        throw ReceiverError(.configuration, "--postgres: cannot read the CA certificates in sslrootcert \(rootCert)", cause: error)
                    }
                    guard !roots.isEmpty else { throw ReceiverError(.configuration, "--postgres: no certificate in sslrootcert \(rootCert)") }
                    tls.trustRoots = .certificates(roots)
                    self.trust = "the CA in \(rootCert)"
                }
                if mode == "verify-ca" { tls.certificateVerification = .noHostnameVerification }
                self.tls = tls
            default:
                throw ReceiverError(.configuration, "--postgres: sslmode must be disable, require, verify-ca or verify-full (not '\(mode)')")
            }
            self.host = host
            self.port = c.port ?? 5432
            self.username = user
            self.password = c.password ?? environment["PGPASSWORD"]
            let db = String(c.path.drop(while: { $0 == "/" }))
            self.database = db.isEmpty ? nil : db
        }

        /// Connects once and closes: throws a one-line error naming the cause (server certificate not verified,
        /// connection refused, authentication) so that the receiver refuses to start instead of retrying forever.
        public func check(logger: Logger) async throws {
            let sslContext: NIOSSLContext?
            do { sslContext = try tls.map(NIOSSLContext.init(configuration:)) } catch {
                throw ReceiverError(.configuration, "--postgres: unusable TLS settings", cause: error)
            }
            let config = PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database,
                                                          tls: sslContext.map { .require($0) } ?? .disable)
            do {
                let connection = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
                try await connection.close()
            } catch {
                throw ReceiverError(.storage, "cannot connect to PostgreSQL at \(host):\(port): \(Self.reason(error, trust: trust))")
            }
        }

        /// The cause of a failed connection, in one line.
        static func reason(_ error: any Error, trust: String) -> String {
            var cause: (any Error)? = error
            var text = "\(error)"
            while let e = cause {
                if let ssl = e as? NIOSSLError {
                    return "its TLS certificate does not verify against \(trust) (\(ssl))"
                }
                if let psql = e as? PSQLError {
                    if psql.code == .sslUnsupported { return "the server does not offer TLS" }
                    if let message = psql.serverInfo?[.message] { return "the server refused: \(message)" }
                    text = "\(psql.code)"
                    cause = psql.underlying
                } else {
                    text = "\(e)"
                    cause = nil
                }
            }
            return text.replacingOccurrences(of: "\n", with: " ")
        }
    }

    /// A client (connection pool) for `target`; run it (`client.run()`) while the storage is used.
    public static func client(_ target: Target, logger: Logger) -> PostgresClient {
        var config = PostgresClient.Configuration(host: target.host, port: target.port, username: target.username, password: target.password,
                                                  database: target.database, tls: target.tls.map { .require($0) } ?? .disable)
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
                try await conn.query("""
                    CREATE TABLE IF NOT EXISTS still_requests (
                        device_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, state TEXT NOT NULL, requested_at TIMESTAMPTZ NOT NULL,
                        refusal TEXT)
                    """, logger: logger)
            }
        } catch {
            throw ReceiverError(.storage, "cannot prepare the PostgreSQL tables", cause: error)
        }
    }

    public func insertRecord(_ r: IncomingRecord) async throws -> InsertOutcome {
        do {
            let faceBytes = r.faceBytes
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

    public func putStillRequest(_ r: StillRequestRecord) async throws {
        do {
            try await client.query("""
                INSERT INTO still_requests (device_id, request_id, state, requested_at, refusal)
                VALUES (\(r.deviceId), \(r.requestId), \(r.state.rawValue), \(r.requestedAt), \(r.refusal?.rawValue))
                ON CONFLICT (device_id) DO UPDATE SET request_id = EXCLUDED.request_id, state = EXCLUDED.state,
                    requested_at = EXCLUDED.requested_at, refusal = EXCLUDED.refusal
                """, logger: logger)
        } catch {
            throw ReceiverError(.storage, "cannot store a still request in PostgreSQL", cause: error)
        }
    }

    public func stillRequests() async throws -> [StillRequestRecord] {
        do {
            var out: [StillRequestRecord] = []
            let rows = try await client.query("SELECT device_id, request_id, state, requested_at, refusal FROM still_requests", logger: logger)
            for try await row in rows.decode((String, String, String, Date, String?).self) {
                if let r = Self.stillRequest(row) { out.append(r) }
            }
            return out
        } catch {
            throw ReceiverError(.storage, "cannot read the still requests from PostgreSQL", cause: error)
        }
    }

    public func advanceStillRequest(deviceId: String, requestId: String?, from: [StillRequestRecord.State], to state: StillRequestRecord.State,
                                    refusal: StillRefusal.Reason?) async throws -> StillRequestRecord? {
        do {
            let rows = try await client.query("""
                UPDATE still_requests SET state = \(state.rawValue), refusal = \(refusal?.rawValue)
                WHERE device_id = \(deviceId) AND state = ANY(\(from.map(\.rawValue)))
                    AND (\(requestId)::text IS NULL OR request_id = \(requestId)::text)
                RETURNING device_id, request_id, state, requested_at, refusal
                """, logger: logger)
            for try await row in rows.decode((String, String, String, Date, String?).self) { return Self.stillRequest(row) }
            return nil
        } catch {
            throw ReceiverError(.storage, "cannot update a still request in PostgreSQL", cause: error)
        }
    }

    static func stillRequest(_ row: (String, String, String, Date, String?)) -> StillRequestRecord? {
        guard let state = StillRequestRecord.State(rawValue: row.2) else { return nil }
        return StillRequestRecord(deviceId: row.0, requestId: row.1, state: state, requestedAt: row.3,
                                  refusal: row.4.flatMap(StillRefusal.Reason.init(rawValue:)))
    }
}

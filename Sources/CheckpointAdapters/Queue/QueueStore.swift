#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import GRDB
import Logging

/// A record as stored in the queue, with its upload bookkeeping.
public struct StoredRecord: Sendable {
    /// Insertion order (oldest first).
    public var seq: Int64
    public var record: QueueRecord
    /// The record's JSON exactly as stored and uploaded.
    public var json: Data
    public var face: Data?
    public var attempts: Int
    public var notBefore: Date
    public var lastError: String?
    public var createdAt: Date
}

/// What the API answered to a declaration sent with an `Idempotency-Key`: replayed to a retry with the same key.
public struct IdempotentResponse: Sendable, Equatable {
    public var key: String
    /// SHA-256 (hex) of the request body; a retry with another body under the same key is refused.
    public var bodySHA256: String
    public var recordId: UUID
    /// The 201 body as first sent.
    public var response: Data

    public init(key: String, bodySHA256: String, recordId: UUID, response: Data) {
        self.key = key
        self.bodySHA256 = bodySHA256
        self.recordId = recordId
        self.response = response
    }
}

/// A permanently rejected record.
public struct DeadRecord: Sendable {
    public var seq: Int64
    public var id: UUID
    public var json: Data
    public var face: Data?
    public var reason: String
    public var deadAt: Date
}

/// Counts for `checkpointctl queue status`, `/healthz` and `/metrics`.
public struct QueueStatus: Sendable, Codable, Equatable {
    public var pending: Int
    public var dead: Int
    public var withFace: Int
    public var oldestPendingAt: Date?
    public var usedBytes: Int64
    public var maxBytes: Int64
    public var freeDiskBytes: Int64
}

/// The durable upload queue: SQLite through GRDB, WAL with synchronous=FULL.
///
/// - A record is committed before `enqueue` returns; it is deleted only by `markDelivered` (after a 2xx) — at once,
///   or, with `uploadedRetention` (`[queue] uploaded_retention_hours`), moved to `uploaded` and really deleted by
///   `purge` once that long has passed (or sooner, first of all, when the queue needs the space).
/// - Permanently rejected records move to `dead_letter`, where they stay until a person acts (`retryDead`, or
///   export): never deleted automatically, since each is a person's declaration the province has not got.
/// - Size is bounded by `max_page_count` (set on every connection) and a free-disk floor; near full,
///   face images of the oldest records are dropped first; when full, `enqueue` throws and nothing is stored.
/// - Who opens it (`Options.access`): the daemon owns the queue and holds `PATH.lock` (flock) while it runs; the CLI
///   opens it read-only to look, or takes the same lock to change it (so it refuses while the daemon runs).
/// - At open the owner runs `PRAGMA quick_check`; only real corruption (SQLITE_CORRUPT, SQLITE_NOTADB, a failed
///   check) moves the database aside (never deleted) for a fresh one. Any other error (busy, I/O, permissions) is
///   an error, not a reason to move the live queue away. Quarantined files are reported until a person removes them.
/// - Files (db, -wal, -shm) are mode 0600. Deleted records and faces do not linger: `secure_delete` zeroes their
///   pages, and the checkpoint after such a delete truncates the write-ahead log that still held their old content.
public final class QueueStore: Sendable {
    public struct Options: Sendable {
        public var capacity: QueueCapacity
        /// Face images older than this are removed (pending and dead-lettered alike).
        public var faceRetention: Duration
        public var busyTimeout: Duration
        /// How long after a commit the background WAL checkpoint waits, so a burst of commits costs one.
        public var checkpointDelay: Duration
        /// Idempotency keys are kept while their record is held (pending or dead-lettered), and at least this long
        /// after the declaration (a retry after the record was uploaded and deleted still gets the first answer).
        public var idempotencyRetention: Duration
        /// How long a delivered record is kept (table `uploaded`) before it is really deleted; zero = at delivery.
        public var uploadedRetention: Duration
        public var access: Access
        public init(capacity: QueueCapacity = QueueCapacity(), faceRetention: Duration = .seconds(7 * 24 * 3600),
                    busyTimeout: Duration = .seconds(5), checkpointDelay: Duration = .milliseconds(200),
                    idempotencyRetention: Duration = .seconds(24 * 3600), uploadedRetention: Duration = .zero,
                    access: Access = .owner) {
            self.capacity = capacity
            self.faceRetention = faceRetention
            self.uploadedRetention = uploadedRetention
            self.busyTimeout = busyTimeout
            self.checkpointDelay = checkpointDelay
            self.idempotencyRetention = idempotencyRetention
            self.access = access
        }
    }

    /// How a process uses the queue.
    public enum Access: Sendable, Equatable {
        /// The daemon: holds the lock for its lifetime, creates and migrates the database, and is the only one that
        /// may move a corrupt database aside.
        case owner
        /// A technician's change (retry-dead, drain): takes the lock, so it refuses while the daemon runs; never
        /// moves the database aside.
        case maintenance
        /// A technician's look (status, list, show, export): no lock, read-only, safe beside the running daemon.
        case readOnly
    }

    public let path: String
    public let options: Options
    /// Where a corrupt database found at open was moved, if one was.
    public let quarantinedTo: String?
    /// Corrupt databases moved aside, now or by an earlier start, still beside the queue: each may hold declarations
    /// that were never uploaded, so they are reported (`/healthz`, `STATUS=`) until a person deals with them.
    public var quarantinedFiles: [String] {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent + ".corrupt-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        return names.filter { $0.hasPrefix(base) && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }.sorted()
            .map { ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent($0) }
    }
    /// The flock on `PATH.lock` held by an owner or a maintenance opener (−1 for read-only).
    private let lockFD: Int32
    private let pool: DatabasePool
    private let logger: Logger
    /// SQLite commits block on fsync: async callers go through this thread, never the cooperative pool.
    private let thread = DedicatedThread(name: "ckpt.queue")
    private let pageSize: Int64
    /// Checkpoints the WAL off the commit path (see `WALCheckpointer`).
    private let checkpointer: WALCheckpointer?

    public init(path: String, options: Options = Options(), logger: Logger = Logger(label: "checkpointd.queue")) throws {
        self.path = path
        self.options = options
        self.logger = logger
        let dir = (path as NSString).deletingLastPathComponent
        if options.access == .readOnly {
            guard FileManager.default.fileExists(atPath: path) else { throw AdapterError(.storage, "no queue database at \(path)") }
            lockFD = -1
        } else {
            if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            lockFD = try Self.lock(path)
        }
        var quarantined: String?
        if options.access != .readOnly { Self.createPrivateFile(path) }
        var opened: DatabasePool?
        do {
            let pool = try Self.openPool(path: path, options: options)
            let verdict = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            if verdict != ["ok"] {
                throw AdapterError(.queueCorrupt, "quick_check failed", cause: .sqlite(verdict.prefix(5).joined(separator: "; ")))
            }
            opened = pool
        } catch {
            guard options.access == .owner, Self.isCorruption(error) else {
                if lockFD >= 0 { close(lockFD) }
                // Busy, I/O, permissions: the file may be fine and in use. Never move it; say what went wrong.
                if let e = error as? AdapterError { throw e }
                throw AdapterError(.storage, "cannot open queue database \(path)", cause: .sqlite("\(error)"))
            }
            let target = "\(path).corrupt-\(Int(Date().timeIntervalSince1970))"
            logger.critical("queue database failed its check; moving it aside and starting a fresh one",
                            metadata: ["path": "\(path)", "quarantine": "\(target)", "error": "\(error)"])
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                if rename(path + suffix, target + suffix) != 0 {
                    throw AdapterError.posix(.storage, "cannot move corrupt queue database \(path + suffix) aside")
                }
            }
            quarantined = target
        }
        if opened == nil {
            Self.createPrivateFile(path)
            opened = try Self.openPool(path: path, options: options)
        }
        self.pool = opened!
        self.quarantinedTo = quarantined
        self.pageSize = try pool.read { db in try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096 }
        if options.access == .readOnly {
            // A look only: no checkpoint connection, no migration, no chmod.
            self.checkpointer = nil
            return
        }
        do {
            var config = Configuration()
            config.busyMode = .timeout(TimeInterval(options.busyTimeout.components.seconds))
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            self.checkpointer = try WALCheckpointer(path: path, configuration: config, delay: options.checkpointDelay)
        } catch let e as DatabaseError {
            throw AdapterError(.storage, "cannot open the queue database's checkpoint connection \(path)", cause: .sqlite(e.description))
        }
        try migrate()
        for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) }
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    /// Takes `PATH.lock` (flock, exclusive, not waiting) and writes our pid into it; the kernel drops it when the
    /// process ends, however it ends. Held by someone else → an error naming the holder.
    private static func lock(_ path: String) throws -> Int32 {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AdapterError.posix(.storage, "cannot open the queue lock \(lockPath)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buf.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            if e == EWOULDBLOCK {
                throw AdapterError(.queueLocked, "the queue \(path) is in use by process \(holder) (the running checkpointd?): "
                                   + "stop it first (systemctl stop checkpointd), or use a read-only command")
            }
            throw AdapterError(.storage, "cannot lock the queue \(lockPath)", cause: .errno(e))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    /// Whether an open or check error means the file itself is damaged (and only then may it be moved aside).
    static func isCorruption(_ error: any Error) -> Bool {
        if let e = error as? DatabaseError { return e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB }
        if let e = error as? AdapterError, e.code == .queueCorrupt { return true }
        return false
    }

    private static func createPrivateFile(_ path: String) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { fchmod(fd, 0o600); close(fd) }
    }

    private static func openPool(path: String, options: Options) throws -> DatabasePool {
        var config = Configuration()
        config.readonly = options.access == .readOnly
        config.busyMode = .timeout(TimeInterval(options.busyTimeout.components.seconds))
        config.label = "queue"
        let maxBytes = options.capacity.maxBytes
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted declarations and dropped faces are overwritten with zeros, not left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // Checkpoints run in the background (WALCheckpointer); the commit path does one only as a backstop.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.backstopPages)")
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            // max_page_count is per connection: set it on every one.
            try db.execute(sql: "PRAGMA max_page_count = \(max(16, maxBytes / pageSize))")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            if options.access == .readOnly { return pool }
            // GRDB switches a pool's writer to synchronous=NORMAL when it enables WAL, after prepareDatabase ran.
            // NORMAL can lose the last commits at a power cut, and a kiosk loses power: back to FULL, so that a
            // record confirmed to a person survives one.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            return pool
        } catch let e as DatabaseError {
            throw AdapterError(.storage, "cannot open queue database \(path)", cause: .sqlite(e.description))
        }
    }

    private func migrate() throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE records (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    json BLOB NOT NULL,
                    face BLOB,
                    created_at REAL NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    not_before REAL NOT NULL,
                    last_error TEXT
                );
                CREATE INDEX records_due ON records(not_before, seq);
                CREATE TABLE dead_letter (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    json BLOB NOT NULL,
                    face BLOB,
                    created_at REAL NOT NULL,
                    reason TEXT NOT NULL,
                    dead_at REAL NOT NULL
                );
                """)
        }
        // A declaration's Idempotency-Key, with the answer it got: a retried POST is answered the same, even after a restart.
        migrator.registerMigration("v2-idempotency") { db in
            try db.execute(sql: """
                CREATE TABLE idempotency (
                    key TEXT PRIMARY KEY,
                    body_sha256 TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    response BLOB NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE INDEX idempotency_created ON idempotency(created_at);
                """)
        }
        // Delivered records kept for `uploadedRetention` before their real deletion.
        migrator.registerMigration("v3-uploaded") { db in
            try db.execute(sql: """
                CREATE TABLE uploaded (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    json BLOB NOT NULL,
                    face BLOB,
                    created_at REAL NOT NULL,
                    uploaded_at REAL NOT NULL
                );
                CREATE INDEX uploaded_at ON uploaded(uploaded_at);
                """)
        }
        do { try migrator.migrate(pool) } catch let e as DatabaseError {
            throw AdapterError(.storage, "cannot create queue tables", cause: .sqlite(e.description))
        }
    }

    /// A write transaction; after it commits, a background checkpoint is scheduled. `erasing` marks a commit that
    /// deleted personal data (a delivered record, a purged face): its old content must leave the log too, so the
    /// checkpoint that follows also truncates the WAL.
    private func commit<T>(erasing: Bool = false, _ updates: (Database) throws -> T) throws -> T {
        let result = try pool.write(updates)
        checkpointer?.noteCommit(erasing: erasing)
        return result
    }

    /// Runs store operations on the store's own thread; async callers use `AsyncQueueStore`, which calls this.
    func io<T: Sendable>(_ body: @escaping @Sendable (QueueStore) throws -> T) async throws -> T {
        try await thread.run { [self] in try body(self) }
    }

    // MARK: - Enqueue

    /// Stores a record durably (committed with synchronous=FULL before returning), with its idempotency key and answer
    /// in the same transaction when given.
    /// Throws `AdapterError(.queueFull)` (queue limit: HTTP 503), `AdapterError(.diskFull)` (HTTP 507) or
    /// `AdapterError(.idempotencyKeyTaken)` (a concurrent request stored the same key first); nothing is stored then.
    public func enqueue(_ record: QueueRecord, face: Data?, idempotency: IdempotentResponse? = nil, now: Date = Date()) throws {
        let json = try record.encoded()
        let incoming = Int64(json.count + (face?.count ?? 0) + 256)
        var freedOnce = false
        while true {
            let state = options.capacity.evaluate(usedBytes: try usedBytes(), incomingBytes: incoming, freeDiskBytes: freeDiskBytes())
            switch state {
            case .diskFull:
                throw AdapterError(.diskFull, "free disk space is below the floor of \(options.capacity.freeDiskFloor) bytes")
            case .queueFull:
                if !freedOnce, try dropOldestFaces(bytes: incoming + Int64(Double(options.capacity.maxBytes) * 0.05)) > 0 {
                    freedOnce = true
                    continue
                }
                throw AdapterError(.queueFull, "the queue holds its limit of \(options.capacity.maxBytes) bytes")
            case .nearFull(let bytesToFree):
                if !freedOnce { _ = try dropOldestFaces(bytes: bytesToFree); freedOnce = true }
            case .ok:
                break
            }
            break
        }
        do {
            try insert(record, json: json, face: face, idempotency: idempotency, now: now)
        } catch let e as DatabaseError where e.resultCode == .SQLITE_FULL {
            // The page limit (or the disk) was hit inside the transaction: it rolled back, nothing is stored.
            if !freedOnce, try dropOldestFaces(bytes: incoming * 2) > 0 {
                return try enqueueAfterFree(record, json: json, face: face, idempotency: idempotency, now: now)
            }
            throw AdapterError(.queueFull, "the queue database is full (\(e.message ?? "SQLITE_FULL"))")
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT && idempotency != nil {
            throw AdapterError(.idempotencyKeyTaken, "another request stored this Idempotency-Key first", cause: .sqlite(e.description))
        } catch let e as DatabaseError {
            throw AdapterError(.storage, "cannot store record", cause: .sqlite(e.description))
        }
    }

    private func enqueueAfterFree(_ record: QueueRecord, json: Data, face: Data?, idempotency: IdempotentResponse?, now: Date) throws {
        do {
            try insert(record, json: json, face: face, idempotency: idempotency, now: now)
        } catch let e as DatabaseError where e.resultCode == .SQLITE_FULL {
            throw AdapterError(.queueFull, "the queue database is full (\(e.message ?? "SQLITE_FULL"))")
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT && idempotency != nil {
            throw AdapterError(.idempotencyKeyTaken, "another request stored this Idempotency-Key first", cause: .sqlite(e.description))
        }
    }

    /// The record and its idempotency key in one transaction: both or neither.
    private func insert(_ record: QueueRecord, json: Data, face: Data?, idempotency: IdempotentResponse?, now: Date) throws {
        try commit { db in
            try db.execute(sql: "INSERT INTO records (id, json, face, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
                           arguments: [record.id.uuidString, json, face, now.timeIntervalSince1970, now.timeIntervalSince1970])
            if let i = idempotency {
                try db.execute(sql: "INSERT INTO idempotency (key, body_sha256, record_id, response, created_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [i.key, i.bodySHA256, i.recordId.uuidString, i.response, now.timeIntervalSince1970])
            }
        }
    }

    /// The answer stored for an idempotency key, if a declaration was stored under it.
    public func idempotentResponse(key: String) throws -> IdempotentResponse? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM idempotency WHERE key = ?", arguments: [key]).map { row in
                let id: String = row["record_id"]
                return IdempotentResponse(key: row["key"], bodySHA256: row["body_sha256"], recordId: UUID(uuidString: id) ?? UUID(),
                                          response: row["response"])
            }
        }
    }

    /// Frees about `bytes`: first delivered records kept by `uploadedRetention` (oldest first; the province has
    /// them), then face images of the oldest records (pending first, then dead-lettered). Undelivered declarations
    /// are never touched. Returns the bytes freed.
    @discardableResult
    public func dropOldestFaces(bytes: Int64) throws -> Int64 {
        try commit(erasing: true) { db in
            var freed: Int64 = 0
            let kept = try Row.fetchAll(db, sql: "SELECT seq, length(json) + IFNULL(length(face), 0) AS n FROM uploaded ORDER BY uploaded_at LIMIT 500")
            for row in kept where freed < bytes {
                let seq: Int64 = row["seq"]
                let n: Int64 = row["n"]
                try db.execute(sql: "DELETE FROM uploaded WHERE seq = ?", arguments: [seq])
                freed += n
            }
            if freed >= bytes { return freed }
            for table in ["records", "dead_letter"] {
                let rows = try Row.fetchAll(db, sql: "SELECT seq, length(face) AS n FROM \(table) WHERE face IS NOT NULL ORDER BY seq LIMIT 500")
                for row in rows where freed < bytes {
                    let seq: Int64 = row["seq"]
                    let n: Int64 = row["n"]
                    try db.execute(sql: "UPDATE \(table) SET face = NULL WHERE seq = ?", arguments: [seq])
                    freed += n
                }
                if freed >= bytes { break }
            }
            if freed > 0 { logger.warning("queue near full: dropped old face images", metadata: ["bytes": "\(freed)"]) }
            return freed
        }
    }

    // MARK: - Upload side

    /// The oldest record that is due at `now` (records still backing off are skipped, so none blocks the line).
    /// A row that no longer decodes (a poison row) would block the line forever: it is moved to the dead letter with
    /// the reason "undecodable", which raises the dead-letter alert, and the next one is returned.
    ///
    /// `horizon` is the longest backoff the upload policy can set: a record due further ahead than that was scheduled
    /// by a wall clock that has since stepped back (an RTC corrected by NTP), so it is due now rather than stalled.
    public func nextDue(now: Date = Date(), horizon: Duration? = nil) throws -> StoredRecord? {
        let latest = horizon.map { now.timeIntervalSince1970 + Double($0.components.seconds) } ?? .infinity
        while true {
            let row = try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM records WHERE not_before <= ? OR not_before > ? ORDER BY seq LIMIT 1",
                                 arguments: [now.timeIntervalSince1970, latest])
            }
            guard let row else { return nil }
            do {
                return try Self.stored(row)
            } catch {
                let seq: Int64 = row["seq"]
                let id: String = row["id"]
                try commit { db in
                    try Self.moveToDeadLetter(db, column: "seq", key: seq,
                                              reason: "undecodable record: its stored JSON no longer reads as a record", now: now)
                }
                // The id only: the content may be personal data, and the decoder's message may quote it.
                logger.critical("queue record cannot be decoded; moved to the dead letter so the rest can flow", metadata: ["record_id": "\(id.lowercased())"])
            }
        }
    }

    /// When the earliest pending record becomes due.
    public func earliestDue() throws -> Date? {
        try pool.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(not_before) FROM records").map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// After a 2xx: the record leaves the queue — deleted at once, or kept in `uploaded` for `uploadedRetention`.
    public func markDelivered(id: UUID, now: Date = Date()) throws {
        let keep = options.uploadedRetention > .zero
        try commit(erasing: !keep) { db in
            if keep {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO uploaded (seq, id, json, face, created_at, uploaded_at)
                    SELECT seq, id, json, face, created_at, ? FROM records WHERE id = ?
                    """, arguments: [now.timeIntervalSince1970, id.uuidString])
            }
            try db.execute(sql: "DELETE FROM records WHERE id = ?", arguments: [id.uuidString])
        }
    }

    /// How many delivered records are kept (awaiting their deletion after `uploadedRetention`).
    public func uploadedCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM uploaded") ?? 0 }
    }

    public func reschedule(id: UUID, notBefore: Date, attempts: Int, error: String) throws {
        try commit { db in
            try db.execute(sql: "UPDATE records SET not_before = ?, attempts = ?, last_error = ? WHERE id = ?",
                           arguments: [notBefore.timeIntervalSince1970, attempts, String(error.prefix(500)), id.uuidString])
        }
    }

    /// Moves a record to the dead-letter table (one transaction).
    public func deadLetter(id: UUID, reason: String, now: Date = Date()) throws {
        try commit { db in
            try Self.moveToDeadLetter(db, column: "id", key: id.uuidString, reason: String(reason.prefix(500)), now: now)
        }
    }

    /// The one move from `records` to `dead_letter`, by `seq` or by `id` (inside the caller's transaction).
    private static func moveToDeadLetter(_ db: Database, column: StaticString, key: some DatabaseValueConvertible,
                                         reason: String, now: Date) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO dead_letter (seq, id, json, face, created_at, reason, dead_at)
            SELECT seq, id, json, face, created_at, ?, ? FROM records WHERE \(column) = ?
            """, arguments: [reason, now.timeIntervalSince1970, key])
        try db.execute(sql: "DELETE FROM records WHERE \(column) = ?", arguments: [key])
    }

    /// Moves every dead-lettered record back into the queue, due now. Returns how many.
    @discardableResult
    public func retryDead(now: Date = Date()) throws -> Int {
        try commit { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO records (seq, id, json, face, created_at, attempts, not_before, last_error)
                SELECT seq, id, json, face, created_at, 0, ?, 'retried from dead letter' FROM dead_letter
                """, arguments: [now.timeIntervalSince1970])
            let n = db.changesCount
            try db.execute(sql: "DELETE FROM dead_letter WHERE id IN (SELECT id FROM records)")
            return n
        }
    }

    /// Makes every pending record due now (used when the link comes back, and by tests).
    public func makeAllDue(now: Date = Date()) throws {
        try commit { db in try db.execute(sql: "UPDATE records SET not_before = ?", arguments: [now.timeIntervalSince1970]) }
    }

    // MARK: - Retention

    /// Removes face images older than the retention (pending, dead-lettered and kept delivered records alike),
    /// delivered records kept longer than `uploadedRetention`, and idempotency keys whose record is gone and that are
    /// older than `idempotencyRetention`. Returns how many faces were removed.
    /// Undelivered declarations are never purged here: pending ones wait for delivery, dead letters for a person.
    @discardableResult
    public func purge(now: Date = Date()) throws -> Int {
        let faceCutoff = now.timeIntervalSince1970 - options.faceRetention.components.seconds.doubleValue
        let keyCutoff = now.timeIntervalSince1970 - options.idempotencyRetention.components.seconds.doubleValue
        let uploadedCutoff = now.timeIntervalSince1970 - options.uploadedRetention.components.seconds.doubleValue
        return try commit(erasing: true) { db in
            try db.execute(sql: "DELETE FROM uploaded WHERE uploaded_at <= ?", arguments: [uploadedCutoff])
            try db.execute(sql: "UPDATE uploaded SET face = NULL WHERE face IS NOT NULL AND created_at < ?", arguments: [faceCutoff])
            defer {
                try? db.execute(sql: """
                    DELETE FROM idempotency WHERE created_at < ?
                      AND record_id NOT IN (SELECT id FROM records) AND record_id NOT IN (SELECT id FROM dead_letter)
                    """, arguments: [keyCutoff])
            }
            try db.execute(sql: "UPDATE records SET face = NULL WHERE face IS NOT NULL AND created_at < ?", arguments: [faceCutoff])
            var faces = db.changesCount
            try db.execute(sql: "UPDATE dead_letter SET face = NULL WHERE face IS NOT NULL AND created_at < ?", arguments: [faceCutoff])
            faces += db.changesCount
            return faces
        }
    }

    // MARK: - Inspection

    /// How many records the dead letter holds.
    public func deadLetterCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letter") ?? 0 }
    }

    public func status() throws -> QueueStatus {
        let used = try usedBytes()
        return try pool.read { db in
            QueueStatus(
                pending: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") ?? 0,
                dead: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letter") ?? 0,
                withFace: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records WHERE face IS NOT NULL") ?? 0,
                oldestPendingAt: try Double.fetchOne(db, sql: "SELECT MIN(created_at) FROM records").map { Date(timeIntervalSince1970: $0) },
                usedBytes: used, maxBytes: options.capacity.maxBytes, freeDiskBytes: freeDiskBytes())
        }
    }

    public func list(limit: Int = 100) throws -> [StoredRecord] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM records ORDER BY seq LIMIT ?", arguments: [limit]).map(Self.stored) }
    }

    public func listDead(limit: Int = 100) throws -> [DeadRecord] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM dead_letter ORDER BY seq LIMIT ?", arguments: [limit]).map(Self.dead) }
    }

    public func find(id: UUID) throws -> StoredRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM records WHERE id = ?", arguments: [id.uuidString]).map(Self.stored)
        }
    }

    public func findDead(id: UUID) throws -> DeadRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM dead_letter WHERE id = ?", arguments: [id.uuidString]).map(Self.dead)
        }
    }

    /// The writer connection's journal mode and `synchronous` level (2 = FULL: every commit is fsynced).
    public func writerDurability() throws -> (journalMode: String, synchronous: Int) {
        try pool.writeWithoutTransaction { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }

    /// The writer's `wal_autocheckpoint` (pages): a backstop only, checkpoints run in the background.
    public func writerAutocheckpointPages() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? -1 }
    }

    /// Background WAL checkpoints completed since the store opened.
    public var backgroundCheckpoints: Int { checkpointer?.completedCount ?? 0 }
    /// Write-ahead-log truncations after deletions of personal data (tests and diagnostics).
    public var walTruncations: Int { checkpointer?.truncatedCount ?? 0 }

    /// `PRAGMA integrity_check` result lines ("ok" when healthy).
    public func integrityCheck() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// Bytes in use: (page_count − freelist_count) × page_size.
    public func usedBytes() throws -> Int64 {
        try pool.read { db in
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            return (pages - free) * pageSize
        }
    }

    public func freeDiskBytes() -> Int64 {
        var s = statvfs()
        let dir = (path as NSString).deletingLastPathComponent
        guard statvfs(dir.isEmpty ? "." : dir, &s) == 0 else { return Int64.max / 2 }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    private static func stored(_ row: Row) throws -> StoredRecord {
        let json: Data = row["json"]
        return StoredRecord(seq: row["seq"], record: try QueueRecord.decode(json), json: json, face: row["face"],
                            attempts: row["attempts"], notBefore: Date(timeIntervalSince1970: row["not_before"]),
                            lastError: row["last_error"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    private static func dead(_ row: Row) -> DeadRecord {
        let id: String = row["id"]
        return DeadRecord(seq: row["seq"], id: UUID(uuidString: id) ?? UUID(), json: row["json"], face: row["face"],
                          reason: row["reason"], deadAt: Date(timeIntervalSince1970: row["dead_at"]))
    }
}

extension AdapterError.Code {
    /// The queue holds its configured limit (HTTP 503).
    public static let queueFull = AdapterError.Code("queue-full")
    /// The filesystem is below the free-space floor (HTTP 507).
    public static let diskFull = AdapterError.Code("disk-full")
    /// A concurrent request stored the same Idempotency-Key first (the API answers with what that one stored).
    public static let idempotencyKeyTaken = AdapterError.Code("idempotency-key-taken")
    /// Another process (the running daemon) holds the queue's lock.
    public static let queueLocked = AdapterError.Code("queue-locked")
    /// The queue database failed its check at open (it is moved aside by its owner).
    public static let queueCorrupt = AdapterError.Code("queue-corrupt")
}

private extension Int64 {
    var doubleValue: Double { Double(self) }
}

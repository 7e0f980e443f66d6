#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
import CheckpointCore
import Foundation
import Testing

func uplinkTempDir(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "uplink-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func sampleRecord(_ i: Int = 0, wall: Date = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())) -> QueueRecord {
    QueueRecord(checkpointId: "TN-01", deviceId: "kiosk-test",
                clock: RecordClock(wallTime: wall, clockSynced: true, bootId: "boot", monotonicNanos: UInt64(i)),
                declaration: ["fullName": .string("TRAN VAN \(i)"), "birthYear": .number(1985)],
                screening: ScreeningSummary(result: .normal, rawTemperatureC: 34.0, correctedTemperatureC: 36.5, calibrationId: "c1", sensor: "s"),
                faceCaptured: true)
}

@Suite("Queue store (SQLite through GRDB)")
struct StoreQueueTests {
    @Test func storesDurablyInWALWithFullSyncAndPrivateFiles() throws {
        let dir = uplinkTempDir("store")
        let path = dir + "/q.db"
        let store = try QueueStore(path: path)
        let r = sampleRecord()
        try store.enqueue(r, face: Data([0xFF, 0xD8, 1, 2, 3]))
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            var st = stat()
            stat(path + suffix, &st)
            #expect(st.st_mode & 0o777 == 0o600, "\(suffix) mode")
        }
        // A second, independent SQLite connection (another process would see the same) finds the committed row.
        let reopened = try QueueStore(path: path, options: .init(access: .readOnly))
        let found = try #require(try reopened.find(id: r.id))
        #expect(found.record == r)
        #expect(found.face == Data([0xFF, 0xD8, 1, 2, 3]))
        let header = try #require(FileManager.default.contents(atPath: path))
        #expect(header[18] == 2 && header[19] == 2, "file format bytes 18/19 = 2 mean WAL")
        #expect(try store.integrityCheck() == ["ok"])
        // Every commit is fsynced (FULL), not just checkpoints (NORMAL, GRDB's WAL default): a power cut after
        // a confirmed enqueue must not take the record with it. Same after the owner reopens it.
        let durability = try store.writerDurability()
        #expect(durability.journalMode == "wal")
        #expect(durability.synchronous == 2)
        try Self.reopenedByANewOwner(path)
    }

    /// Opens a copy of the queue as a new owner (the first store keeps its lock on the original) and checks the
    /// writer is WAL + FULL there too.
    static func reopenedByANewOwner(_ path: String) throws {
        let dir = uplinkTempDir("reopen")
        let copy = dir + "/q.db"
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix)
        }
        let reopened = try QueueStore(path: copy)
        let durability = try reopened.writerDurability()
        #expect(durability.journalMode == "wal")
        #expect(durability.synchronous == 2)
    }

    @Test func walCheckpointsRunInTheBackgroundNotInsideEnqueue() async throws {
        func size(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? -1 }
        let face = Data(repeating: 0xAB, count: 30_000)
        // 1. With the background checkpoint held back, 200 enqueues of 30 KB (~1,700 pages, past SQLite's
        //    default autocheckpoint of 1,000) leave the database file as it was: no commit copied the log back.
        let held = uplinkTempDir("ckpt-held") + "/q.db"
        let store = try QueueStore(path: held, options: .init(checkpointDelay: .seconds(3600)))
        #expect(try store.writerAutocheckpointPages() > 1000)
        let before = size(held)
        for i in 0..<200 { try store.enqueue(sampleRecord(i), face: face) }
        #expect(size(held) == before, "the main file grew during enqueues: a commit ran a checkpoint")
        #expect(size(held + "-wal") > 200 * 30_000)
        #expect(try store.status().pending == 200)
        // 2. With the default delay, the log is copied back shortly after the burst, while the store stays open.
        let live = uplinkTempDir("ckpt-live") + "/q.db"
        let store2 = try QueueStore(path: live)
        for i in 0..<200 { try store2.enqueue(sampleRecord(i), face: face) }
        var waited = 0
        // Both events: the file grows while the checkpoint runs, and the checkpoint counts itself only once it returned.
        while (size(live) < 200 * 30_000 || store2.backgroundCheckpoints == 0) && waited < 1200 {  // up to 60 s
            try await Task.sleep(for: .milliseconds(50)); waited += 1
        }
        #expect(size(live) >= 200 * 30_000, "the database file never caught up with the log")
        #expect(store2.backgroundCheckpoints >= 1)
        // Everything is still there and intact, seen from a fresh connection.
        let reopened = try QueueStore(path: live, options: .init(access: .readOnly))
        #expect(try reopened.status().pending == 200)
        #expect(try reopened.integrityCheck() == ["ok"])
    }

    @Test func oldestFirstSkippingRecordsThatBackOff() throws {
        let store = try QueueStore(path: uplinkTempDir("order") + "/q.db")
        let t0 = Date()
        let rs = (0..<3).map { sampleRecord($0) }
        for (i, r) in rs.enumerated() { try store.enqueue(r, face: nil, now: t0.addingTimeInterval(Double(i) * 0.001)) }
        #expect(try store.nextDue(now: t0.addingTimeInterval(1))?.record.id == rs[0].id)
        try store.reschedule(id: rs[0].id, notBefore: t0.addingTimeInterval(60), attempts: 1, error: "HTTP 500")
        // the head backs off; the next one is not blocked behind it
        #expect(try store.nextDue(now: t0.addingTimeInterval(1))?.record.id == rs[1].id)
        try store.markDelivered(id: rs[1].id)
        #expect(try store.find(id: rs[1].id) == nil)
        #expect(try store.nextDue(now: t0.addingTimeInterval(1))?.record.id == rs[2].id)
        #expect(try store.nextDue(now: t0.addingTimeInterval(61))?.record.id == rs[0].id)
        #expect(try store.find(id: rs[0].id)?.lastError == "HTTP 500")
    }

    @Test func deadLetterAndRetryDead() throws {
        let store = try QueueStore(path: uplinkTempDir("dead") + "/q.db")
        let r = sampleRecord()
        try store.enqueue(r, face: Data([1, 2]))
        try store.deadLetter(id: r.id, reason: "HTTP 422: missing field")
        #expect(try store.status().pending == 0)
        let dead = try #require(try store.findDead(id: r.id))
        #expect(dead.reason == "HTTP 422: missing field")
        #expect(dead.face == Data([1, 2]))
        #expect(try store.retryDead() == 1)
        #expect(try store.status().dead == 0)
        #expect(try store.find(id: r.id)?.attempts == 0)
    }

    @Test func retentionPurgesOldFacesButKeepsDeclarationsAndNeverDeletesDeadLetters() throws {
        let store = try QueueStore(path: uplinkTempDir("ret") + "/q.db", options: .init(faceRetention: .seconds(3600)))
        let now = Date()
        let old = sampleRecord(1), fresh = sampleRecord(2), deadOld = sampleRecord(3)
        try store.enqueue(old, face: Data([1]), now: now.addingTimeInterval(-4000))
        try store.enqueue(fresh, face: Data([2]), now: now)
        try store.enqueue(deadOld, face: Data([3]), now: now.addingTimeInterval(-400 * 86400))
        try store.deadLetter(id: deadOld.id, reason: "HTTP 400", now: now.addingTimeInterval(-365 * 86400))
        let faces = try store.purge(now: now)
        #expect(faces == 2)   // the old pending one's face and the old dead one's
        #expect(try store.find(id: old.id)?.face == nil)
        #expect(try store.find(id: old.id)?.record == old)
        #expect(try store.find(id: fresh.id)?.face == Data([2]))
        // a year in the dead letter: still there, waiting for a person (it used to be purged after 30 days)
        let dead = try #require(try store.findDead(id: deadOld.id))
        #expect(dead.face == nil && dead.reason == "HTTP 400")
        #expect(try store.status().dead == 1)
    }

    /// `[queue] uploaded_retention_hours`: a delivered record is kept that long (out of the queue), then really deleted;
    /// it is the first thing dropped when the queue needs space; 0 (the default) deletes it at delivery.
    @Test func uploadedRetentionKeepsDeliveredRecordsThenDeletesThem() throws {
        let store = try QueueStore(path: uplinkTempDir("upret") + "/q.db", options: .init(uploadedRetention: .seconds(2 * 3600)))
        let t0 = Date()
        let a = sampleRecord(1), b = sampleRecord(2)
        try store.enqueue(a, face: Data([1, 2, 3]), now: t0)
        try store.enqueue(b, face: nil, now: t0)
        try store.markDelivered(id: a.id, now: t0)
        #expect(try store.find(id: a.id) == nil, "out of the queue")
        #expect(try store.status().pending == 1)
        #expect(try store.uploadedCount() == 1, "kept after delivery")
        try store.purge(now: t0.addingTimeInterval(3600))
        #expect(try store.uploadedCount() == 1, "an hour later: still kept")
        try store.purge(now: t0.addingTimeInterval(2 * 3600 + 1))
        #expect(try store.uploadedCount() == 0, "after the retention: deleted")

        try store.markDelivered(id: b.id, now: t0)
        #expect(try store.uploadedCount() == 1)
        #expect(try store.dropOldestFaces(bytes: 1) > 0, "needed space takes kept delivered records first")
        #expect(try store.uploadedCount() == 0)

        let atOnce = try QueueStore(path: uplinkTempDir("upret0") + "/q.db")
        try atOnce.enqueue(a, face: nil, now: t0)
        try atOnce.markDelivered(id: a.id)
        #expect(try atOnce.uploadedCount() == 0, "the default: deleted at delivery")
    }

    /// Decree 13/2023: a delivered declaration is really deleted. Its name and face bytes must be found in none of
    /// the database's files afterwards — not in SQLite's free pages, not in the write-ahead log.
    @Test func aDeliveredDeclarationLeavesNoTraceInTheDatabaseFiles() async throws {
        let path = uplinkTempDir("erase") + "/q.db"
        let store = try QueueStore(path: path, options: .init(checkpointDelay: .milliseconds(10)))
        func record(_ name: String, _ i: Int) -> QueueRecord {
            var r = sampleRecord(i)
            r.declaration["fullName"] = .string(name)
            return r
        }
        let gone = record("Nguyễn Thị Xoan Zq7", 1), kept = record("Lê Văn Khoa Kp3", 2)
        let goneFace = Data((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 13) } + Array("FACE-OF-XOAN".utf8))
        try store.enqueue(gone, face: goneFace)
        try store.enqueue(kept, face: Data(repeating: 0x55, count: 4000))
        for _ in 0..<200 where store.backgroundCheckpoints == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try store.markDelivered(id: gone.id)
        let deadline = Date().addingTimeInterval(30)
        while store.walTruncations == 0, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(store.walTruncations >= 1)
        func found(_ needle: String) -> [String] {
            ["", "-wal"].filter { suffix in
                guard let bytes = FileManager.default.contents(atPath: path + suffix) else { return false }
                return bytes.range(of: Data(needle.utf8)) != nil
            }.map { "q.db" + $0 }
        }
        #expect(found("Nguyễn Thị Xoan Zq7") == [], "the delivered person's name is still on disk")
        #expect(found("FACE-OF-XOAN") == [], "the delivered person's face is still on disk")
        #expect(found("Lê Văn Khoa Kp3") != [], "the search itself works: the pending record is found")
        #expect(try store.find(id: kept.id)?.record == kept)
    }

    /// A row whose JSON no longer decodes (a bug in an old version, a bit flip) used to block the uploader forever:
    /// it is moved aside to the dead letter (so an alert is raised) and the records behind it flow.
    /// A record backed off for 10 minutes by a clock a day fast is due at once when the clock steps back, not in a day.
    @Test func aRecordScheduledBeforeAClockStepBackIsDueAtOnce() throws {
        let store = try QueueStore(path: uplinkTempDir("stepback") + "/q.db")
        let fast = Date().addingTimeInterval(86_400)
        let r = sampleRecord(1)
        try store.enqueue(r, face: nil, now: fast)
        try store.reschedule(id: r.id, notBefore: fast.addingTimeInterval(600), attempts: 1, error: "HTTP 503")
        let now = Date()
        #expect(try store.nextDue(now: now) == nil, "without a horizon it waits for the wall clock")
        #expect(try store.nextDue(now: now, horizon: .seconds(3600))?.record == r)
        // within the horizon a backoff is honoured
        try store.reschedule(id: r.id, notBefore: now.addingTimeInterval(600), attempts: 2, error: "HTTP 503")
        #expect(try store.nextDue(now: now, horizon: .seconds(3600)) == nil)
    }

    @Test func aPoisonRowIsMovedAsideAndTheRestFlows() throws {
        let path = uplinkTempDir("poison") + "/q.db"
        let store = try QueueStore(path: path)
        let t0 = Date()
        let a = sampleRecord(1), b = sampleRecord(2), c = sampleRecord(3)
        for (i, r) in [a, b, c].enumerated() { try store.enqueue(r, face: nil, now: t0.addingTimeInterval(Double(i) * 0.001)) }
        // Another connection garbles b's JSON, as a bug or a bit flip would.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [path, "UPDATE records SET json = x'7b22696422' WHERE id = '\(b.id.uuidString)'"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        #expect(try store.nextDue(now: t0.addingTimeInterval(1))?.record == a)
        try store.markDelivered(id: a.id)
        #expect(try store.nextDue(now: t0.addingTimeInterval(1))?.record == c, "the poison row must not block the line")
        let dead = try #require(try store.findDead(id: b.id))
        #expect(dead.reason.contains("undecodable"))
        let st = try store.status()
        #expect(st.dead == 1 && st.pending == 1)
    }

    @Test func nearFullDropsOldestFacesThenRefusesWhenFull() throws {
        let store = try QueueStore(path: uplinkTempDir("full") + "/q.db",
                                   options: .init(capacity: QueueCapacity(maxBytes: 256 * 1024, freeDiskFloor: 0)))
        var confirmed: [UUID] = []
        var refused = 0
        for i in 0..<200 {
            let r = sampleRecord(i)
            do {
                try store.enqueue(r, face: Data(repeating: UInt8(i % 256), count: 20_000))
                confirmed.append(r.id)
            } catch let e as AdapterError {
                #expect(e.code == .queueFull)
                refused += 1
            }
        }
        // faces make room for declarations first: far more than 256 KiB / 20 KB records are kept
        #expect(confirmed.count > 30)
        let status = try store.status()
        #expect(status.pending == confirmed.count)
        #expect(status.withFace < confirmed.count)
        // the oldest lost their faces, the newest kept theirs
        #expect(try store.find(id: confirmed[0])?.face == nil)
        #expect(try store.find(id: confirmed.last!)?.face != nil)
        for id in confirmed { #expect(try store.find(id: id) != nil) }
        #expect(try store.integrityCheck() == ["ok"])
        // with faces gone, declarations alone eventually fill it: refused, never overwritten
        var refusedBare = 0
        for i in 0..<3000 {
            do { try store.enqueue(sampleRecord(1000 + i), face: nil) } catch { refusedBare += 1 }
        }
        #expect(refusedBare > 0)
        #expect(try store.find(id: confirmed[0]) != nil)
        #expect(try store.integrityCheck() == ["ok"])
        _ = refused
    }

    @Test func diskFloorRefusesWith507Code() throws {
        let store = try QueueStore(path: uplinkTempDir("floor") + "/q.db",
                                   options: .init(capacity: QueueCapacity(maxBytes: 1 << 30, freeDiskFloor: Int64.max / 4)))
        #expect(throws: AdapterError.self) { try store.enqueue(sampleRecord(), face: nil) }
        do { try store.enqueue(sampleRecord(), face: nil) } catch let e as AdapterError { #expect(e.code == .diskFull) }
        #expect(try store.status().pending == 0)
    }

    /// Another process holds the database (here: an exclusive SQLite lock). That is SQLITE_BUSY, not corruption: the
    /// open fails with a clear error and the live queue stays where it is (it used to be renamed aside).
    @Test func aBusyDatabaseIsAnErrorNeverAQuarantine() async throws {
        let dir = uplinkTempDir("busy")
        let path = dir + "/q.db"
        do {
            let store = try QueueStore(path: path)
            try store.enqueue(sampleRecord(1), face: nil)
        }
        // Another process holds the database locked until the test closes its standard input.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA locking_mode=EXCLUSIVE"); c.execute("BEGIN EXCLUSIVE"); c.execute("SELECT COUNT(*) FROM records").fetchone()
            print("locked", flush=True); sys.stdin.read()
            """, path]
        let out = Pipe(), release = Pipe()
        holder.standardOutput = out
        holder.standardInput = release
        try holder.run()
        let locked = await offPool { String(decoding: out.fileHandleForReading.availableData, as: UTF8.self) }
        #expect(locked.contains("locked"))
        await #expect(throws: AdapterError.self) {
            _ = try await offPool { try QueueStore(path: path, options: .init(busyTimeout: .seconds(1))) }
        }
        try release.fileHandleForWriting.close()
        await offPool { holder.waitUntilExit() }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!names.contains { $0.contains("corrupt") }, "moved aside: \(names)")
        #expect(FileManager.default.fileExists(atPath: path))
    }

    /// The daemon owns the queue: a second owner (or a CLI change) is refused with the holder named; a CLI look opens
    /// read-only beside it, and a read-only open of a damaged file never moves it.
    @Test func onlyTheOwnerWritesAndOnlyTheOwnerQuarantines() throws {
        let dir = uplinkTempDir("owner")
        let path = dir + "/q.db"
        let daemon = try QueueStore(path: path)
        try daemon.enqueue(sampleRecord(1), face: nil)
        do {
            _ = try QueueStore(path: path, options: .init(access: .maintenance))
            Issue.record("a second writer opened the daemon's queue")
        } catch let e as AdapterError {
            #expect(e.code == .queueLocked)
            #expect(e.message.contains("in use by process \(getpid())"), "\(e.message)")
        }
        let look = try QueueStore(path: path, options: .init(access: .readOnly))
        #expect(try look.status().pending == 1)
        #expect(throws: (any Error).self) { try look.enqueue(sampleRecord(2), face: nil) }

        let other = dir + "/broken.db"
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: other))
        #expect(throws: AdapterError.self) { _ = try QueueStore(path: other, options: .init(access: .readOnly)) }
        #expect(FileManager.default.fileExists(atPath: other))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.contains("corrupt") })
    }

    @Test func corruptDatabaseIsQuarantinedNotDeleted() throws {
        let dir = uplinkTempDir("corrupt")
        let path = dir + "/q.db"
        do {
            let store = try QueueStore(path: path)
            for i in 0..<50 { try store.enqueue(sampleRecord(i), face: Data(repeating: 7, count: 4000)) }
        }
        // scribble over the middle of the file (pages of the records table)
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        let junk = [UInt8](repeating: 0xA5, count: 8192)
        _ = junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, 8192, 4096) }
        close(fd)

        let store = try QueueStore(path: path)
        let moved = try #require(store.quarantinedTo)
        #expect(FileManager.default.fileExists(atPath: moved))
        #expect(store.quarantinedFiles == [moved], "reported until a person deals with it")
        // it is the damaged original, moved aside intact for inspection
        let kept = try #require(FileManager.default.contents(atPath: moved))
        #expect(kept.count >= 4096 + 8192)
        #expect(kept[4096..<(4096 + 8192)].allSatisfy { $0 == 0xA5 })
        #expect(try store.status().pending == 0)
        #expect(try store.integrityCheck() == ["ok"])
        try store.enqueue(sampleRecord(), face: nil)
        #expect(try store.status().pending == 1)
    }
}

@Suite struct StoreIdempotencyMigrationTests {
    /// A queue database made by the previous release (schema v1 only) is migrated in place: its records stay,
    /// and idempotency keys work afterwards.
    @Test func aV1DatabaseGainsTheIdempotencyTable() throws {
        let dir = uplinkTempDir("migrate")
        let path = dir + "/q.db"
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript('''
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1');
            CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, json BLOB NOT NULL, face BLOB,
              created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL, last_error TEXT);
            CREATE INDEX records_due ON records(not_before, seq);
            CREATE TABLE dead_letter (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, json BLOB NOT NULL, face BLOB,
              created_at REAL NOT NULL, reason TEXT NOT NULL, dead_at REAL NOT NULL);
            ''')
            db.execute("INSERT INTO records (id, json, created_at, not_before) VALUES (?, ?, 0, 0)", (sys.argv[2], sys.argv[3]))
            db.commit()
            """
        let old = sampleRecord(1)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, path, old.id.uuidString, String(decoding: try old.encoded(), as: UTF8.self)]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)

        let store = try QueueStore(path: path, options: .init(capacity: QueueCapacity(maxBytes: 64 << 20, freeDiskFloor: 0)))
        #expect(store.quarantinedTo == nil)
        #expect(try store.find(id: old.id)?.record == old)
        let next = sampleRecord(2)
        let answer = IdempotentResponse(key: "k-1", bodySHA256: "ab", recordId: next.id, response: Data("{}".utf8))
        try store.enqueue(next, face: nil, idempotency: answer)
        #expect(try store.idempotentResponse(key: "k-1") == answer)
        #expect(throws: AdapterError.self) { try store.enqueue(sampleRecord(3), face: nil, idempotency: answer) }
        #expect(try store.status().pending == 2, "a second record under the same key is not stored")
    }
}

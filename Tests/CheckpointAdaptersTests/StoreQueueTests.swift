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
        let reopened = try QueueStore(path: path)
        let found = try #require(try reopened.find(id: r.id))
        #expect(found.record == r)
        #expect(found.face == Data([0xFF, 0xD8, 1, 2, 3]))
        let header = try #require(FileManager.default.contents(atPath: path))
        #expect(header[18] == 2 && header[19] == 2, "file format bytes 18/19 = 2 mean WAL")
        #expect(try store.integrityCheck() == ["ok"])
        // Every commit is fsynced (FULL), not just checkpoints (NORMAL, GRDB's WAL default): a power cut after
        // a confirmed enqueue must not take the record with it. Same after reopening.
        for s in [store, reopened] {
            let durability = try s.writerDurability()
            #expect(durability.journalMode == "wal")
            #expect(durability.synchronous == 2)
        }
    }

    @Test func walCheckpointsRunInTheBackgroundNotInsideEnqueue() throws {
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
        while size(live) < 200 * 30_000 && waited < 1200 { usleep(50_000); waited += 1 }  // up to 60 s: generous when busy
        #expect(size(live) >= 200 * 30_000, "the database file never caught up with the log")
        #expect(store2.backgroundCheckpoints >= 1)
        // Everything is still there and intact, seen from a fresh connection.
        let reopened = try QueueStore(path: live)
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

    @Test func retentionPurgesOldFacesButKeepsDeclarations() throws {
        let store = try QueueStore(path: uplinkTempDir("ret") + "/q.db",
                                   options: .init(faceRetention: .seconds(3600), deadRetention: .seconds(7200)))
        let now = Date()
        let old = sampleRecord(1), fresh = sampleRecord(2), deadOld = sampleRecord(3)
        try store.enqueue(old, face: Data([1]), now: now.addingTimeInterval(-4000))
        try store.enqueue(fresh, face: Data([2]), now: now)
        try store.enqueue(deadOld, face: Data([3]), now: now.addingTimeInterval(-8000))
        try store.deadLetter(id: deadOld.id, reason: "HTTP 400", now: now.addingTimeInterval(-7500))
        let (faces, dead) = try store.purge(now: now)
        #expect(faces == 2)   // the old pending one's face and the old dead one's (whose row then goes too)
        #expect(dead == 1)
        #expect(try store.find(id: old.id)?.face == nil)
        #expect(try store.find(id: old.id)?.record == old)
        #expect(try store.find(id: fresh.id)?.face == Data([2]))
        #expect(try store.findDead(id: deadOld.id) == nil)
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

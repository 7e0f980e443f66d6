import Foundation
import GRDB
import Synchronization

/// Copies the queue's write-ahead log back into the database file on a thread of its own.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses `wal_autocheckpoint` (1000 pages by
/// default): with 30 KB face images that was every ~80th enqueue, which then wrote ~4 MB and fsynced the
/// database file before the person's declaration was confirmed — the whole p99 of `enqueue`. Here the
/// writer's automatic checkpoint is only a backstop (`backstopPages`), and a PASSIVE checkpoint runs on a
/// separate connection shortly after commits. PASSIVE never takes the write lock, so enqueues go on beside it;
/// the log restarts from its beginning once a checkpoint has caught up. Durability is unchanged: a commit is
/// durable when its WAL frames are fsynced (synchronous=FULL), checkpoint or not.
final class WALCheckpointer: Sendable {
    /// The writer's `wal_autocheckpoint`: only reached if background checkpoints stop keeping up.
    static let backstopPages = 8192

    private let connection: DatabaseQueue
    private let thread = DedicatedThread(name: "ckpt.walckpt")
    private let delay: Duration
    private struct State {
        var scheduled = false
        var erasing = false
        var completed = 0
        var truncated = 0
    }
    private let state = Mutex(State())

    /// - Parameter delay: how long after a commit to wait, so that a burst of commits costs one checkpoint.
    init(path: String, configuration: Configuration, delay: Duration = .milliseconds(200)) throws {
        var config = configuration
        config.label = "queue-checkpoint"
        connection = try DatabaseQueue(path: path, configuration: config)
        self.delay = delay
    }

    deinit { thread.stop() }

    /// Called after each commit: schedules one checkpoint unless one is already waiting. With `erasing`, that checkpoint
    /// also truncates the log once everything in it is in the database file (the log still holds deleted content).
    func noteCommit(erasing: Bool = false) {
        let schedule = state.withLock { s -> Bool in
            if erasing { s.erasing = true }
            if s.scheduled { return false }
            s.scheduled = true
            return true
        }
        guard schedule else { return }
        let delay = delay
        // Weak: a store that is closed meanwhile takes this connection with it at once (SQLite's last
        // connection to close checkpoints and removes the log), instead of keeping it open for the wait.
        thread.enqueue { [weak self] in
            let c = delay.components
            let ns = c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
            if ns > 0 { Thread.sleep(forTimeInterval: Double(min(ns, 10_000_000_000)) / 1e9) }  // at most 10 s
            guard let self else { return }
            let erase = self.state.withLock { s -> Bool in
                s.scheduled = false
                defer { s.erasing = false }
                return s.erasing
            }
            let r = self.checkpointNow()
            if erase {
                // Only when the passive checkpoint caught up: TRUNCATE then just waits out a commit in flight
                // (busy timeout) and empties the file, instead of copying frames while the person waits.
                if let r, r.copied == r.walFrames, self.truncateNow() {} else { self.state.withLock { $0.erasing = true } }
            }
        }
    }

    /// Empties the write-ahead log (a TRUNCATE checkpoint). Returns whether it succeeded.
    @discardableResult
    func truncateNow() -> Bool {
        let ok = (try? connection.writeWithoutTransaction { db in try db.checkpoint(.truncate) }) != nil
        if ok { state.withLock { $0.truncated += 1 } }
        return ok
    }

    /// Log truncations after deletions so far (tests and diagnostics).
    var truncatedCount: Int { state.withLock { $0.truncated } }

    /// One PASSIVE checkpoint now, on the calling thread. Returns (frames in the log, frames copied), or nil if
    /// another checkpoint was running (SQLITE_BUSY) or it failed; the next commit schedules another.
    @discardableResult
    func checkpointNow() -> (walFrames: Int, copied: Int)? {
        let r = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        if r != nil { state.withLock { $0.completed += 1 } }
        return r.map { (walFrames: $0.walFrameCount, copied: $0.checkpointedFrameCount) }
    }

    /// Checkpoints completed so far (tests and diagnostics).
    var completedCount: Int { state.withLock { $0.completed } }
}

import Foundation

/// Runs blocking work (VIDIOC_DQBUF, serial reads, curl_easy_perform, detection) on one dedicated
/// OS thread, never on Swift's cooperative pool.
///
/// Jobs run one at a time, in order, on the same thread — which is what a non-thread-safe handle
/// (an OpenCV detector, a curl easy handle) needs. The thread keeps its own job queue alive, so it
/// may outlive this object: dropping the last reference stops it after the queued jobs ran.
public final class DedicatedThread: @unchecked Sendable {
    /// The queue shared with the thread (strongly held by both).
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var jobs: [() -> Void] = []
        var stopping = false

        func loop() {
            while true {
                condition.lock()
                while jobs.isEmpty && !stopping { condition.wait() }
                if jobs.isEmpty && stopping {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                job()
            }
        }
    }

    private let queue = Queue()

    /// `name` is what `top -H`, `ps -L` and a core dump show for the thread: the kernel keeps 15 bytes of it, so
    /// it is cut there (a longer name would be refused whole).
    public init(name: String) {
        let queue = self.queue
        let shown = Self.kernelName(name)
        let thread = Thread {
            // Named from inside, as prctl(PR_SET_NAME) does: Foundation's `Thread.name` setter names the pthread
            // its creator recorded, which a new thread can run before (it then keeps its creator's name).
            try? shown.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            queue.loop()
        }
        thread.start()
    }

    /// `name` cut to the 15 bytes the kernel keeps, at a character boundary.
    static func kernelName(_ name: String) -> String {
        var shown = ""
        for c in name {
            guard shown.utf8.count + String(c).utf8.count <= 15 else { break }
            shown.append(c)
        }
        return shown
    }

    deinit { stop() }

    /// Runs `body` on the dedicated thread and resumes the caller with its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Schedules `body` without waiting for it. After `stop()`, it runs on the caller's thread.
    public func enqueue(_ body: @escaping () -> Void) {
        queue.condition.lock()
        if queue.stopping {
            queue.condition.unlock()
            body()
            return
        }
        queue.jobs.append(body)
        queue.condition.signal()
        queue.condition.unlock()
    }

    /// Lets queued jobs finish, then ends the thread.
    public func stop() {
        queue.condition.lock()
        queue.stopping = true
        queue.condition.broadcast()
        queue.condition.unlock()
    }
}

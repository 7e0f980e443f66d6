import Foundation

/// Runs blocking work (VIDIOC_DQBUF, serial reads, curl_easy_perform, detection) on one dedicated
/// OS thread, never on Swift's cooperative pool.
///
/// Jobs run one at a time, in order, on the same thread — which is what a non-thread-safe handle
/// (an OpenCV detector, a curl easy handle) needs.
public final class DedicatedThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var thread: Thread?

    public init(name: String) {
        let thread = Thread { [unowned self] in
            Thread.current.name = name
            self.loop()
        }
        self.thread = thread
        thread.start()
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

    /// Schedules `body` without waiting for it.
    public func enqueue(_ body: @escaping () -> Void) {
        condition.lock()
        if stopping {
            condition.unlock()
            body()
            return
        }
        jobs.append(body)
        condition.signal()
        condition.unlock()
    }

    /// Lets queued jobs finish, then ends the thread.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
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

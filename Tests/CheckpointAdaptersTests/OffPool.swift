import Foundation

/// Runs blocking test work (a socket read, a child process, a sleep) on a thread of its own and awaits it.
///
/// Swift Testing runs tests in parallel on the cooperative pool, which has one thread per core. A test that blocks
/// there for seconds holds a thread that the code under test needs: Hummingbird's handlers and the consumers of the
/// sensor and camera streams are tasks on that same pool. On a two-core CI machine two blocked tests froze every
/// other test for 30–60 s. So no test blocks the pool: what blocks runs here.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.name = "test.blocking"
        thread.start()
    }
}

/// The non-throwing form of `offPool`.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
        let thread = Thread { c.resume(returning: body()) }
        thread.name = "test.blocking"
        thread.start()
    }
}

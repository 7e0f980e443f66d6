import Foundation
import Testing
@testable import CheckpointAdapters

@Suite struct DedicatedThreadTests {
    @Test func runsOnItsOwnNamedThreadInOrder() async throws {
        let worker = DedicatedThread(name: "test-worker")
        let names = try await worker.run { Thread.current.name ?? "" }
        #expect(names == "test-worker")
        var results: [Int] = []
        for i in 0..<5 { results.append(try await worker.run { i * 2 }) }
        #expect(results == [0, 2, 4, 6, 8])
        worker.stop()
    }

    @Test func propagatesErrors() async {
        let worker = DedicatedThread(name: "err")
        await #expect(throws: AdapterError.self) {
            try await worker.run { throw AdapterError(.io, "boom", cause: .errno(5)) }
        }
    }
}

@Suite struct DedicatedThreadLifetimeTests {
    /// A worker dropped right after creation (a detector that failed to load) must not crash its thread.
    @Test func droppingAWorkerAtOnceIsSafe() async throws {
        for _ in 0..<200 { _ = DedicatedThread(name: "short-lived") }
        let worker = DedicatedThread(name: "after")
        #expect(try await worker.run { 42 } == 42)
    }
}

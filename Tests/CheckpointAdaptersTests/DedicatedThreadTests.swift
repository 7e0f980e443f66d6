import Foundation
import Testing
@testable import CheckpointAdapters

@Suite struct DedicatedThreadTests {
    /// The name the kernel shows for the calling thread (what `top -H` and `ps -L` print).
    static func osThreadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
    }

    @Test func runsOnItsOwnNamedThreadInOrder() async throws {
        let worker = DedicatedThread(name: "test-worker")
        let names = try await worker.run { Self.osThreadName() }
        #expect(names == "test-worker")
        var results: [Int] = []
        for i in 0..<5 { results.append(try await worker.run { i * 2 }) }
        #expect(results == [0, 2, 4, 6, 8])
        worker.stop()
    }

    /// The kernel keeps 15 bytes of a thread's name and refuses a longer one whole: the name is cut, not lost.
    @Test func aLongNameIsCutToWhatTheKernelKeeps() async throws {
        let worker = DedicatedThread(name: "checkpointd.uploader-thread")
        #expect(try await worker.run { Self.osThreadName() } == "checkpointd.upl")
        worker.stop()
        #expect(DedicatedThread.kernelName("nhiệt-độ-cảm-biến") == "nhiệt-độ-c")
        #expect(DedicatedThread.kernelName("ckpt.queue") == "ckpt.queue")
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

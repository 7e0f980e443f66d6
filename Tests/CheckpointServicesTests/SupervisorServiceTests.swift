import CheckpointAdapters
import CheckpointCore
@testable import CheckpointServices
import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

@Suite struct SupervisorServiceTests {
    /// The real queue (SQLite in a temporary directory) and an uploader that never runs.
    private func queue() throws -> (AsyncQueueStore, UploadService) {
        let dir = try Fixtures.temporaryDirectory()
        let store = try QueueStore(path: dir + "/queue.sqlite")
        let curl = try CurlUploader(configuration: UploadConfiguration(endpoint: "http://127.0.0.1:9/v1/records", allowInsecureHTTP: true))
        return (AsyncQueueStore(store), UploadService(store: store, uploader: curl))
    }

    /// WATCHDOG=1 only while every stage progresses; the stall is logged once, the recovery once; STATUS= is sent
    /// only when the line changes; STOPPING=1 on graceful shutdown.
    @Test func watchdogIsPettedOnlyWhileAllStagesProgress() async throws {
        let clock = TestClock()
        let health = HealthBoard(clock: { clock.now() })
        await health.register(.detector, stallLimitSeconds: 10)
        await health.progress(.detector)
        let (store, uploader) = try queue()
        let notifier = RecordingNotifier()
        let (logger, log) = Fixtures.logger()
        let supervisor = SupervisorService(
            notifier: notifier, health: health, store: store, uploader: uploader,
            metrics: Fixtures.metrics(), reload: { [] }, logger: logger, tickSeconds: 0.005)
        func tickCount() -> Int { clock.reads.withLock { $0 } }
        func waitTicks(_ n: Int) async -> Bool { let start = tickCount(); return await Fixtures.eventually { tickCount() >= start + n } }
        func logged(_ message: String) -> Int { log.entries.filter { "\($0.message)" == message }.count }

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await supervisor.run() }
                // All progressing: pinged on every tick.
                #expect(await Fixtures.eventually { notifier.count("WATCHDOG=1") >= 3 })
                #expect(notifier.messages.first == "READY=1\nSTATUS=starting")

                // The detector goes silent past its stall limit: no more pings.
                clock.advance(seconds: 11)
                #expect(await Fixtures.eventually { logged("stages stalled; withholding the watchdog ping") == 1 })
                let pingsWhileStalled = notifier.count("WATCHDOG=1")
                #expect(await waitTicks(5))
                #expect(notifier.count("WATCHDOG=1") == pingsWhileStalled)
                #expect(logged("stages stalled; withholding the watchdog ping") == 1)
                let stalledEntry = log.entries.first { "\($0.message)" == "stages stalled; withholding the watchdog ping" }
                #expect(stalledEntry?.metadata["stages"] == "detector")

                // Progress again: pings resume and the recovery is said once.
                await health.progress(.detector)
                #expect(await Fixtures.eventually { notifier.count("WATCHDOG=1") > pingsWhileStalled })
                #expect(await waitTicks(3))
                #expect(logged("all stages progressing again") == 1)

                // Nothing in the status line changed over all these ticks: one STATUS= only.
                #expect(notifier.count("STATUS=") == 1)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(notifier.messages.last == "STOPPING=1")
    }

    /// A stage that starts recovering (the camera lost its device) changes the status line, which is sent again.
    @Test func aRecoveringStageChangesTheStatus() async throws {
        let health = HealthBoard(clock: { 0 })
        await health.register(.camera, stallLimitSeconds: 10)
        await health.progress(.camera)
        let (store, uploader) = try queue()
        let notifier = RecordingNotifier()
        let (logger, _) = Fixtures.logger()
        let supervisor = SupervisorService(
            notifier: notifier, health: health, store: store, uploader: uploader,
            metrics: Fixtures.metrics(), reload: { [] }, logger: logger, tickSeconds: 0.005)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await supervisor.run() }
                #expect(await Fixtures.eventually { notifier.count("STATUS=") == 1 })
                let before = notifier.messages.last { $0.hasPrefix("STATUS=") }
                await health.report(.camera, .recovering("device unplugged"))
                #expect(await Fixtures.eventually { notifier.count("STATUS=") == 2 })
                #expect(notifier.messages.last { $0.hasPrefix("STATUS=") } != before)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }

    /// Graceful shutdown ends the uploader's loop while it waits for work.
    @Test func uploaderEndsOnGracefulShutdown() async throws {
        let store = try QueueStore(path: try Fixtures.temporaryDirectory() + "/queue.sqlite")
        let curl = try CurlUploader(configuration: UploadConfiguration(endpoint: "http://127.0.0.1:9/v1/records", allowInsecureHTTP: true))
        let (logger, log) = Fixtures.logger()
        let uploader = UploadService(store: store, uploader: curl, logger: logger)
        func logged(_ message: String) -> Bool { log.entries.contains { "\($0.message)" == message } }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await UploaderService(uploader: uploader).run() }
                #expect(await Fixtures.eventually { logged("uploader started") })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(logged("uploader stopped"))
    }
}

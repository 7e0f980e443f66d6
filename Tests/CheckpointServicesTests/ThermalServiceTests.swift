import CheckpointAdapters
import CheckpointCore
@testable import CheckpointServices
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite struct ThermalServiceTests {
    private func counters(badChecksum: UInt64, timeouts: UInt64) -> ThermalCounters {
        var c = ThermalCounters()
        c.badChecksum = badChecksum
        c.timeouts = timeouts
        return c
    }

    /// The errors metric grows by what the driver counted between frames, never by the running totals.
    @Test func sensorErrorsGrowByTheCounterDeltas() async throws {
        let frame = Fixtures.thermalFrame(ambient: 23.5)
        let sensor = ScriptedSensor([
            .status(.available(baud: 115_200)),
            .frame(frame, counters(badChecksum: 5, timeouts: 1)),    // the first frame only sets the baseline
            .frame(frame, counters(badChecksum: 7, timeouts: 1)),    // +2
            .frame(frame, counters(badChecksum: 7, timeouts: 4)),    // +3
            .frame(frame, counters(badChecksum: 7, timeouts: 4)),    // +0
        ], endAfterScript: true)
        let metrics = Fixtures.metrics()
        let health = HealthBoard(clock: { 0 })
        await health.register(.thermal, stallLimitSeconds: 10)
        let (logger, _) = Fixtures.logger()
        try await ThermalService(link: sensor, hub: Fixtures.hub(), health: health, metrics: metrics, logger: logger).run()

        #expect(Fixtures.value("checkpointd_sensor_errors_total", in: metrics) == 5)
        #expect(Fixtures.value("checkpointd_sensor_frames_total", in: metrics) == 4)
        #expect(Fixtures.value("checkpointd_sensor_up", in: metrics) == 1)
        #expect(Fixtures.value("checkpointd_sensor_ambient_celsius", in: metrics) == 23.5)
        #expect(await health.state(of: .thermal) == .ok)
    }

    /// The link repeats "unavailable" on every reconnect attempt: the log says each change once, health and the
    /// hub follow every event.
    @Test func repeatedStatusIsLoggedOnce() async throws {
        let sensor = ScriptedSensor([
            .status(.unavailable(reason: "no such device")),
            .status(.unavailable(reason: "no such device")),
            .status(.unavailable(reason: "no such device")),
            .status(.available(baud: 115_200)),
            .status(.available(baud: 115_200)),
            .status(.unavailable(reason: "no such device")),
        ], endAfterScript: true)
        let metrics = Fixtures.metrics()
        let health = HealthBoard(clock: { 0 })
        await health.register(.thermal, stallLimitSeconds: 10)
        let hub = Fixtures.hub()
        let (logger, log) = Fixtures.logger()
        try await ThermalService(link: sensor, hub: hub, health: health, metrics: metrics, logger: logger).run()

        let notices = log.entries.filter { $0.level == .notice }.map { "\($0.message)" }
        #expect(notices == [
            "thermal sensor unavailable: no such device",
            "thermal sensor available at 115200 baud",
            "thermal sensor unavailable: no such device",
        ])
        #expect(await health.state(of: .thermal) == .recovering("unavailable: no such device"))
        #expect(Fixtures.value("checkpointd_sensor_up", in: metrics) == 0)
        #expect(await hub.engineStatus().sensorAvailable == false)
    }

    /// Graceful shutdown stops the link (its reader thread ends and closes the stream) and the service returns.
    @Test func gracefulShutdownStopsTheLink() async throws {
        let sensor = ScriptedSensor([.status(.available(baud: 115_200))], endAfterScript: false)
        let health = HealthBoard(clock: { 0 })
        await health.register(.thermal, stallLimitSeconds: 10)
        let (logger, log) = Fixtures.logger()
        let service = ThermalService(link: sensor, hub: Fixtures.hub(), health: health, metrics: Fixtures.metrics(), logger: logger)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                #expect(await Fixtures.eventually { await health.state(of: .thermal) == .ok })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(sensor.stops.withLock { $0 } == 1)
        #expect(log.entries.contains { "\($0.message)" == "thermal stopped" })
    }
}

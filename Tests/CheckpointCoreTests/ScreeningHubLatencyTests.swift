import Foundation
import Testing
@testable import CheckpointCore

/// The hub's person-ready → result timing, on a scripted clock: the sensor sends a frame every 250 ms,
/// the camera a detection pass every 50 ms, and K = 3 thermal frames decide a result.
@Suite struct ScreeningHubLatencyTests {
    final class Timings: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [ScreeningTiming] = []
        func append(_ t: ScreeningTiming) { lock.withLock { items.append(t) } }
        var all: [ScreeningTiming] { lock.withLock { items } }
    }

    static let ms: UInt64 = 1_000_000
    static let signedMs: Int64 = 1_000_000

    static func settling(_ face: TrackedFace) -> FaceAssessment {
        FaceAssessment(face: face, distanceMeters: 0.5, pose: nil, sharpness: 100, reasons: [.settling(stableFrames: 1, needed: 5)])
    }

    static let nobody = FaceAssessment(face: nil, distanceMeters: nil, pose: nil, sharpness: nil, reasons: [.noFace])

    /// Advances the scripted clock in 50 ms camera steps for `duration` ms; a thermal frame arrives whenever
    /// the clock is on the sensor's 250 ms grid. `assess` gives the camera's verdict.
    static func run(_ hub: ScreeningHub, clock: TestClock, duration: UInt64, face: Float = 36.6,
                    assess: @Sendable () -> FaceAssessment) async {
        var elapsed: UInt64 = 0
        while elapsed < duration {
            clock.advance(ms: 50)
            elapsed += 50
            await hub.faces(assess(), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
            if (clock.now() / ms) % 250 == 0 { await hub.thermal(syntheticFrame(face: face, at: clock.now())) }
        }
    }

    static func hub(clock: TestClock, timings: Timings) async -> ScreeningHub {
        let hub = ScreeningHubTests.makeHub(clock: clock, k: 3)
        await hub.setTimingObserver { timings.append($0) }
        return hub
    }

    @Test func latencyStartsAtTheFirstReadyFrameAndEndsAtTheResult() async throws {
        let clock = TestClock()  // starts at 1000 ms
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        // The sensor runs alone for a second (frames at …, 1250, 1500, 1750, 2000 ms): its period is known.
        await Self.run(hub, clock: clock, duration: 1000) { Self.nobody }
        #expect(await hub.thermalFramePeriodNanos == 250 * Self.ms)
        // A person steps in at 2050 ms and settles until 2250 ms (not ready), then is ready from 2300 ms.
        let face = ScreeningHubTests.tracked(id: 11)
        await Self.run(hub, clock: clock, duration: 250) { Self.settling(face) }
        #expect(clock.now() == 2250 * Self.ms)
        await Self.run(hub, clock: clock, duration: 1000) { ScreeningHubTests.ready(face) }
        // Ready at 2300 ms; the thermal frames at 2500, 2750 and 3000 ms are the three used: result at 3000 ms.
        let t = try #require(timings.all.first)
        #expect(timings.all.count == 1, "one timing per result")
        #expect(t.outcome == .normal)
        #expect(t.readyToResultNanos == 700 * Self.ms, "from the first ready frame (2300 ms), not the first seen (2050 ms)")
        #expect(t.thermalFrames == 3)
        #expect(t.thermalFramePeriodNanos == 250 * Self.ms)
        #expect(t.thermalFramesNanos == 750 * Self.ms)
        #expect(t.overheadNanos == -50 * Self.signedMs, "700 ms latency − 3 × 250 ms frames")
    }

    @Test func theResultDecidedLaterCountsTheWholeWait() async throws {
        let clock = TestClock()
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        await Self.run(hub, clock: clock, duration: 1000) { Self.nobody }
        // Ready at 2050 ms, just after a frame (2000 ms): the next three are at 2250, 2500, 2750 ms.
        let face = ScreeningHubTests.tracked(id: 12)
        await Self.run(hub, clock: clock, duration: 700) { ScreeningHubTests.ready(face) }
        #expect(timings.all.isEmpty, "no result before the third frame")
        // The deciding frame at 2750 ms is processed, then the hub's clock reads 2750 ms at the result.
        await Self.run(hub, clock: clock, duration: 50) { ScreeningHubTests.ready(face) }
        let t = try #require(timings.all.first)
        #expect(t.readyToResultNanos == 700 * Self.ms)
        #expect(t.overheadNanos == -50 * Self.signedMs)
    }

    @Test func eachPersonIsTimedFromTheirOwnReadiness() async throws {
        let clock = TestClock()
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        await Self.run(hub, clock: clock, duration: 1000) { Self.nobody }
        let first = ScreeningHubTests.tracked(id: 21), second = ScreeningHubTests.tracked(id: 22)
        // The first person is ready at 2050 ms; frames at 2250, 2500, 2750 ms decide: 700 ms. They stay until 3500 ms.
        await Self.run(hub, clock: clock, duration: 1500) { ScreeningHubTests.ready(first) }
        await Self.run(hub, clock: clock, duration: 500) { Self.nobody }
        // The second person settles at 4050–4100 ms and is ready at 4150 ms; frames 4250, 4500, 4750 ms decide: 600 ms.
        await Self.run(hub, clock: clock, duration: 100) { Self.settling(second) }
        await Self.run(hub, clock: clock, duration: 1500) { ScreeningHubTests.ready(second) }
        #expect(timings.all.map(\.readyToResultNanos) == [700 * Self.ms, 600 * Self.ms])
        #expect(timings.all.map(\.thermalFrames) == [3, 3])
    }

    @Test func aSlowerSensorGivesALongerLatencyAndTheSameOverheadBound() async throws {
        let clock = TestClock()
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        // A 500 ms sensor: frames only on the even 250 ms grid points.
        func step(_ assess: FaceAssessment, _ n: Int) async {
            for _ in 0..<n {
                clock.advance(ms: 50)
                await hub.faces(assess, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
                if (clock.now() / Self.ms) % 500 == 0 { await hub.thermal(syntheticFrame(face: 36.6, at: clock.now())) }
            }
        }
        await step(Self.nobody, 20)
        let face = ScreeningHubTests.tracked(id: 31)
        await step(ScreeningHubTests.ready(face), 40)  // ready at 2050 ms; frames at 2500, 3000, 3500 ms
        let t = try #require(timings.all.first)
        #expect(t.thermalFramePeriodNanos == 500 * Self.ms)
        #expect(t.readyToResultNanos == 1450 * Self.ms)
        #expect(t.overheadNanos == -50 * Self.signedMs)
    }

    @Test func aBurstyLinkStillGivesTheSensorsPeriod() async throws {
        let clock = TestClock()  // 1000 ms
        let hub = ScreeningHubTests.makeHub(clock: clock, k: 3)
        // A 250 ms sensor whose frames a loaded machine delivers three at a time, 750 ms apart.
        for at: UInt64 in [1000, 1005, 1010, 1750, 1755, 1760, 2500] {
            clock.advance(ms: at - clock.now() / Self.ms)
            await hub.thermal(syntheticFrame(face: 30, at: clock.now()))
        }
        #expect(await hub.thermalFramePeriodNanos == 250 * Self.ms, "the mean interval, where the median would say 5 ms")
    }

    @Test func aResultWithoutAReadyFaceIsNotTimed() async throws {
        let clock = TestClock()
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        await Self.run(hub, clock: clock, duration: 500) { Self.nobody }
        // Two people in view: an invalid result at once, but nobody was ever ready to be measured.
        let crowd = FaceAssessment(face: ScreeningHubTests.tracked(id: 41), distanceMeters: 0.5, pose: nil, sharpness: 100,
                                   reasons: [.multipleFaces(count: 2)])
        await hub.faces(crowd, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.outcomes["invalid"] == 1)
        #expect(timings.all.isEmpty)
    }

    @Test func anInvalidResultAfterReadinessIsTimedWithItsOutcome() async throws {
        let clock = TestClock()
        let timings = Timings()
        let hub = await Self.hub(clock: clock, timings: timings)
        await Self.run(hub, clock: clock, duration: 500) { Self.nobody }
        let face = ScreeningHubTests.tracked(id: 51)
        await Self.run(hub, clock: clock, duration: 300) { ScreeningHubTests.ready(face) }  // ready at 1550 ms; one frame (1750 ms)
        clock.advance(ms: 120)
        await hub.sensorUnavailable()
        let t = try #require(timings.all.first)
        #expect(t.outcome == .invalid)
        #expect(t.readyToResultNanos == 370 * Self.ms, "ready at 1550 ms, sensor lost at 1920 ms")
    }
}

import Foundation
import Testing
@testable import CheckpointCore

/// A settable monotonic clock for the hub.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 1_000_000_000
    func now() -> UInt64 { lock.withLock { value } }
    func advance(ms: UInt64) { lock.withLock { value += ms * 1_000_000 } }
}

@Suite struct ScreeningHubTests {
    static func tracked(id: UInt64, x: Double = 200, width: Double = 240, stable: Int = 10) -> TrackedFace {
        let face = DetectedFace(box: FaceBox(x: x, y: 90, width: width, height: 320), score: 0.9)
        return TrackedFace(id: id, face: face, frames: stable, stableFrames: stable, missed: 0)
    }

    static func ready(_ face: TrackedFace) -> FaceAssessment {
        FaceAssessment(face: face, distanceMeters: 0.5, pose: nil, sharpness: 100, reasons: [])
    }

    static func makeHub(clock: TestClock, k: Int = 3) -> ScreeningHub {
        var config = ScreeningConfig()
        config.framesPerResult = k
        config.warmUpSeconds = 0
        let engine = ScreeningEngine(config: config, calibration: .uncalibrated,
                                     registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                     sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM-1"))
        return ScreeningHub(engine: engine, clock: { clock.now() }, encodeSnapshot: { _ in Data([0xFF, 0xD8, 0xFF, 0xD9]) })
    }

    /// One person stands ready while `temps` thermal frames arrive.
    static func screen(_ hub: ScreeningHub, clock: TestClock, id: UInt64, temps: [Float]) async {
        let face = tracked(id: id)
        let frame = Frame(width: 2, height: 1, layout: .gray8, pixels: [0, 0], sequence: 0, monotonicNanos: clock.now())
        let candidate = SnapshotCandidate(trackID: id, frame: frame, face: face.face, quality: 1)
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))
        for t in temps {
            clock.advance(ms: 250)
            await hub.faces(ready(face), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: candidate)
            await hub.thermal(syntheticFrame(face: t, at: clock.now()))
        }
    }

    @Test func displayGoesIdleFaceSeenMeasuringResult() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        #expect(await hub.currentState() == .idle)
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))  // the sensor is running
        let face = Self.tracked(id: 7, stable: 1)
        let settling = FaceAssessment(face: face, distanceMeters: 0.5, pose: nil, sharpness: 100,
                                      reasons: [.settling(stableFrames: 1, needed: 5)])
        await hub.faces(settling, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.currentState() == .faceSeen)
        await hub.faces(Self.ready(face), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.currentState() == .measuring)
        await Self.screen(hub, clock: clock, id: 7, temps: [36.6, 36.6, 36.6])
        guard case .result(let summary) = await hub.currentState() else {
            Issue.record("expected a result on the display")
            return
        }
        #expect(summary.result == .normal)
        #expect(summary.frameCount == 3)
    }

    @Test func feverIsReportedAsElevatedWithItsValuesAndSnapshot() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 1, temps: [38.4, 38.5, 38.4])
        let capture = try #require(await hub.awaitCapture(timeout: .milliseconds(10)))
        #expect(capture.summary.result == .elevated)
        #expect(capture.summary.flags.contains("secondary_check_required"))
        #expect(abs((capture.summary.correctedTemperatureC ?? 0) - 38.4) < 0.05, "the value is never pulled toward normal")
        #expect(capture.faceJPEG == Data([0xFF, 0xD8, 0xFF, 0xD9]))
        #expect(await hub.outcomes["elevated"] == 1)
    }

    @Test func awaitWaitsForTheResultOrTimesOut() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        #expect(await hub.awaitCapture(timeout: .milliseconds(20)) == nil, "no person: nothing to attach")
        async let waited = hub.awaitCapture(timeout: .seconds(60))  // returns with the result; generous on a busy machine
        try await Task.sleep(nanoseconds: 20_000_000)
        await Self.screen(hub, clock: clock, id: 2, temps: [36.5, 36.5, 36.5])
        let capture = try #require(await waited)
        #expect(capture.summary.result == .normal)
    }

    @Test func aNewPersonDoesNotGetThePreviousResult() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 3, temps: [38.0, 38.0, 38.0])
        // Person 4 steps in before any measurement of them.
        await hub.faces(Self.ready(Self.tracked(id: 4)), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.awaitCapture(timeout: .milliseconds(20)) == nil)
        #expect(await hub.currentState() == .measuring)
    }

    @Test func aReadyFaceWithoutASensorIsInvalidNotGuessed() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await hub.faces(Self.ready(Self.tracked(id: 8)), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        let capture = try #require(await hub.awaitCapture(timeout: .milliseconds(10)))
        #expect(capture.summary.result == .invalid)
        #expect(capture.summary.flags.first == "sensor_unavailable")
        #expect(capture.summary.correctedTemperatureC == nil)
    }

    @Test func severalFacesGiveAnInvalidResultWithItsReason() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))
        let main = Self.tracked(id: 5)
        let crowd = FaceAssessment(face: main, distanceMeters: 0.5, pose: nil, sharpness: 100, reasons: [.multipleFaces(count: 2)])
        await hub.faces(crowd, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        let capture = try #require(await hub.awaitCapture(timeout: .milliseconds(10)))
        #expect(capture.summary.result == .invalid)
        #expect(capture.summary.flags.first == "several_faces")
    }

    @Test func resultIsHeldBrieflyAfterThePersonLeaves() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 6, temps: [36.6, 36.6, 36.6])
        await hub.faces(FaceAssessment(face: nil, distanceMeters: nil, pose: nil, sharpness: nil, reasons: [.noFace]),
                        cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.awaitCapture(timeout: .milliseconds(5)) != nil, "a declaration posted just after still gets it")
        clock.advance(ms: 60_000)
        #expect(await hub.awaitCapture(timeout: .milliseconds(5)) == nil, "a minute later it is stale")
        #expect(await hub.currentState() == .idle)
    }
}

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

    static func assessment(_ face: TrackedFace?, distance: Double? = 0.5, reasons: [FaceNotReadyReason]) -> FaceAssessment {
        FaceAssessment(face: face, distanceMeters: distance, pose: nil, sharpness: 100, reasons: reasons)
    }

    static let nobody = FaceAssessment(face: nil, distanceMeters: nil, pose: nil, sharpness: nil, reasons: [.noFace])

    /// The screening id on screen now (state `result`).
    static func shownID(_ hub: ScreeningHub) async throws -> UUID {
        let view = await hub.currentView()
        #expect(view.state == .result)
        return try #require(view.screeningId.flatMap(UUID.init(uuidString:)))
    }

    static func claimed(_ claim: ScreeningClaim) -> ScreeningCapture? {
        if case .claimed(let capture) = claim { return capture }
        return nil
    }

    @Test func viewGoesIdleFaceSeenMeasuringResult() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        var view = await hub.currentView()
        #expect(view.state == .idle)
        #expect(view.sensor.available == false, "no sensor yet: idle, and the screen can say check the equipment")
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))  // the sensor is running (no warm-up here)
        view = await hub.currentView()
        #expect(view.state == .idle && view.sensor.available && view.sensor.warmUpRemainingSeconds == nil)
        let face = Self.tracked(id: 7, stable: 1)
        await hub.faces(Self.assessment(face, distance: 1.3, reasons: [.tooFar(meters: 1.3), .settling(stableFrames: 1, needed: 5)]),
                        cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        view = await hub.currentView()
        #expect(view.state == .faceSeen)
        #expect(view.reasons == ["too-far", "settling"])
        #expect(view.distanceM == 1.3)
        #expect(view.faces == 1)
        #expect(view.progress == nil && view.screeningId == nil && view.screening == nil)
        await hub.faces(Self.ready(face), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        view = await hub.currentView()
        #expect(view.state == .measuring)
        #expect(view.reasons == [])
        #expect(view.progress == ScreeningView.Progress(frames: 0, needed: 3))
        clock.advance(ms: 250)
        await hub.faces(Self.ready(face), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        await hub.thermal(syntheticFrame(face: 36.6, at: clock.now()))
        #expect(await hub.currentView().progress == ScreeningView.Progress(frames: 1, needed: 3), "the engine's sample count")
        await Self.screen(hub, clock: clock, id: 7, temps: [36.6, 36.6])
        view = await hub.currentView()
        #expect(view.state == .result)
        #expect(view.screening?.result == .normal)
        #expect(view.screening?.frameCount == 3)
        #expect(view.screeningId.flatMap(UUID.init(uuidString:)) != nil)
        #expect(view.screeningId == view.screeningId?.lowercased())
        #expect(view.progress == nil)
    }

    @Test func viewJSONHasEveryKeyWithNulls() throws {
        let data = try QueueRecord.encoder.encode(ScreeningView(seq: 3))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["seq", "state", "sensor", "faces", "reasons", "distanceM", "progress", "screeningId", "screening",
                                     "personInView", "publishedAtMs"])
        #expect(object["personInView"] is NSNull && object["publishedAtMs"] is NSNull)
        #expect(object["state"] as? String == "idle")
        #expect(object["progress"] is NSNull && object["screening"] is NSNull && object["distanceM"] is NSNull)
        #expect((object["sensor"] as? [String: Any])?["warmUpRemainingSeconds"] is NSNull)
        #expect(String(decoding: data, as: UTF8.self).contains("\n") == false, "one line: an SSE data field")
    }

    @Test func warmingUpAndUnavailableSensor() async throws {
        let clock = TestClock()
        var config = ScreeningConfig()
        config.framesPerResult = 3
        config.warmUpSeconds = 10
        let engine = ScreeningEngine(config: config, calibration: .uncalibrated,
                                     registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                     sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM-1"))
        let hub = ScreeningHub(engine: engine, clock: { clock.now() }, encodeSnapshot: { _ in nil })
        await hub.sensorAvailable()
        clock.advance(ms: 2500)
        var view = await hub.currentView()
        #expect(view.state == .warmingUp)
        #expect(view.sensor == ScreeningView.Sensor(available: true, warmUpRemainingSeconds: 8))
        clock.advance(ms: 8000)
        view = await hub.currentView()
        #expect(view.state == .idle && view.sensor.warmUpRemainingSeconds == nil)
        await hub.sensorUnavailable()
        view = await hub.currentView()
        #expect(view.state == .idle && view.sensor.available == false)
    }

    @Test func seqCountsChangesAndSmallDistanceStepsAreNotChanges() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        let stream = await hub.views()
        var events = stream.makeAsyncIterator()
        let first = try #require(await events.next())
        #expect(first.state == .idle)
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))   // sensor available: a change
        let face = Self.tracked(id: 9, stable: 1)
        let far = { (d: Double) in Self.assessment(face, distance: d, reasons: [.tooFar(meters: d)]) }
        await hub.faces(far(1.30), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        await hub.faces(far(1.32), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)  // < 5 cm: nothing
        await hub.faces(far(1.32), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)  // same: nothing
        await hub.faces(far(1.20), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)  // 10 cm: a change
        var seen: [ScreeningView] = []
        for _ in 0..<3 { seen.append(try #require(await events.next())) }
        #expect(seen.map(\.seq) == [first.seq + 1, first.seq + 2, first.seq + 3])
        #expect(seen[0].sensor.available && seen[0].state == .idle)
        #expect(seen[1].state == .faceSeen && seen[1].distanceM == 1.30)
        #expect(seen[2].distanceM == 1.20)
        #expect(await hub.currentView().seq == first.seq + 3)
        #expect(await hub.viewSubscribers == 1)
    }

    @Test func aSlowWatcherNeverBlocksTheHub() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        let stream = await hub.views()    // never read
        for i in 0..<200 {
            clock.advance(ms: 100)
            let face = Self.tracked(id: UInt64(100 + i), stable: 1)
            await hub.faces(Self.assessment(face, reasons: [.notFrontal]), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
            await hub.faces(Self.nobody, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        }
        var iterator = stream.makeAsyncIterator()
        let oldest = try #require(await iterator.next())
        #expect(oldest.seq > 300, "only the newest views were kept")
    }

    @Test func feverIsReportedAsElevatedWithItsValuesAndSnapshot() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 1, temps: [38.4, 38.5, 38.4])
        let id = try await Self.shownID(hub)
        let capture = try #require(Self.claimed(await hub.claim(id)))
        #expect(capture.summary.result == .elevated)
        #expect(capture.summary.flags.contains("secondary_check_required"))
        #expect(abs((capture.summary.correctedTemperatureC ?? 0) - 38.4) < 0.05, "the value is never pulled toward normal")
        #expect(capture.faceJPEG == Data([0xFF, 0xD8, 0xFF, 0xD9]))
        #expect(await hub.outcomes["elevated"] == 1)
    }

    @Test func aScreeningIsClaimedOnceAndAReleaseGivesItBack() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 2, temps: [36.5, 36.5, 36.5])
        let id = try await Self.shownID(hub)
        #expect(Self.claimed(await hub.claim(id)) != nil)
        #expect(await hub.claim(id) == .alreadyUsed)
        await hub.release(id)
        #expect(Self.claimed(await hub.claim(id)) != nil, "a declaration that could not be stored gives its claim back")
        #expect(await hub.claim(id) == .alreadyUsed)
        #expect(await hub.claim(UUID()) == .unknownOrExpired, "an id never issued")
    }

    @Test func aNewPersonDoesNotGetThePreviousResult() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 3, temps: [38.0, 38.0, 38.0])
        let first = try await Self.shownID(hub)
        // Person 4 steps in before any measurement of them: the screen no longer shows 3's result or id.
        await hub.faces(Self.ready(Self.tracked(id: 4)), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        let view = await hub.currentView()
        #expect(view.state == .measuring)
        #expect(view.screeningId == nil && view.screening == nil)
        await Self.screen(hub, clock: clock, id: 4, temps: [36.6, 36.6, 36.6])
        let second = try await Self.shownID(hub)
        #expect(second != first)
        #expect(Self.claimed(await hub.claim(second))?.summary.result == .normal)
        #expect(Self.claimed(await hub.claim(first))?.summary.result == .elevated, "each id keeps its own person's result")
    }

    @Test func aReadyFaceWithoutASensorIsInvalidNotGuessed() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await hub.faces(Self.ready(Self.tracked(id: 8)), cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        let capture = try #require(Self.claimed(await hub.claim(try await Self.shownID(hub))))
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
        let view = await hub.currentView()
        #expect(view.faces == 2)
        #expect(view.screening?.flags.first == "several_faces")
        let capture = try #require(Self.claimed(await hub.claim(try await Self.shownID(hub))))
        #expect(capture.summary.result == .invalid)
    }

    @Test func theScreenHoldsBrieflyButTheDeclarationHoldOutlastsIt() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 6, temps: [38.6, 38.6, 38.6])
        let id = try await Self.shownID(hub)
        await hub.faces(Self.nobody, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        #expect(await hub.currentView().state == .result, "the person just left: the result stays on screen")
        clock.advance(ms: 60_000)
        #expect(await hub.currentView().state == .idle, "a minute later the screen has moved on")
        #expect(Self.claimed(await hub.claim(id))?.summary.result == .elevated, "but the person's declaration still gets it")
    }

    /// While a result is only held on screen after its person left, the view says so: the screen must not offer
    /// that result's declaration to whoever taps next.
    @Test func theViewSaysWhetherTheResultsPersonIsStillInView() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        var view = await hub.currentView()
        #expect(view.personInView == nil, "no result: does not apply")
        await Self.screen(hub, clock: clock, id: 6, temps: [36.6, 36.6, 36.6])
        view = await hub.currentView()
        #expect(view.state == .result && view.personInView == true, "the measured person stands there")
        let id = view.screeningId
        let stream = await hub.views()
        var events = stream.makeAsyncIterator()
        _ = await events.next()   // the current view
        await hub.faces(Self.nobody, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        // Leaving is a change in itself: it is pushed to the screen at once.
        let left = try #require(await events.next())
        #expect(left.state == .result && left.screeningId == id, "the result stays on screen for a while")
        #expect(left.personInView == false, "but its person has gone")
        #expect(left.seq == view.seq + 1)
        // Someone else stepping in (another track) ends that result: never shown as theirs.
        await hub.faces(Self.assessment(Self.tracked(id: 7, stable: 1), reasons: [.settling(stableFrames: 1, needed: 5)]),
                        cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
        view = await hub.currentView()
        #expect(view.state == .faceSeen && view.personInView == nil && view.screeningId == nil)
    }

    @Test func everyPublishedViewCarriesItsPublishTime() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        let before = Date().timeIntervalSince1970 * 1000
        await hub.thermal(syntheticFrame(face: 30, at: clock.now()))
        let view = await hub.currentView()
        let after = Date().timeIntervalSince1970 * 1000
        let stamp = try #require(view.publishedAtMs)
        #expect(stamp >= before - 1 && stamp <= after + 1, "the wall clock at publish time")
        // The stamp alone is not a change.
        var same = view
        same.publishedAtMs = stamp + 5000
        #expect(!same.differs(from: view))
    }

    @Test func anExpiredScreeningIsUnknown() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        await Self.screen(hub, clock: clock, id: 10, temps: [36.6, 36.6, 36.6])
        let id = try await Self.shownID(hub)
        clock.advance(ms: 301_000)
        #expect(await hub.claim(id) == .unknownOrExpired)
        #expect(await hub.pendingCount == 0, "its face is gone from memory")
        // A reloaded, longer hold applies to screenings decided afterwards too.
        await hub.setDeclarationHold(seconds: 600)
        await Self.screen(hub, clock: clock, id: 11, temps: [36.6, 36.6, 36.6])
        let next = try await Self.shownID(hub)
        clock.advance(ms: 500_000)
        #expect(Self.claimed(await hub.claim(next)) != nil)
    }

    @Test func atMost64ScreeningsAreHeldOldestDroppedFirst() async throws {
        let clock = TestClock()
        let hub = Self.makeHub(clock: clock)
        var ids: [UUID] = []
        for person in 0..<66 {
            // Several faces decide at once (invalid), which makes many results quickly.
            let crowd = FaceAssessment(face: Self.tracked(id: UInt64(1000 + person)), distanceMeters: 0.5, pose: nil, sharpness: 100,
                                       reasons: [.multipleFaces(count: 2)])
            await hub.faces(crowd, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
            ids.append(try await Self.shownID(hub))
            clock.advance(ms: 100)
        }
        #expect(await hub.pendingCount == 64)
        #expect(await hub.claim(ids[0]) == .unknownOrExpired)
        #expect(await hub.claim(ids[1]) == .unknownOrExpired)
        #expect(Self.claimed(await hub.claim(ids[2])) != nil)
        #expect(Self.claimed(await hub.claim(ids[65])) != nil)
    }
}

import Foundation
import Testing
@testable import CheckpointCore

/// A frontal face whose eyes are `eyes` pixels apart, centred at (cx, cy), optionally turned/tilted.
private func landmarkFace(cx: Double, cy: Double, eyes: Double, noseShift: Double = 0, rollDegrees: Double = 0) -> DetectedFace {
    let r = rollDegrees * .pi / 180
    func rot(_ dx: Double, _ dy: Double) -> FacePoint {
        FacePoint(x: cx + dx * cos(r) - dy * sin(r), y: cy + dx * sin(r) + dy * cos(r))
    }
    let lm = FaceLandmarks(
        rightEye: rot(-eyes / 2, -eyes * 0.3), leftEye: rot(eyes / 2, -eyes * 0.3),
        nose: rot(noseShift * eyes, eyes * 0.2),
        rightMouth: rot(-eyes * 0.4, eyes * 0.7), leftMouth: rot(eyes * 0.4, eyes * 0.7))
    let w = eyes * 2.4
    return DetectedFace(box: FaceBox(x: cx - w / 2, y: cy - w * 0.6, width: w, height: w * 1.2), score: 0.95, landmarks: lm)
}

private func tracked(_ f: DetectedFace, id: UInt64 = 1, stable: Int = 10) -> TrackedFace {
    TrackedFace(id: id, face: f, frames: stable, stableFrames: stable, missed: 0)
}

@Suite struct FaceReadinessTests {
    /// The schema's defaults, with the focal length from the 60° field of view and a 0.5 m closest distance (the
    /// numbers below are worked out for them).
    let config: FaceReadinessConfig = {
        var c = FaceReadinessConfig()
        c.focalLengthPixels = nil
        c.minDistanceMeters = 0.5
        return c
    }()
    var evaluator: FaceReadinessEvaluator { FaceReadinessEvaluator(config: config) }

    /// Eye distance in pixels that puts a face at `meters` on a 640-px-wide frame.
    func eyes(at meters: Double) -> Double { config.focalLengthPixels(frameWidth: 640) * config.interEyeMeters / meters }

    @Test func distanceFromEyesFollowsThePinholeModel() throws {
        // 60° FOV on 640 px: f = 320 / tan(30°) ≈ 554.3 px.
        #expect(abs(config.focalLengthPixels(frameWidth: 640) - 554.256) < 0.01)
        let d = try #require(config.distanceMeters(of: landmarkFace(cx: 320, cy: 240, eyes: eyes(at: 0.7)), frameWidth: 640))
        #expect(abs(d - 0.7) < 1e-9)
        // Without landmarks the box width is used.
        let box = DetectedFace(box: FaceBox(x: 0, y: 0, width: 554.256 * 0.15 / 0.8, height: 100), score: 1)
        #expect(abs(try #require(config.distanceMeters(of: box, frameWidth: 640)) - 0.8) < 1e-3)
    }

    @Test func aSingleSharpSteadyFrontalFaceInRangeIsReady() {
        let a = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: eyes(at: 0.7)))], frameWidth: 640, sharpness: 100)
        #expect(a.isReady)
        #expect(a.reason == nil)
    }

    @Test func reasonsInPriorityOrder() {
        #expect(evaluator.assess([], frameWidth: 640, sharpness: nil).reason == .noFace)
        let two = evaluator.assess([tracked(landmarkFace(cx: 150, cy: 240, eyes: eyes(at: 0.7))),
                                    tracked(landmarkFace(cx: 450, cy: 240, eyes: eyes(at: 0.9)), id: 2)],
                                   frameWidth: 640, sharpness: 100)
        #expect(two.reason == .multipleFaces(count: 2))
        #expect(two.reason?.prompt == "One person at a time, please")
        #expect(two.face?.id == 1, "the larger (nearer) face is the one judged")

        let far = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: eyes(at: 1.6)))], frameWidth: 640, sharpness: 100)
        guard case .tooFar(let m)? = far.reason else { Issue.record("expected tooFar, got \(String(describing: far.reason))"); return }
        #expect(abs(m - 1.6) < 1e-6)
        #expect(far.reason?.prompt == "Please come closer")

        let near = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: eyes(at: 0.3)))], frameWidth: 640, sharpness: 100)
        #expect(near.reason?.code == "too-close")
    }

    @Test func turnedOrTiltedHeadsAreNotFrontal() {
        let e = eyes(at: 0.7)
        let turned = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: e, noseShift: 0.4))], frameWidth: 640, sharpness: 100)
        #expect(turned.reasons == [.notFrontal])
        #expect(abs((turned.pose?.asymmetry ?? 0) - 0.4) < 1e-9)
        let slight = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: e, noseShift: 0.1))], frameWidth: 640, sharpness: 100)
        #expect(slight.isReady, "a 0.1 offset is within the 0.25 tolerance")
        let tilted = evaluator.assess([tracked(landmarkFace(cx: 320, cy: 240, eyes: e, rollDegrees: 35))], frameWidth: 640, sharpness: 100)
        #expect(tilted.reasons == [.notFrontal])
        #expect(abs((tilted.pose?.rollDegrees ?? 0) - 35) < 1e-9)
        // A tilted head that is otherwise frontal must not look asymmetric.
        #expect(abs(tilted.pose?.asymmetry ?? 1) < 1e-9)
    }

    @Test func blurryAndUnsettledFacesWait() {
        let f = landmarkFace(cx: 320, cy: 240, eyes: eyes(at: 0.7))
        #expect(evaluator.assess([tracked(f)], frameWidth: 640, sharpness: 3).reason == .blurry(sharpness: 3))
        #expect(evaluator.assess([tracked(f, stable: 2)], frameWidth: 640, sharpness: 100).reason == .settling(stableFrames: 2, needed: 5))
    }

    @Test func invalidConfigNamesTheKey() {
        var c = FaceReadinessConfig()
        c.minDistanceMeters = 1.2
        #expect(throws: CoreError.self) { try c.validate() }
        do { try c.validate() } catch { #expect(error.message.contains("min_distance_m")) }
        c = FaceReadinessConfig()
        c.stableFrames = 0
        do { try c.validate(); Issue.record("stable_frames 0 accepted") } catch { #expect(error.message.contains("stable_frames")) }
    }

    @Test func sharpnessSeparatesDetailFromBlur() {
        let side = Sharpness.defaultSide  // no resampling: the gradient stays exactly linear
        // Fine checkerboard vs. a smooth gradient.
        var sharp = [UInt8](repeating: 0, count: side * side)
        var smooth = [UInt8](repeating: 0, count: side * side)
        for y in 0..<side { for x in 0..<side {
            sharp[y * side + x] = ((x / 2 + y / 2) % 2 == 0) ? 30 : 220
            smooth[y * side + x] = UInt8(x * 2)
        } }
        let box = FaceBox(x: 0, y: 0, width: Double(side), height: Double(side))
        let s1 = Sharpness.laplacianVariance(of: Frame(width: side, height: side, layout: .gray8, pixels: sharp, sequence: 0, monotonicNanos: 0), in: box)
        let s2 = Sharpness.laplacianVariance(of: Frame(width: side, height: side, layout: .gray8, pixels: smooth, sequence: 0, monotonicNanos: 0), in: box)
        #expect(s1 > 1000)
        #expect(s2 < 1e-6, "a linear ramp has no second derivative")
    }
}

/// Issue #17: only faces that can be people at the kiosk count towards "one person at a time".
@Suite struct FacePersonRangeTests {
    let config = FaceReadinessConfig()  // working range 0.5…1.0 m, person range 1.5 m
    var evaluator: FaceReadinessEvaluator { FaceReadinessEvaluator(config: config) }
    func eyes(at meters: Double) -> Double { config.focalLengthPixels(frameWidth: 640) * config.interEyeMeters / meters }
    func face(at meters: Double, cx: Double = 320, verified: Bool = true) -> DetectedFace {
        var f = landmarkFace(cx: cx, cy: 240, eyes: eyes(at: meters))
        f.verified = verified
        return f
    }

    @Test func aSmallBoxBesideARealFaceIsNotASecondPerson() {
        // A box the size of a face 3 m away (a mask valve, a patch of hair, someone far behind) next to a person at 0.7 m.
        let a = evaluator.assess([tracked(face(at: 0.7, cx: 300)), tracked(face(at: 3.0, cx: 520), id: 2)], frameWidth: 640, sharpness: 100)
        #expect(a.isReady)
        #expect(a.face?.id == 1)
        #expect(!a.reasons.contains(.multipleFaces(count: 2)))
    }

    @Test func aSecondPersonWithinThePersonRangeStillCounts() {
        // 1.3 m is beyond the measuring range (1.0 m) but close enough to be someone queueing at the kiosk.
        let a = evaluator.assess([tracked(face(at: 0.7, cx: 200)), tracked(face(at: 1.3, cx: 480), id: 2)], frameWidth: 640, sharpness: 100)
        #expect(a.reason == .multipleFaces(count: 2))
        #expect(a.reason?.prompt == "One person at a time, please")
        // Just inside and just outside the 1.5 m person range.
        #expect(evaluator.assess([tracked(face(at: 0.7, cx: 200)), tracked(face(at: 1.49, cx: 480), id: 2)], frameWidth: 640, sharpness: 100).reason
            == .multipleFaces(count: 2))
        #expect(evaluator.assess([tracked(face(at: 0.7, cx: 200)), tracked(face(at: 1.51, cx: 480), id: 2)], frameWidth: 640, sharpness: 100).isReady)
    }

    @Test func aFaceThatFailedVerificationNeverCounts() {
        // Even right in front of the camera and larger than the real face.
        let a = evaluator.assess([tracked(face(at: 0.8, cx: 200)), tracked(face(at: 0.6, cx: 480, verified: false), id: 2)], frameWidth: 640, sharpness: 100)
        #expect(a.isReady)
        #expect(a.face?.id == 1)
        // Alone, it is no face at all.
        let alone = evaluator.assess([tracked(face(at: 0.7, verified: false))], frameWidth: 640, sharpness: 100)
        #expect(alone.reason == .noFace)
        #expect(alone.face == nil)
        #expect(!config.isPerson(face(at: 0.7, verified: false), frameWidth: 640))
    }

    @Test func aFaceAtRoomTemperatureIsNotASecondPerson() {
        // A poster beside the person, as close and as large: its thermal region is cold.
        var poster = face(at: 0.6, cx: 500)
        poster.warmSkin = false
        var person = face(at: 0.7, cx: 200)
        person.warmSkin = true
        let a = evaluator.assess([tracked(person), tracked(poster, id: 2)], frameWidth: 640, sharpness: 100)
        #expect(a.isReady)
        #expect(a.face?.id == 1)
        #expect(!config.isPerson(poster, frameWidth: 640))
        // Unknown warmth (no fresh thermal frame) counts, as a second warm face does.
        poster.warmSkin = nil
        #expect(evaluator.assess([tracked(person), tracked(poster, id: 2)], frameWidth: 640, sharpness: 100).reason == .multipleFaces(count: 2))
        poster.warmSkin = true
        #expect(evaluator.assess([tracked(person), tracked(poster, id: 2)], frameWidth: 640, sharpness: 100).reason == .multipleFaces(count: 2))
        // A poster alone is still judged (and measured: its cold reading is invalid, never normal).
        poster.warmSkin = false
        #expect(evaluator.assess([tracked(poster, id: 2)], frameWidth: 640, sharpness: 100).face?.id == 2)
    }

    @Test func aPosterFoundColdStaysColdThroughAFrameWithoutThermalData() {
        var tracker = FaceTracker()
        var person = face(at: 0.7, cx: 200), poster = face(at: 0.7, cx: 480)
        person.warmSkin = true
        poster.warmSkin = false
        _ = tracker.update([person, poster])
        // The next frame arrives before a fresh thermal frame: warmth unknown for both.
        person.warmSkin = nil
        poster.warmSkin = nil
        let visible = tracker.update([person, poster])
        #expect(visible.map(\.face.warmSkin).sorted { ($0 ?? false) && !($1 ?? false) } == [true, false])
        #expect(evaluator.assess(visible, frameWidth: 640, sharpness: 100).reason != .multipleFaces(count: 2))
        // A later warm judgement wins (the thermal side now sees skin there).
        poster.warmSkin = true
        #expect(tracker.update([person, poster]).filter { $0.face.warmSkin == true }.count == 2)
    }

    @Test func someoneAloneBeyondThePersonRangeIsAskedToComeCloser() {
        let a = evaluator.assess([tracked(face(at: 2.5))], frameWidth: 640, sharpness: 100)
        #expect(a.reason?.code == "too-far")
        #expect(a.reason?.prompt == "Please come closer")
        // Two faces far back: nobody is at the kiosk yet, so not "one person at a time" either.
        let two = evaluator.assess([tracked(face(at: 2.5, cx: 200)), tracked(face(at: 3.0, cx: 480), id: 2)], frameWidth: 640, sharpness: 100)
        #expect(two.reason?.code == "too-far")
        #expect(!two.reasons.contains { $0.code == "multiple-faces" })
    }

    @Test func thePersonRangeIsNeverShorterThanTheMeasuringRange() {
        var c = FaceReadinessConfig()
        c.personRangeMeters = 0.6  // below max_distance_m 1.0: the working range still counts
        let e = FaceReadinessEvaluator(config: c)
        #expect(c.isPerson(face(at: 0.95), frameWidth: 640))
        #expect(e.assess([tracked(face(at: 0.7, cx: 200)), tracked(face(at: 0.95, cx: 480), id: 2)], frameWidth: 640, sharpness: 100).reason
            == .multipleFaces(count: 2))
        #expect(!c.isPerson(face(at: 1.05), frameWidth: 640))
        c.personRangeMeters = 0
        do { try c.validate(); Issue.record("person_range_m 0 accepted") } catch { #expect(error.message.contains("person_range_m")) }
    }

    @Test func aFaceWithoutAnyDistanceCueCounts() {
        // A Haar box has no landmarks; a degenerate 1-px box gives no distance: it is not silently dropped.
        let tiny = DetectedFace(box: FaceBox(x: 10, y: 10, width: 1, height: 1), score: 1)
        #expect(config.isPerson(tiny, frameWidth: 640))
    }

    @Test func theSnapshotIsTakenWhenTheOnlyPersonHasAFarBoxBesideThem() throws {
        var pipeline = FacePipeline(readiness: config)
        var pixels = [UInt8](repeating: 0, count: 640 * 480)
        for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: i &* 37 &+ (i / 640) &* 11) }
        let frame = Frame(width: 640, height: 480, layout: .gray8, pixels: pixels, sequence: 1, monotonicNanos: 0)
        _ = pipeline.process(frame, faces: [face(at: 0.7, cx: 300), face(at: 3.0, cx: 540)])
        let id = try #require(pipeline.tracker.tracks.first { $0.face.box.width > 100 }?.id)
        #expect(pipeline.bestFrame(for: id) != nil)
    }
}

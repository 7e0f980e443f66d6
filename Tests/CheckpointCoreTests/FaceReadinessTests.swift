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
    let config = FaceReadinessConfig()
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

import Foundation
import Testing
@testable import CheckpointAdapters
import CheckpointCore

/// Tracking, readiness and snapshots on frame sequences built from the real photos:
/// shifted (walking in), scaled (distance), two people side by side, defocused, tilted.
@Suite(.enabled(if: FaceFixtures.available, "needs ../shared/models and ../shared/fixtures/faces"))
struct VisionSequenceTests {
    let detector: FaceDetector
    let astronaut: Frame
    let hopper: Frame
    let maskedHopper: Frame

    init() throws {
        detector = try FaceDetector(config: FaceFixtures.config())
        astronaut = try FaceFixtures.frame(named: "astronaut.png", in: "with-face")
        hopper = try FaceFixtures.frame(named: "grace_hopper_512.jpg", in: "with-face")
        maskedHopper = try FaceFixtures.frame(named: "grace_hopper_512-mask-blue.png", in: "masked")
    }

    /// Readiness whose working range is centred on the distance the face reads at `scale` 0.8:
    /// the photos carry no real distance, so the range is set relative to what the pipeline measures.
    func readiness(for photo: Frame) throws -> FaceReadinessConfig {
        var config = FaceReadinessConfig()
        let frame = FaceFixtures.compose([(photo, 0.8, 115, 40)])
        let face = try #require(try detector.detect(frame).first)
        let d = try #require(config.distanceMeters(of: face, frameWidth: 640))
        config.minDistanceMeters = d * 0.7
        config.maxDistanceMeters = d * 1.4
        config.personRangeMeters = d * 2.5  // relative too: the people placed beside each other stay within it
        return config
    }

    @Test(arguments: ["astronaut", "masked-hopper"])
    func aPersonWalkingInKeepsOneIdAndBecomesReadyAfterSettling(_ who: String) throws {
        let photo = who == "astronaut" ? astronaut : maskedHopper
        var pipeline = FacePipeline(readiness: try readiness(for: photo))
        var ids: Set<UInt64> = []
        var readyFrom: Int?
        // Walks in 30 px per frame for 6 frames (same person, not steady), then stands (almost) still for 8.
        for i in 0..<14 {
            let x = i < 6 ? 115 - 30 * (6 - i) : 115 + (i % 2)
            let frame = FaceFixtures.compose([(photo, 0.8, x, 40)], sequence: UInt64(i))
            let a = pipeline.process(frame, faces: try detector.detect(frame))
            let face = try #require(a.face, "frame \(i): no face")
            ids.insert(face.id)
            if a.isReady, readyFrom == nil { readyFrom = i }
            if !a.isReady, i >= 6 {
                guard case .settling? = a.reason else { Issue.record("frame \(i): \(a.reasons)"); continue }
            }
        }
        #expect(ids.count == 1, "one person, one id: \(ids)")
        // Standing still from frame 6 on; five stable frames are needed, so ready from frame 10 at the latest.
        let from = try #require(readyFrom, "never became ready")
        #expect(from >= 6 && from <= 10, "ready from frame \(from)")
        // The snapshot: the best frame, cropped and bounded.
        let best = try #require(pipeline.bestFrame(for: ids.first!))
        var snap = FaceSnapshotConfig()
        snap.maxBytes = 25_000
        let jpeg = try FaceSnapshotEncoder.encode(best.frame, face: best.face.box, config: snap)
        #expect(jpeg.count <= 25_000 && jpeg.prefix(2) == [0xFF, 0xD8])
        let decoded = try ImageCodec.decode(jpeg)
        let cropFrame = Frame(width: decoded.width, height: decoded.height, layout: .bgr24, pixels: decoded.pixels, sequence: 0, monotonicNanos: 0)
        #expect(abs(Double(decoded.width) - best.face.box.width * 1.5) < 4, "margin 0.25 on each side")
        // The snapshot is not a camera frame: the face fills two thirds of it, which the range gate would read as a
        // face nearer than 0.25 m. Look for the face with the gate off.
        var ungated = detector.config
        (ungated.nearestFaceM, ungated.farthestFaceM) = (0, 0)
        #expect(try FaceDetector(config: ungated).detect(cropFrame).count == 1, "the snapshot shows the face")
    }

    @Test func aSnapshotIsShrunkUntilItFitsTheLimit() throws {
        let frame = FaceFixtures.compose([(hopper, 0.9, 100, 10)])
        let face = try #require(try detector.detect(frame).first)
        var snap = FaceSnapshotConfig()
        snap.jpegQuality = 95
        let generous = try FaceSnapshotEncoder.encode(frame, face: face.box, config: snap)
        snap.maxBytes = 4_000
        let tight = try FaceSnapshotEncoder.encode(frame, face: face.box, config: snap)
        #expect(generous.count > 4_000, "the test needs a crop larger than the limit at quality 95")
        #expect(tight.count <= 4_000)
        #expect(try ImageCodec.decode(tight).width > 32)
    }

    @Test func distanceIsJudgedFromTheFaceSize() throws {
        let config = try readiness(for: astronaut)
        let evaluator = FaceReadinessEvaluator(config: config)
        var tracker = FaceTracker()
        // Half the size: twice as far away.
        let far = FaceFixtures.compose([(astronaut, 0.4, 220, 140)])
        let a = evaluator.assess(tracker.update(try detector.detect(far)), in: far)
        guard case .tooFar(let m)? = a.reason else { Issue.record("expected tooFar, got \(a.reasons)"); return }
        #expect(m > config.maxDistanceMeters && m < config.maxDistanceMeters * 1.6)
        #expect(a.reason?.prompt == "Please come closer")
        // Twice the size: too close.
        tracker.reset()
        let near = FaceFixtures.compose([(astronaut, 1.6, -150, -60)])
        let b = evaluator.assess(tracker.update(try detector.detect(near)), in: near)
        #expect(b.reason?.code == "too-close", "\(b.reasons)")
        // Just right.
        tracker.reset()
        let ok = FaceFixtures.compose([(astronaut, 0.8, 115, 40)])
        let c = evaluator.assess(tracker.update(try detector.detect(ok)), in: ok)
        #expect(c.reasons.allSatisfy { if case .settling = $0 { return true } else { return false } }, "\(c.reasons)")
    }

    @Test func twoPeopleSideBySideMeanOnePersonAtATime() throws {
        var pipeline = FacePipeline(readiness: try readiness(for: astronaut))
        var pairs: [[UInt64]] = []
        for i in 0..<8 {
            let frame = FaceFixtures.compose([(astronaut, 0.55, 10 + i, 100), (maskedHopper, 0.55, 340 - i, 110)], sequence: UInt64(i))
            let faces = try detector.detect(frame)
            #expect(faces.count == 2, "frame \(i): \(faces.count) faces")
            let a = pipeline.process(frame, faces: faces)
            #expect(!a.isReady)
            #expect(a.reason == .multipleFaces(count: 2))
            #expect(a.reason?.prompt == "One person at a time, please")
            let ids = pipeline.tracker.tracks.sorted { $0.face.box.x < $1.face.box.x }.map(\.id)
            pairs.append(ids)
        }
        #expect(Set(pairs).count == 1 && pairs[0].count == 2, "each keeps its id: \(pairs)")
        #expect(pipeline.bestFrame(for: pairs[0][0]) == nil, "no snapshot is taken while two people are in view")
        // The masked person leaves: the astronaut keeps the same id and is the only face.
        let alone = FaceFixtures.compose([(astronaut, 0.55, 18, 100)], sequence: 9)
        let a = pipeline.process(alone, faces: try detector.detect(alone))
        #expect(a.face?.id == pairs[0][0])
        #expect(a.reason != .multipleFaces(count: 2))
    }

    @Test func anOutOfFocusFaceIsFoundButNotReady() throws {
        let config = try readiness(for: hopper)
        let evaluator = FaceReadinessEvaluator(config: config)
        let sharp = FaceFixtures.compose([(hopper, 0.8, 115, 40)])
        let soft = FaceFixtures.blurred(sharp, radius: 4)
        let fs = try #require(try detector.detect(sharp).first)
        let fb = try #require(try detector.detect(soft).first, "YuNet still finds the blurred face")
        let s1 = Sharpness.laplacianVariance(of: sharp, in: fs.box), s2 = Sharpness.laplacianVariance(of: soft, in: fb.box)
        #expect(s1 >= config.minSharpness, "sharp photo scores \(s1)")
        #expect(s2 < config.minSharpness, "blurred photo scores \(s2)")
        let steady = TrackedFace(id: 1, face: fb, frames: 10, stableFrames: 10, missed: 0)
        #expect(evaluator.assess([steady], in: soft).reason == .blurry(sharpness: s2))
        #expect(evaluator.assess([TrackedFace(id: 1, face: fs, frames: 10, stableFrames: 10, missed: 0)], in: sharp).isReady)
    }

    @Test func aTiltedHeadIsNotFrontal() throws {
        let config = try readiness(for: astronaut)
        let upright = FaceFixtures.compose([(astronaut, 0.8, 115, 40)])
        let tilted = FaceFixtures.rotated(upright, degrees: 40)
        let face = try #require(try detector.detect(tilted).first, "YuNet finds the tilted face")
        let pose = try #require(face.landmarks.flatMap(FacePose.init))
        #expect(abs(pose.rollDegrees) > config.maxRollDegrees && abs(pose.rollDegrees) < 60, "roll \(pose.rollDegrees)")
        let a = FaceReadinessEvaluator(config: config).assess([TrackedFace(id: 1, face: face, frames: 9, stableFrames: 9, missed: 0)], in: tilted)
        #expect(a.reasons.contains(.notFrontal), "\(a.reasons)")
        let straight = try #require(try detector.detect(upright).first?.landmarks.flatMap(FacePose.init))
        #expect(abs(straight.rollDegrees) < 10 && abs(straight.asymmetry) < config.maxAsymmetry)
    }
}

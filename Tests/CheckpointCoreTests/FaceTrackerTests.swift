import Testing
@testable import CheckpointCore

private func face(_ x: Double, _ y: Double, _ w: Double = 100, score: Double = 0.9) -> DetectedFace {
    DetectedFace(box: FaceBox(x: x, y: y, width: w, height: w * 1.2), score: score)
}

@Suite struct FaceTrackerTests {
    @Test func iouOfKnownBoxes() {
        let a = FaceBox(x: 0, y: 0, width: 10, height: 10)
        #expect(a.iou(a) == 1)
        #expect(a.iou(FaceBox(x: 20, y: 20, width: 5, height: 5)) == 0)
        // Half overlap: intersection 50, union 150.
        #expect(abs(a.iou(FaceBox(x: 5, y: 0, width: 10, height: 10)) - 1.0 / 3.0) < 1e-12)
    }

    @Test func samePersonKeepsIdWhileMovingSlowly() {
        var tracker = FaceTracker()
        var ids: Set<UInt64> = []
        for step in 0..<20 {
            let seen = tracker.update([face(100 + Double(step) * 4, 80)])
            #expect(seen.count == 1)
            ids.insert(seen[0].id)
        }
        #expect(ids.count == 1, "one person walking slowly keeps one id")
        #expect(tracker.tracks.first?.frames == 20)
        #expect(tracker.tracks.first?.stableFrames == 20)
    }

    @Test func twoPeopleKeepTheirOwnIdsWhateverTheOrder() {
        var tracker = FaceTracker()
        let first = tracker.update([face(50, 50), face(400, 60)])
        let a = first[0].id, b = first[1].id
        #expect(a != b)
        // Detector returns them in the other order, both moved a little.
        let second = tracker.update([face(405, 62), face(52, 49)])
        #expect(second.map(\.id) == [b, a])
    }

    @Test func aJumpResetsStabilityButAFarJumpIsANewPerson() {
        var tracker = FaceTracker(matchIoU: 0.3, stableIoU: 0.8)
        for _ in 0..<5 { _ = tracker.update([face(100, 100)]) }
        let moved = tracker.update([face(130, 100)])  // IoU ≈ 0.54: same person, not steady
        #expect(moved[0].id == 1 && moved[0].stableFrames == 1)
        let far = tracker.update([face(400, 300)])
        #expect(far[0].id == 2, "no overlap: a different person")
    }

    @Test func aTrackSurvivesShortDropoutsButNotLongOnes() {
        var tracker = FaceTracker(maxMissed: 2)
        _ = tracker.update([face(100, 100)])
        _ = tracker.update([])
        _ = tracker.update([])
        #expect(tracker.update([face(101, 100)])[0].id == 1, "two missed frames are tolerated")
        _ = tracker.update([])
        _ = tracker.update([])
        _ = tracker.update([])
        #expect(tracker.tracks.isEmpty)
        #expect(tracker.update([face(101, 100)])[0].id == 2, "after three missed frames the face is someone new")
    }

    @Test func stabilityRestartsAfterAMissedFrame() {
        var tracker = FaceTracker(maxMissed: 2)
        for _ in 0..<4 { _ = tracker.update([face(100, 100)]) }
        _ = tracker.update([])
        #expect(tracker.update([face(100, 100)])[0].stableFrames == 1)
    }
}

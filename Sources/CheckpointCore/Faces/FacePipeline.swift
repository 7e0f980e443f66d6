/// Tracking, readiness and best-frame selection for a stream of detections: feed it every detected frame.
public struct FacePipeline: Sendable {
    public private(set) var tracker: FaceTracker
    public let evaluator: FaceReadinessEvaluator
    public private(set) var selector: BestFrameSelector

    public init(readiness: FaceReadinessConfig, tracker: FaceTracker = FaceTracker()) {
        self.tracker = tracker
        self.evaluator = FaceReadinessEvaluator(config: readiness)
        self.selector = BestFrameSelector(minSharpness: readiness.minSharpness)
    }

    /// Updates tracks with this frame's faces, judges readiness, and offers the frame as a snapshot
    /// candidate for the judged face when it is the only one in view.
    public mutating func process(_ frame: Frame, faces: [DetectedFace]) -> FaceAssessment {
        let visible = tracker.update(faces)
        let assessment = evaluator.assess(visible, in: frame)
        if let face = assessment.face, evaluator.candidates(visible, frameWidth: frame.width).count == 1, let sharpness = assessment.sharpness {
            selector.offer(face, frame: frame, sharpness: sharpness)
        }
        selector.retain(ids: Set(tracker.tracks.map(\.id)))
        return assessment
    }

    /// The best frame seen for a track, for its snapshot.
    public func bestFrame(for id: UInt64) -> SnapshotCandidate? { selector.best(for: id) }
}

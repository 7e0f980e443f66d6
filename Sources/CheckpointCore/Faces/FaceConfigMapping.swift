extension FaceTracker {
    /// A tracker using the daemon's `[tracking]` IoU threshold for matching faces across frames.
    public init(_ tracking: CheckpointConfig.Tracking) {
        self.init(matchIoU: tracking.iouThreshold)
    }
}

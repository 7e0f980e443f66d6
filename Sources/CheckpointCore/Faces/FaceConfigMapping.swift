extension FaceReadinessConfig {
    /// The readiness rules from the daemon's `[tracking]` table.
    public init(_ tracking: CheckpointConfig.Tracking) {
        self.init()
        stableFrames = tracking.stableFrames
        minDistanceMeters = tracking.minDistanceMeters
        maxDistanceMeters = tracking.maxDistanceMeters
        focalLengthPixels = tracking.focalLengthPixels
        minSharpness = tracking.minSharpness
        maxAsymmetry = tracking.maxAsymmetry
        personRangeMeters = tracking.personRangeMeters
    }
}

extension FaceSnapshotConfig {
    /// The snapshot settings from the daemon's `[snapshot]` table.
    public init(_ snapshot: CheckpointConfig.Snapshot) {
        self.init()
        jpegQuality = snapshot.jpegQuality
        maxBytes = snapshot.maxBytes
        margin = snapshot.margin
    }
}

extension FaceTracker {
    /// A tracker using the daemon's `[tracking]` IoU threshold for matching faces across frames.
    public init(_ tracking: CheckpointConfig.Tracking) {
        self.init(matchIoU: tracking.iouThreshold)
    }
}

import CheckpointCore

extension V4L2Camera {
    /// The capture engine's health (`FrameSource.cameraHealth`), so the daemon needs no downcast.
    public var cameraHealth: CameraHealth? { status.health }
}

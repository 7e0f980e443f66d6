import CheckpointCore
import Logging

/// Builds the configured frame source: the V4L2 camera or the replay of a recorded directory.
public enum CameraSourceFactory {
    /// - Throws: for a replay source whose directory is unreadable or holds no images (a V4L2 camera never
    ///   throws here: a missing device is a degraded state the capture loop recovers from).
    public static func make(_ config: CheckpointConfig.Camera, output: PixelLayout = .bgr24, logger: Logger = Logger(label: "checkpointd.camera")) throws(AdapterError) -> any FrameSource {
        switch config.source {
        case .replay:
            guard let path = config.replayPath else { throw AdapterError(.open, "camera.replay_path is required for camera.source = \"replay\"") }
            return try ReplaySource(directory: path, fps: config.replayFPS, loop: true, output: output, logger: logger)
        case .v4l2:
            var settings = CameraSettings(config: config)
            settings.output = output
            return V4L2Camera(settings: settings, logger: logger)
        }
    }
}

/// Everything the camera adapters need from the `[camera]` config section.
///
/// Plain values. The settings of `[camera]` have no default here: their one definition is the config schema, and
/// `CameraSettings()` / `init(config:)` (CameraSettings+Config.swift) take them from it. Only the capture engine's
/// own constants (backoff, warm-up frames, smallest JPEG) have defaults.
public struct CameraSettings: Sendable, Equatable {
    /// Device path; a stable `/dev/v4l/by-id/…` path is preferred so replugging keeps the name.
    public var device: String
    /// Preferred capture formats, first is best.
    public var formats: [CameraPixelFormat]
    public var width: Int
    public var height: Int
    public var fps: Int
    /// mmap buffers to request (the driver may grant fewer; at least 2 are needed).
    public var buffers: Int
    /// How long a poll may wait for a frame before the camera counts as frozen.
    public var frameTimeoutMs: Int
    /// Reconnect backoff bounds, in seconds.
    public var backoffMinSeconds: Double
    public var backoffMaxSeconds: Double
    /// Frames to discard after STREAMON when they are bad (flagged or undecodable).
    public var warmupFrames: Int
    /// Smallest MJPEG buffer accepted as a frame, in bytes.
    public var minimumJPEGBytes: Int
    /// Layout delivered to the detector.
    public var output: PixelLayout
    /// Camera controls, applied in order after every (re)open.
    public var controls: [CameraControlRequest]

    public init(
        device: String,
        formats: [CameraPixelFormat],
        width: Int,
        height: Int,
        fps: Int,
        buffers: Int,
        frameTimeoutMs: Int,
        backoffMinSeconds: Double = 0.5,
        backoffMaxSeconds: Double = 30,
        warmupFrames: Int = 3,
        minimumJPEGBytes: Int = 1024,
        output: PixelLayout = .bgr24,
        controls: [CameraControlRequest] = []
    ) {
        self.device = device
        self.formats = formats
        self.width = width
        self.height = height
        self.fps = fps
        self.buffers = buffers
        self.frameTimeoutMs = frameTimeoutMs
        self.backoffMinSeconds = backoffMinSeconds
        self.backoffMaxSeconds = backoffMaxSeconds
        self.warmupFrames = warmupFrames
        self.minimumJPEGBytes = minimumJPEGBytes
        self.output = output
        self.controls = controls
    }
}

/// Everything the camera adapters need from the `[camera]` config section.
///
/// Plain values with defaults that follow the design notes; the config loader fills it in.
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
        device: String = "/dev/video0",
        formats: [CameraPixelFormat] = [.yuyv, .mjpeg, .grey],
        width: Int = 640,
        height: Int = 480,
        fps: Int = 15,
        buffers: Int = 4,
        frameTimeoutMs: Int = 2500,
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

    /// Checks the values a config file could get wrong; every problem is named.
    public func validate() throws(CoreError) {
        var problems: [String] = []
        if device.isEmpty { problems.append("camera.device is empty") }
        if formats.isEmpty { problems.append("camera.formats is empty (allowed: YUYV, MJPEG, GREY)") }
        if !(16...8192).contains(width) { problems.append("camera.width \(width) is out of range (allowed: 16…8192)") }
        if !(16...8192).contains(height) { problems.append("camera.height \(height) is out of range (allowed: 16…8192)") }
        if !(1...120).contains(fps) { problems.append("camera.fps \(fps) is out of range (allowed: 1…120)") }
        if !(2...8).contains(buffers) { problems.append("camera.buffers \(buffers) is out of range (allowed: 2…8)") }
        if !(100...60_000).contains(frameTimeoutMs) {
            problems.append("camera.frame_timeout_ms \(frameTimeoutMs) is out of range (allowed: 100…60000)")
        }
        if !(backoffMinSeconds > 0 && backoffMinSeconds <= backoffMaxSeconds) {
            problems.append("camera backoff bounds \(backoffMinSeconds)…\(backoffMaxSeconds) s are not increasing and positive")
        }
        guard problems.isEmpty else { throw CoreError(.invalidConfig, problems.joined(separator: "; ")) }
    }
}

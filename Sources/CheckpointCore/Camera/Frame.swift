/// Pixel layouts that travel through the pipeline after capture and conversion.
public enum PixelLayout: String, Sendable, Equatable {
    /// 8-bit blue, green, red, tightly packed: what the face detector takes.
    case bgr24
    /// 8-bit luma only.
    case gray8

    public var bytesPerPixel: Int {
        switch self {
        case .bgr24: return 3
        case .gray8: return 1
        }
    }
}

/// One camera frame owned by Swift (copied out of the driver's mmap buffer), ready for detection.
public struct Frame: Sendable {
    public var width: Int
    public var height: Int
    public var layout: PixelLayout
    /// Row-major pixels, `width * layout.bytesPerPixel` bytes per row, no padding.
    public var pixels: [UInt8]
    /// The driver's sequence number (or the replay index).
    public var sequence: UInt64
    /// Capture time on the monotonic clock, in nanoseconds.
    public var monotonicNanos: UInt64

    public init(width: Int, height: Int, layout: PixelLayout, pixels: [UInt8], sequence: UInt64, monotonicNanos: UInt64) {
        precondition(pixels.count == width * height * layout.bytesPerPixel, "frame size does not match its dimensions")
        self.width = width
        self.height = height
        self.layout = layout
        self.pixels = pixels
        self.sequence = sequence
        self.monotonicNanos = monotonicNanos
    }
}

/// What a frame source yields: frames, and the device's health when it changes (as `SensorEvent` does for the
/// thermal link).
public enum CameraEvent: Sendable {
    /// A frame: the camera is delivering.
    case frame(Frame)
    /// The device's health changed: lost and recovering (`.degraded`), or delivering again (`.streaming`).
    case health(CameraHealth)
}

/// Anything that yields frames: the V4L2 camera, or the replay source used by the demo, tests and technicians.
public protocol FrameSource: Sendable {
    /// A human-readable description for logs and status (no personal data).
    var description: String { get }
    /// Frames and health changes, newest only: a consumer that falls behind sees the latest event, never a backlog.
    /// Dropping an older event loses nothing a consumer needs: a later health event replaces an earlier one, and a
    /// frame means the camera is delivering again. Sources that cannot lose their device (replay) yield frames only.
    func events() -> AsyncStream<CameraEvent>
}

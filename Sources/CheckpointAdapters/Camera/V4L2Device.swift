import CheckpointCore

/// QUERYCAP's answer.
public struct V4L2Capabilities: Sendable, Equatable {
    public var driver: String
    public var card: String
    public var busInfo: String
    /// `device_caps` when the driver sets V4L2_CAP_DEVICE_CAPS, else `capabilities`.
    public var deviceCaps: UInt32
    public var videoCapture: Bool
    public var streaming: Bool

    public init(driver: String, card: String, busInfo: String, deviceCaps: UInt32, videoCapture: Bool, streaming: Bool) {
        self.driver = driver
        self.card = card
        self.busInfo = busInfo
        self.deviceCaps = deviceCaps
        self.videoCapture = videoCapture
        self.streaming = streaming
    }
}

/// One ENUM_FMT entry.
public struct V4L2FormatDescription: Sendable, Equatable {
    public var fourcc: UInt32
    public var description: String
    public var compressed: Bool

    public init(fourcc: UInt32, description: String, compressed: Bool) {
        self.fourcc = fourcc
        self.description = description
        self.compressed = compressed
    }
}

/// One ENUM_FRAMESIZES answer.
public enum V4L2FrameSize: Sendable, Equatable {
    case discrete(width: Int, height: Int)
    case stepwise(minWidth: Int, maxWidth: Int, stepWidth: Int, minHeight: Int, maxHeight: Int, stepHeight: Int)
}

/// One ENUM_FRAMEINTERVALS answer (seconds per frame as a fraction).
public enum V4L2FrameInterval: Sendable, Equatable {
    case discrete(numerator: UInt32, denominator: UInt32)
    case stepwise(min: (UInt32, UInt32), max: (UInt32, UInt32))

    public static func == (a: V4L2FrameInterval, b: V4L2FrameInterval) -> Bool {
        switch (a, b) {
        case let (.discrete(n1, d1), .discrete(n2, d2)): return n1 == n2 && d1 == d2
        case let (.stepwise(a1, a2), .stepwise(b1, b2)): return a1 == b1 && a2 == b2
        default: return false
        }
    }
}

/// What S_PARM/G_PARM answered about the frame rate.
public struct V4L2FrameRate: Sendable, Equatable {
    public var numerator: UInt32
    public var denominator: UInt32
    /// V4L2_CAP_TIMEPERFRAME: the driver can set the rate at all.
    public var supported: Bool

    public init(numerator: UInt32, denominator: UInt32, supported: Bool) {
        self.numerator = numerator
        self.denominator = denominator
        self.supported = supported
    }
}

/// A dequeued buffer.
public struct V4L2DequeuedBuffer: Sendable, Equatable {
    public var index: Int
    public var bytesUsed: Int
    /// V4L2_BUF_FLAG_ERROR: the driver says the data is corrupt.
    public var errorFlag: Bool
    public var sequence: UInt32
    /// Driver timestamp in nanoseconds (CLOCK_MONOTONIC for vb2 drivers).
    public var timestampNanos: UInt64

    public init(index: Int, bytesUsed: Int, errorFlag: Bool, sequence: UInt32, timestampNanos: UInt64) {
        self.index = index
        self.bytesUsed = bytesUsed
        self.errorFlag = errorFlag
        self.sequence = sequence
        self.timestampNanos = timestampNanos
    }
}

/// What poll() said.
public enum V4L2WaitResult: Sendable, Equatable {
    case ready
    case timeout
    /// POLLERR without POLLHUP: fatal stream error.
    case error
    /// POLLHUP (the device was unregistered: unplug).
    case hangup
    /// The shutdown event fired.
    case cancelled
}

/// The ioctl layer, one open device per instance. Production: `SystemV4L2Device`; tests: a scripted fake.
///
/// Errors are `AdapterError` with `.errno` causes, so the capture loop can classify them for the recovery ladder.
public protocol V4L2Device: AnyObject {
    func queryCapabilities() throws(AdapterError) -> V4L2Capabilities
    func enumerateFormats() throws(AdapterError) -> [V4L2FormatDescription]
    func enumerateFrameSizes(fourcc: UInt32) throws(AdapterError) -> [V4L2FrameSize]
    func enumerateFrameIntervals(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> [V4L2FrameInterval]
    /// VIDIOC_S_FMT; returns what the driver set.
    func setFormat(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> DriverFormat
    /// VIDIOC_S_PARM with 1/fps, then what the driver kept.
    func setFrameRate(fps: Int) throws(AdapterError) -> V4L2FrameRate
    func queryControls() throws(AdapterError) -> [CameraControlInfo]
    func setControl(id: UInt32, value: Int) throws(AdapterError)
    func getControl(id: UInt32) throws(AdapterError) -> Int
    /// REQBUFS + QUERYBUF + mmap each; returns the number granted.
    func allocateBuffers(count: Int) throws(AdapterError) -> Int
    /// munmap every buffer and REQBUFS(0). Never throws: used on teardown of a dead device too.
    func releaseBuffers()
    func queueBuffer(index: Int) throws(AdapterError)
    /// Non-blocking DQBUF; nil on EAGAIN (no frame ready).
    func dequeueBuffer() throws(AdapterError) -> V4L2DequeuedBuffer?
    /// Read access to a mapped buffer's first `length` bytes.
    func withBuffer<R>(index: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    func streamOn() throws(AdapterError)
    func streamOff() throws(AdapterError)
    /// poll(POLLIN|POLLPRI) on the device plus the shutdown event.
    func wait(timeoutMs: Int) -> V4L2WaitResult
    /// Closes the fd (after `releaseBuffers`). Idempotent.
    func close()
}

/// Opens devices; production opens the real node, tests return fakes.
public protocol V4L2DeviceOpener: Sendable {
    /// `cancel` is an fd-like shutdown token owned by the caller (see `CaptureCancellation`).
    func open(path: String, cancellation: CaptureCancellation) throws(AdapterError) -> any V4L2Device
}

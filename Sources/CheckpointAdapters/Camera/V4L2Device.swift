import CheckpointCore

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

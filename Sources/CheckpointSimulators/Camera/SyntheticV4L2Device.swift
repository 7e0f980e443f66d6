#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
import CheckpointCore
import Foundation

/// An in-memory V4L2 device that streams one prepared payload (a YUYV image or a JPEG) at a fixed rate,
/// or as fast as asked. It exercises the whole capture path above the kernel — drain, checks, conversion
/// or decode, `Frame` creation — without a camera: used by `checkpointctl camera bench` for the benchmark.
public final class SyntheticV4L2Device: V4L2Device {
    public let format: CameraPixelFormat
    public let width: Int
    public let height: Int
    private let payload: [UInt8]
    private let fps: Double
    private var buffers: [[UInt8]] = []
    private var queued: [Int] = []
    private var sequence: UInt32 = 0
    private var nextDue = Date()
    private let cancellation: CaptureCancellation

    /// - Parameter fps: 0 = a frame is always ready (throughput measurement).
    public init(format: CameraPixelFormat, width: Int, height: Int, payload: [UInt8], fps: Double, cancellation: CaptureCancellation) {
        self.format = format
        self.width = width
        self.height = height
        self.payload = payload
        self.fps = fps
        self.cancellation = cancellation
    }

    public func queryCapabilities() throws(AdapterError) -> V4L2Capabilities {
        V4L2Capabilities(driver: "synthetic", card: "Synthetic \(format) source", busInfo: "memory", deviceCaps: 0x0400_0001, videoCapture: true, streaming: true)
    }

    public func enumerateFormats() throws(AdapterError) -> [V4L2FormatDescription] {
        [V4L2FormatDescription(fourcc: format.fourcc, description: format.rawValue, compressed: format.isCompressed)]
    }

    public func enumerateFrameSizes(fourcc: UInt32) throws(AdapterError) -> [V4L2FrameSize] { [.discrete(width: width, height: height)] }

    public func enumerateFrameIntervals(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> [V4L2FrameInterval] {
        fps > 0 ? [.discrete(numerator: 1000, denominator: UInt32(fps * 1000))] : []
    }

    public func setFormat(fourcc: UInt32, width _: Int, height _: Int) throws(AdapterError) -> DriverFormat {
        let bpl = format.minimumBytesPerLine(width: width)
        return DriverFormat(fourcc: format.fourcc, width: width, height: height, bytesPerLine: bpl, sizeImage: max(bpl * height, payload.count))
    }

    public func setFrameRate(fps requested: Int) throws(AdapterError) -> V4L2FrameRate {
        fps > 0 ? V4L2FrameRate(numerator: 1000, denominator: UInt32(fps * 1000), supported: true) : V4L2FrameRate(numerator: 0, denominator: 0, supported: false)
    }

    public func queryControls() throws(AdapterError) -> [CameraControlInfo] { [] }
    public func setControl(id: UInt32, value: Int) throws(AdapterError) {
        throw AdapterError(.ioctl, "synthetic device has no controls", cause: .errno(EINVAL))
    }
    public func getControl(id: UInt32) throws(AdapterError) -> Int {
        throw AdapterError(.ioctl, "synthetic device has no controls", cause: .errno(EINVAL))
    }

    public func allocateBuffers(count: Int) throws(AdapterError) -> Int {
        buffers = Array(repeating: payload, count: count)
        queued = []
        return count
    }

    public func releaseBuffers() {
        buffers = []
        queued = []
    }

    public func queueBuffer(index: Int) throws(AdapterError) { queued.append(index) }

    public func dequeueBuffer() throws(AdapterError) -> V4L2DequeuedBuffer? {
        guard !queued.isEmpty, fps <= 0 || Date() >= nextDue else { return nil }
        let index = queued.removeFirst()
        defer { sequence &+= 1 }
        if fps > 0 { nextDue = nextDue.addingTimeInterval(1 / fps) }
        return V4L2DequeuedBuffer(index: index, bytesUsed: payload.count, errorFlag: false, sequence: sequence, timestampNanos: monotonicNanos())
    }

    public func withBuffer<R>(index: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffers[index].withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
    }

    public func streamOn() throws(AdapterError) { nextDue = Date() }
    public func streamOff() throws(AdapterError) { queued = [] }

    public func wait(timeoutMs: Int) -> V4L2WaitResult {
        if cancellation.isCancelled { return .cancelled }
        guard fps > 0 else { return .ready }
        let delay = nextDue.timeIntervalSinceNow
        if delay > 0, !cancellation.sleep(seconds: delay) { return .cancelled }
        return .ready
    }

    public func close() { releaseBuffers() }
}

/// Opens a `SyntheticV4L2Device` whatever the path.
public struct SyntheticV4L2DeviceOpener: V4L2DeviceOpener {
    public let format: CameraPixelFormat
    public let width: Int
    public let height: Int
    public let payload: [UInt8]
    public let fps: Double

    public init(format: CameraPixelFormat, width: Int, height: Int, payload: [UInt8], fps: Double) {
        self.format = format
        self.width = width
        self.height = height
        self.payload = payload
        self.fps = fps
    }

    public func open(path: String, cancellation: CaptureCancellation) throws(AdapterError) -> any V4L2Device {
        SyntheticV4L2Device(format: format, width: width, height: height, payload: payload, fps: fps, cancellation: cancellation)
    }
}

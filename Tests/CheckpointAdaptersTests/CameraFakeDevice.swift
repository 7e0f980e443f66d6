#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
@testable import CheckpointAdapters

/// A scripted V4L2 camera: what it offers, how it answers, and a timeline of poll outcomes.
/// Every call is logged so tests can check the exact ioctl sequence of each recovery rung.
final class FakeCamera: V4L2DeviceOpener, @unchecked Sendable {
    enum Event {
        /// Frames that are ready together at the next poll (oldest first).
        case frames([FakeFrame])
        case timeout
        case pollError
        case hangup
        /// poll says ready, DQBUF fails with this errno.
        case dequeueError(Int32)
    }

    struct FakeFrame {
        var sequence: UInt32
        var bytes: [UInt8]
        var errorFlag = false
    }

    let lock = NSLock()
    var capabilities = V4L2Capabilities(driver: "fake", card: "Fake UVC", busInfo: "usb-fake", deviceCaps: 0x0520_0001, videoCapture: true, streaming: true)
    var formats: [V4L2FormatDescription] = [
        V4L2FormatDescription(fourcc: CameraPixelFormat.yuyv.fourcc, description: "YUYV 4:2:2", compressed: false),
        V4L2FormatDescription(fourcc: CameraPixelFormat.mjpeg.fourcc, description: "Motion-JPEG", compressed: true),
    ]
    /// The driver's answer to S_FMT; default echoes the request with a packed stride.
    var answerFormat: (UInt32, Int, Int) -> DriverFormat = { fourcc, w, h in
        let bpp = fourcc == CameraPixelFormat.yuyv.fourcc ? 2 : (fourcc == CameraPixelFormat.grey.fourcc ? 1 : 0)
        return DriverFormat(fourcc: fourcc, width: w, height: h, bytesPerLine: w * bpp, sizeImage: max(w * h * bpp, w * h))
    }
    var frameRate = V4L2FrameRate(numerator: 1, denominator: 15, supported: true)
    var controls: [CameraControlInfo] = []
    /// S_CTRL on these ids fails with the errno.
    var refusedControls: [UInt32: Int32] = [:]
    var grantedBuffers = 4
    /// errno for each successive open (0 = success); when exhausted, opens succeed.
    var openErrors: [Int32] = []
    var streamOnErrors: [Int32] = []
    var script: [Event] = []
    /// Called when the script runs out (tests cancel the engine there).
    var onExhausted: () -> Void = {}
    /// Seconds each poll takes (a real camera's frame period); 0 = instant.
    var waitDelay: Double = 0

    private(set) var log: [String] = []
    private(set) var opens = 0
    private(set) var openDevices = 0
    private(set) var mappedBuffers = 0

    func record(_ line: String) {
        lock.lock()
        log.append(line)
        lock.unlock()
    }

    func open(path: String, cancellation: CaptureCancellation) throws(AdapterError) -> any V4L2Device {
        lock.lock()
        opens += 1
        let e = openErrors.isEmpty ? 0 : openErrors.removeFirst()
        lock.unlock()
        record("open \(path)" + (e == 0 ? "" : " -> errno \(e)"))
        if e != 0 { throw AdapterError(errno: e, .open, "cannot open camera \(path)", deviceNode: true) }
        lock.lock()
        openDevices += 1
        lock.unlock()
        return FakeDevice(world: self)
    }

    func nextEvent() -> Event? {
        lock.lock()
        defer { lock.unlock() }
        return script.isEmpty ? nil : script.removeFirst()
    }

    func closed(mapped: Int) {
        lock.lock()
        openDevices -= 1
        lock.unlock()
    }

    func mapped(_ delta: Int) {
        lock.lock()
        mappedBuffers += delta
        lock.unlock()
    }

    var ioctls: [String] {
        lock.lock()
        defer { lock.unlock() }
        return log
    }
}

final class FakeDevice: V4L2Device {
    let world: FakeCamera
    var storage: [[UInt8]] = []
    var queued: [Int] = []
    var ready: [FakeCamera.FakeFrame] = []
    var pendingError: Int32?
    var streaming = false
    var closed = false
    var gone = false

    init(world: FakeCamera) { self.world = world }

    private func check(_ what: String) throws(AdapterError) {
        if gone { throw AdapterError(errno: ENODEV, .ioctl, "\(what) on fake") }
    }

    func queryCapabilities() throws(AdapterError) -> V4L2Capabilities {
        try check("VIDIOC_QUERYCAP")
        world.record("querycap")
        return world.capabilities
    }

    func enumerateFormats() throws(AdapterError) -> [V4L2FormatDescription] { world.formats }

    func enumerateFrameSizes(fourcc: UInt32) throws(AdapterError) -> [V4L2FrameSize] {
        [.discrete(width: 640, height: 480), .discrete(width: 320, height: 240)]
    }

    func enumerateFrameIntervals(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> [V4L2FrameInterval] {
        [.discrete(numerator: 1, denominator: 30), .discrete(numerator: 1, denominator: 15)]
    }

    func setFormat(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> DriverFormat {
        world.record("s_fmt \(CameraPixelFormat.fourccString(fourcc)) \(width)x\(height)")
        return world.answerFormat(fourcc, width, height)
    }

    func setFrameRate(fps: Int) throws(AdapterError) -> V4L2FrameRate {
        world.record("s_parm \(fps)")
        return world.frameRate
    }

    func queryControls() throws(AdapterError) -> [CameraControlInfo] { world.controls }

    func setControl(id: UInt32, value: Int) throws(AdapterError) {
        world.record("s_ctrl 0x\(String(id, radix: 16))=\(value)")
        if let e = world.refusedControls[id] { throw AdapterError(errno: e, .ioctl, "VIDIOC_S_CTRL on fake") }
    }

    func getControl(id: UInt32) throws(AdapterError) -> Int { 0 }

    func allocateBuffers(count: Int) throws(AdapterError) -> Int {
        let n = min(count, world.grantedBuffers)
        world.record("reqbufs \(count) -> \(n)")
        storage = Array(repeating: [UInt8](repeating: 0, count: 1 << 20), count: n)
        world.mapped(n)
        return n
    }

    func releaseBuffers() {
        guard !storage.isEmpty else { return }
        world.record("release")
        world.mapped(-storage.count)
        storage = []
        queued = []
    }

    func queueBuffer(index: Int) throws(AdapterError) {
        try check("VIDIOC_QBUF")
        precondition(storage.indices.contains(index) && !queued.contains(index), "queued buffer \(index) twice or unmapped")
        queued.append(index)
    }

    func dequeueBuffer() throws(AdapterError) -> V4L2DequeuedBuffer? {
        if let e = pendingError {
            pendingError = nil
            world.record("dqbuf -> errno \(e)")
            throw AdapterError(errno: e, .ioctl, "VIDIOC_DQBUF on fake")
        }
        guard !ready.isEmpty, !queued.isEmpty else { return nil }
        let f = ready.removeFirst()
        let index = queued.removeFirst()
        storage[index].replaceSubrange(0..<f.bytes.count, with: f.bytes)
        world.record("dqbuf \(f.sequence)")
        return V4L2DequeuedBuffer(index: index, bytesUsed: f.bytes.count, errorFlag: f.errorFlag, sequence: f.sequence, timestampNanos: 1000 + UInt64(f.sequence))
    }

    func withBuffer<R>(index: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage[index].withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
    }

    func streamOn() throws(AdapterError) {
        try check("VIDIOC_STREAMON")
        world.lock.lock()
        let e = world.streamOnErrors.isEmpty ? 0 : world.streamOnErrors.removeFirst()
        world.lock.unlock()
        world.record("streamon" + (e == 0 ? "" : " -> errno \(e)"))
        if e != 0 { throw AdapterError(errno: e, .ioctl, "VIDIOC_STREAMON on fake") }
        streaming = true
    }

    func streamOff() throws(AdapterError) {
        world.record("streamoff")
        try check("VIDIOC_STREAMOFF")
        streaming = false
        queued = []
        ready = []
    }

    func wait(timeoutMs: Int) -> V4L2WaitResult {
        if world.waitDelay > 0 { Thread.sleep(forTimeInterval: world.waitDelay) }
        guard let event = world.nextEvent() else {
            world.onExhausted()
            return .cancelled
        }
        switch event {
        case .frames(let frames):
            ready.append(contentsOf: frames)
            return .ready
        case .timeout: return .timeout
        case .pollError: return .error
        case .hangup:
            gone = true
            return .hangup
        case .dequeueError(let e):
            pendingError = e
            if e == ENODEV { gone = true }
            return .ready
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        world.record("close")
        world.closed(mapped: storage.count)
    }
}

/// Test helpers for frames.
enum FakeFrames {
    /// A YUYV frame whose Y bytes all equal `luma` (neutral chroma).
    static func yuyv(width: Int, height: Int, luma: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 128, count: width * height * 2)
        for i in stride(from: 0, to: out.count, by: 2) { out[i] = luma }
        return out
    }
}

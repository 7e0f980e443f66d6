#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CV4L2
import CheckpointCore

/// The real ioctl layer over a V4L2 node, through the raw ioctls in the CV4L2 shim (not libv4l2).
public final class SystemV4L2Device: V4L2Device {
    public let path: String
    private var fd: Int32
    private let cancellation: CaptureCancellation?
    private var buffers: [(pointer: UnsafeMutableRawPointer, length: Int)] = []

    /// Opens `path` with O_RDWR|O_NONBLOCK|O_CLOEXEC.
    public init(path: String, cancellation: CaptureCancellation? = nil) throws(AdapterError) {
        let r = path.withCString { cv4l2_open_capture($0) }
        guard r >= 0 else {
            throw AdapterError(errno: -r, .open, "cannot open camera \(path)", deviceNode: true)
        }
        self.path = path
        self.fd = r
        self.cancellation = cancellation
    }

    deinit { close() }

    private func ioctl<T>(_ request: UInt, _ arg: inout T, _ what: String) throws(AdapterError) {
        let r = withUnsafeMutablePointer(to: &arg) { cv4l2_xioctl(fd, request, UnsafeMutableRawPointer($0)) }
        if r < 0 { throw AdapterError(errno: -r, .ioctl, "\(what) on \(path)") }
    }

    public func queryCapabilities() throws(AdapterError) -> V4L2Capabilities {
        var cap = v4l2_capability()
        try ioctl(CV4L2_VIDIOC_QUERYCAP, &cap, "VIDIOC_QUERYCAP")
        let caps = (cap.capabilities & CV4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return V4L2Capabilities(
            driver: cString(cap.driver), card: cString(cap.card), busInfo: cString(cap.bus_info), deviceCaps: caps,
            videoCapture: caps & CV4L2_CAP_VIDEO_CAPTURE != 0, streaming: caps & CV4L2_CAP_STREAMING != 0
        )
    }

    public func enumerateFormats() throws(AdapterError) -> [V4L2FormatDescription] {
        var out: [V4L2FormatDescription] = []
        for index in 0..<256 {
            var d = v4l2_fmtdesc()
            d.index = UInt32(index)
            d.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
            let r = withUnsafeMutablePointer(to: &d) { cv4l2_xioctl(fd, CV4L2_VIDIOC_ENUM_FMT, UnsafeMutableRawPointer($0)) }
            if r == -EINVAL { break }
            if r < 0 { throw AdapterError(errno: -r, .ioctl, "VIDIOC_ENUM_FMT on \(path)") }
            out.append(V4L2FormatDescription(fourcc: d.pixelformat, description: cString(d.description), compressed: d.flags & CV4L2_FMT_FLAG_COMPRESSED != 0))
        }
        return out
    }

    public func enumerateFrameSizes(fourcc: UInt32) throws(AdapterError) -> [V4L2FrameSize] {
        var out: [V4L2FrameSize] = []
        for index in 0..<256 {
            var s = v4l2_frmsizeenum()
            s.index = UInt32(index)
            s.pixel_format = fourcc
            let r = withUnsafeMutablePointer(to: &s) { cv4l2_xioctl(fd, CV4L2_VIDIOC_ENUM_FRAMESIZES, UnsafeMutableRawPointer($0)) }
            if r == -EINVAL { break }
            if r < 0 { throw AdapterError(errno: -r, .ioctl, "VIDIOC_ENUM_FRAMESIZES on \(path)") }
            if s.type == CV4L2_FRMSIZE_TYPE_DISCRETE {
                out.append(.discrete(width: Int(s.discrete.width), height: Int(s.discrete.height)))
            } else {
                let w = s.stepwise
                out.append(.stepwise(
                    minWidth: Int(w.min_width), maxWidth: Int(w.max_width), stepWidth: Int(w.step_width),
                    minHeight: Int(w.min_height), maxHeight: Int(w.max_height), stepHeight: Int(w.step_height)))
                break
            }
        }
        return out
    }

    public func enumerateFrameIntervals(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> [V4L2FrameInterval] {
        var out: [V4L2FrameInterval] = []
        for index in 0..<256 {
            var s = v4l2_frmivalenum()
            s.index = UInt32(index)
            s.pixel_format = fourcc
            s.width = UInt32(width)
            s.height = UInt32(height)
            let r = withUnsafeMutablePointer(to: &s) { cv4l2_xioctl(fd, CV4L2_VIDIOC_ENUM_FRAMEINTERVALS, UnsafeMutableRawPointer($0)) }
            if r == -EINVAL { break }
            if r < 0 { throw AdapterError(errno: -r, .ioctl, "VIDIOC_ENUM_FRAMEINTERVALS on \(path)") }
            if s.type == CV4L2_FRMIVAL_TYPE_DISCRETE {
                out.append(.discrete(numerator: s.discrete.numerator, denominator: s.discrete.denominator))
            } else {
                out.append(.stepwise(min: (s.stepwise.min.numerator, s.stepwise.min.denominator),
                                     max: (s.stepwise.max.numerator, s.stepwise.max.denominator)))
                break
            }
        }
        return out
    }

    public func setFormat(fourcc: UInt32, width: Int, height: Int) throws(AdapterError) -> DriverFormat {
        var f = v4l2_format()
        f.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        f.fmt.pix.width = UInt32(width)
        f.fmt.pix.height = UInt32(height)
        f.fmt.pix.pixelformat = fourcc
        f.fmt.pix.field = CV4L2_FIELD_ANY
        try ioctl(CV4L2_VIDIOC_S_FMT, &f, "VIDIOC_S_FMT")
        return DriverFormat(
            fourcc: f.fmt.pix.pixelformat, width: Int(f.fmt.pix.width), height: Int(f.fmt.pix.height),
            bytesPerLine: Int(f.fmt.pix.bytesperline), sizeImage: Int(f.fmt.pix.sizeimage))
    }

    public func setFrameRate(fps: Int) throws(AdapterError) -> V4L2FrameRate {
        var p = v4l2_streamparm()
        p.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        p.parm.capture.timeperframe.numerator = 1
        p.parm.capture.timeperframe.denominator = UInt32(max(1, fps))
        let r = withUnsafeMutablePointer(to: &p) { cv4l2_xioctl(fd, CV4L2_VIDIOC_S_PARM, UnsafeMutableRawPointer($0)) }
        if r < 0 {
            if r == -EINVAL || r == -ENOTTY { return V4L2FrameRate(numerator: 0, denominator: 0, supported: false) }
            throw AdapterError(errno: -r, .ioctl, "VIDIOC_S_PARM on \(path)")
        }
        // Read back: the driver's answer wins.
        var g = v4l2_streamparm()
        g.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        if withUnsafeMutablePointer(to: &g, { cv4l2_xioctl(fd, CV4L2_VIDIOC_G_PARM, UnsafeMutableRawPointer($0)) }) >= 0 {
            p = g
        }
        let c = p.parm.capture
        return V4L2FrameRate(numerator: c.timeperframe.numerator, denominator: c.timeperframe.denominator,
                             supported: c.capability & CV4L2_CAP_TIMEPERFRAME != 0)
    }

    public func queryControls() throws(AdapterError) -> [CameraControlInfo] {
        var out: [CameraControlInfo] = []
        var id = CV4L2_CTRL_FLAG_NEXT_CTRL
        for _ in 0..<1024 {
            var q = v4l2_queryctrl()
            q.id = id
            let r = withUnsafeMutablePointer(to: &q) { cv4l2_xioctl(fd, CV4L2_VIDIOC_QUERYCTRL, UnsafeMutableRawPointer($0)) }
            if r == -EINVAL { break }
            if r < 0 { throw AdapterError(errno: -r, .ioctl, "VIDIOC_QUERYCTRL on \(path)") }
            id = q.id | CV4L2_CTRL_FLAG_NEXT_CTRL
            let kind: CameraControlInfo.Kind
            switch q.type {
            case CV4L2_CTRL_TYPE_INTEGER: kind = .integer
            case CV4L2_CTRL_TYPE_BOOLEAN: kind = .boolean
            case CV4L2_CTRL_TYPE_MENU, CV4L2_CTRL_TYPE_INTEGER_MENU: kind = .menu
            case CV4L2_CTRL_TYPE_BUTTON: kind = .button
            default: kind = .other
            }
            // Class headings (type 6 = CTRL_CLASS) carry no value.
            if q.type == 6 { continue }
            out.append(CameraControlInfo(
                id: q.id, name: cString(q.name), kind: kind, minimum: Int(q.minimum), maximum: Int(q.maximum), step: Int(q.step),
                defaultValue: Int(q.default_value), readOnly: q.flags & CV4L2_CTRL_FLAG_READ_ONLY != 0,
                inactive: q.flags & CV4L2_CTRL_FLAG_INACTIVE != 0, disabled: q.flags & CV4L2_CTRL_FLAG_DISABLED != 0))
        }
        return out
    }

    public func setControl(id: UInt32, value: Int) throws(AdapterError) {
        var c = v4l2_control(id: id, value: Int32(clamping: value))
        try ioctl(CV4L2_VIDIOC_S_CTRL, &c, "VIDIOC_S_CTRL")
    }

    public func getControl(id: UInt32) throws(AdapterError) -> Int {
        var c = v4l2_control(id: id, value: 0)
        try ioctl(CV4L2_VIDIOC_G_CTRL, &c, "VIDIOC_G_CTRL")
        return Int(c.value)
    }

    public func allocateBuffers(count: Int) throws(AdapterError) -> Int {
        releaseBuffers()
        var req = v4l2_requestbuffers()
        req.count = UInt32(count)
        req.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        req.memory = CV4L2_MEMORY_MMAP
        try ioctl(CV4L2_VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS")
        guard req.count >= 2 else {
            throw AdapterError(.unsupported, "driver granted \(req.count) buffers on \(path), at least 2 are needed")
        }
        for index in 0..<Int(req.count) {
            var b = v4l2_buffer()
            b.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
            b.memory = CV4L2_MEMORY_MMAP
            b.index = UInt32(index)
            do {
                try ioctl(CV4L2_VIDIOC_QUERYBUF, &b, "VIDIOC_QUERYBUF")
            } catch {
                releaseBuffers()
                throw error
            }
            guard let p = cv4l2_mmap(fd, Int(b.length), Int64(b.m.offset)) else {
                let e = errno
                releaseBuffers()
                throw AdapterError(errno: e, .ioctl, "mmap of buffer \(index) on \(path)")
            }
            buffers.append((p, Int(b.length)))
        }
        return buffers.count
    }

    public func releaseBuffers() {
        guard !buffers.isEmpty else { return }
        for b in buffers { munmap(b.pointer, b.length) }
        buffers.removeAll()
        if fd >= 0 {
            var req = v4l2_requestbuffers()
            req.count = 0
            req.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
            req.memory = CV4L2_MEMORY_MMAP
            _ = withUnsafeMutablePointer(to: &req) { cv4l2_xioctl(fd, CV4L2_VIDIOC_REQBUFS, UnsafeMutableRawPointer($0)) }
        }
    }

    public func queueBuffer(index: Int) throws(AdapterError) {
        var b = v4l2_buffer()
        b.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        b.memory = CV4L2_MEMORY_MMAP
        b.index = UInt32(index)
        try ioctl(CV4L2_VIDIOC_QBUF, &b, "VIDIOC_QBUF")
    }

    public func dequeueBuffer() throws(AdapterError) -> V4L2DequeuedBuffer? {
        var b = v4l2_buffer()
        b.type = CV4L2_BUF_TYPE_VIDEO_CAPTURE
        b.memory = CV4L2_MEMORY_MMAP
        let r = withUnsafeMutablePointer(to: &b) { cv4l2_xioctl(fd, CV4L2_VIDIOC_DQBUF, UnsafeMutableRawPointer($0)) }
        if r == -EAGAIN { return nil }
        if r < 0 { throw AdapterError(errno: -r, .ioctl, "VIDIOC_DQBUF on \(path)") }
        let ts = UInt64(max(0, b.timestamp.tv_sec)) * 1_000_000_000 + UInt64(max(0, b.timestamp.tv_usec)) * 1000
        return V4L2DequeuedBuffer(index: Int(b.index), bytesUsed: Int(b.bytesused), errorFlag: b.flags & CV4L2_BUF_FLAG_ERROR != 0,
                                  sequence: b.sequence, timestampNanos: ts)
    }

    public func withBuffer<R>(index: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(buffers.indices.contains(index), "buffer \(index) is not mapped")
        let b = buffers[index]
        return try body(UnsafeRawBufferPointer(start: b.pointer, count: min(max(0, length), b.length)))
    }

    public func streamOn() throws(AdapterError) {
        var t = Int32(bitPattern: CV4L2_BUF_TYPE_VIDEO_CAPTURE)
        try ioctl(CV4L2_VIDIOC_STREAMON, &t, "VIDIOC_STREAMON")
    }

    public func streamOff() throws(AdapterError) {
        var t = Int32(bitPattern: CV4L2_BUF_TYPE_VIDEO_CAPTURE)
        try ioctl(CV4L2_VIDIOC_STREAMOFF, &t, "VIDIOC_STREAMOFF")
    }

    public func wait(timeoutMs: Int) -> V4L2WaitResult {
        let revents: Int16
        do {
            guard let r = try pollDevice(fd, events: Int16(POLLIN | POLLPRI), timeoutMillis: Int32(clamping: timeoutMs), cancellation: cancellation) else {
                return .cancelled
            }
            revents = r
        } catch {
            return .error
        }
        if revents == 0 { return .timeout }
        if revents & Int16(POLLHUP) != 0 || revents & Int16(POLLNVAL) != 0 { return .hangup }
        if revents & Int16(POLLERR) != 0 { return .error }
        return .ready
    }

    public func close() {
        releaseBuffers()
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// Opens the real device node.
public struct SystemV4L2DeviceOpener: V4L2DeviceOpener {
    public init() {}
    public func open(path: String, cancellation: CaptureCancellation) throws(AdapterError) -> any V4L2Device {
        try SystemV4L2Device(path: path, cancellation: cancellation)
    }
}

/// A fixed-size C char array (imported as a tuple) as a String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

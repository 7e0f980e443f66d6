#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

/// A serial port opened the way sensors need it: raw 8N1, no flow control, exclusive (TIOCEXCL + flock),
/// non-blocking with `poll` for reads. Not thread-safe: one owner thread.
public final class SerialPort {
    public let path: String
    public private(set) var baud: Int
    public private(set) var fd: Int32

    public static let supportedBauds = [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600]

    /// Opens `path` (a stable `/dev/serial/by-id/…` link is resolved by the kernel) at `baud`.
    public init(path: String, baud: Int) throws(AdapterError) {
        self.path = path
        self.baud = baud
        guard let speed = Self.speed(for: baud) else {
            throw AdapterError(.unsupported, "baud \(baud) is not supported; use one of \(Self.supportedBauds.map(String.init).joined(separator: ", "))")
        }
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw AdapterError.posix(.open, "cannot open serial port \(path)") }
        self.fd = fd
        do throws(AdapterError) {
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                throw AdapterError(.busy, "serial port \(path) is in use by another process", cause: .errno(e))
            }
            if ioctl(fd, UInt(TIOCEXCL)) != 0 { throw AdapterError.posix(.ioctl, "TIOCEXCL on \(path)") }
            try Self.configure(fd: fd, speed: speed, path: path)
            tcflush(fd, TCIOFLUSH)  // never a stale reading: drop whatever queued up before we opened
        } catch {
            Glibc.close(fd)
            self.fd = -1
            throw error
        }
    }

    deinit { close() }

    public func close() {
        guard fd >= 0 else { return }
        _ = ioctl(fd, UInt(TIOCNXCL))
        flock(fd, LOCK_UN)
        Glibc.close(fd)
        fd = -1
    }

    public func setBaud(_ baud: Int) throws(AdapterError) {
        guard let speed = Self.speed(for: baud) else { throw AdapterError(.unsupported, "baud \(baud) is not supported") }
        try Self.configure(fd: fd, speed: speed, path: path)
        tcflush(fd, TCIOFLUSH)
        self.baud = baud
    }

    static func speed(for baud: Int) -> speed_t? {
        switch baud {
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115_200: return speed_t(B115200)
        case 230_400: return speed_t(B230400)
        case 460_800: return speed_t(B460800)
        case 921_600: return speed_t(B921600)
        default: return nil
        }
    }

    /// Raw mode, 8 data bits, no parity, 1 stop bit, no hardware or software flow control, receiver on, modem lines ignored.
    static func configure(fd: Int32, speed: speed_t, path: String) throws(AdapterError) {
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { throw AdapterError.posix(.ioctl, "tcgetattr on \(path)") }
        cfmakeraw(&t)
        t.c_cflag &= ~(tcflag_t(PARENB | CSTOPB | CSIZE) | tcflag_t(CRTSCTS))
        t.c_cflag |= tcflag_t(CS8 | CLOCAL | CREAD)
        t.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        cfsetispeed(&t, speed)
        cfsetospeed(&t, speed)
        guard tcsetattr(fd, TCSANOW, &t) == 0 else { throw AdapterError.posix(.ioctl, "tcsetattr on \(path)") }
    }

    public enum ReadOutcome: Equatable {
        case data(Int)
        case timeout
    }

    /// Waits up to `timeoutMillis` for bytes and reads what is there into `buffer`.
    /// Throws `.disconnected` on POLLHUP/POLLERR, EIO/ENODEV, or readable-with-0-bytes.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMillis: Int32) throws(AdapterError) -> ReadOutcome {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeoutMillis)
        if r < 0 {
            if errno == EINTR { return .timeout }
            throw AdapterError.posix(.io, "poll on \(path)")
        }
        if r == 0 { return .timeout }
        if p.revents & Int16(POLLIN) == 0, p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
            throw AdapterError(.disconnected, "serial port \(path) hung up", cause: .text("poll revents 0x\(String(p.revents, radix: 16))"))
        }
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if n < 0 {
            let e = errno
            if e == EAGAIN || e == EINTR { return .timeout }
            if e == EIO || e == ENODEV || e == ENXIO { throw AdapterError(.disconnected, "serial port \(path) went away", cause: .errno(e)) }
            throw AdapterError(.io, "read from \(path)", cause: .errno(e))
        }
        if n == 0 { throw AdapterError(.disconnected, "serial port \(path) is readable but returned no data (unplugged, or a second reader?)") }
        return .data(n)
    }

    /// Writes all of `bytes` (waiting for the port to drain if needed).
    public func write(_ bytes: [UInt8]) throws(AdapterError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EAGAIN || e == EINTR {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, 100)
                    continue
                }
                if e == EIO || e == ENODEV || e == ENXIO { throw AdapterError(.disconnected, "serial port \(path) went away", cause: .errno(e)) }
                throw AdapterError(.io, "write to \(path)", cause: .errno(e))
            }
            offset += n
        }
        tcdrain(fd)
    }
}

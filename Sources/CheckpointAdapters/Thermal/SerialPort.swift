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
        let fd = try retryingOnInterrupt("cannot open serial port \(path)", code: .open, deviceNode: true) {
            Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        }
        self.fd = fd
        do throws(AdapterError) {
            do {
                _ = try retryingOnInterrupt("serial port \(path) is in use by another process") { flock(fd, LOCK_EX | LOCK_NB) }
            } catch {
                throw AdapterError(.busy, error.message, cause: error.cause)
            }
            _ = try retryingOnInterrupt("TIOCEXCL on \(path)", code: .ioctl) { ioctl(fd, UInt(TIOCEXCL)) }
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
        _ = try retryingOnInterrupt("tcgetattr on \(path)", code: .ioctl) { tcgetattr(fd, &t) }
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
        _ = try retryingOnInterrupt("tcsetattr on \(path)", code: .ioctl) { tcsetattr(fd, TCSANOW, &t) }
    }

    public enum ReadOutcome: Equatable {
        case data(Int)
        case timeout
        /// `cancellation` fired while waiting.
        case cancelled
    }

    /// Waits up to `timeoutMillis` for bytes (or for `cancellation`) and reads what is there into `buffer`.
    /// Throws `.disconnected` on POLLHUP/POLLERR, ENODEV/ENXIO, or readable-with-0-bytes (errno classified by
    /// `AdapterError(errno:_:_:)`).
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMillis: Int32, cancellation: CaptureCancellation? = nil) throws(AdapterError) -> ReadOutcome {
        guard let revents = try pollDevice(fd, events: Int16(POLLIN), timeoutMillis: timeoutMillis, cancellation: cancellation) else { return .cancelled }
        if revents == 0 { return .timeout }
        if revents & Int16(POLLIN) == 0, revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
            throw AdapterError(.disconnected, "serial port \(path) hung up", cause: .text("poll revents 0x\(String(revents, radix: 16))"))
        }
        let n: Int
        do {
            n = try retryingOnInterrupt("read from \(path)") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        } catch where error.errnoValue == EAGAIN {
            return .timeout
        }
        if n == 0 { throw AdapterError(.disconnected, "serial port \(path) is readable but returned no data (unplugged, or a second reader?)") }
        return .data(n)
    }

    /// Writes all of `bytes` (waiting for the port to drain if needed).
    public func write(_ bytes: [UInt8]) throws(AdapterError) {
        var offset = 0
        while offset < bytes.count {
            let n: Int
            do {
                n = try retryingOnInterrupt("write to \(path)") { bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            } catch where error.errnoValue == EAGAIN {
                _ = try pollDevice(fd, events: Int16(POLLOUT), timeoutMillis: 100, cancellation: nil)
                continue
            }
            offset += n
        }
        _ = try? retryingOnInterrupt("tcdrain on \(path)") { tcdrain(fd) }  // a dead port shows on the next read
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CV4L2
import Foundation

/// Wakes a capture thread that sits in poll() or a backoff sleep: an eventfd plus a flag.
public final class CaptureCancellation: @unchecked Sendable {
    private let lock = NSCondition()
    private var cancelled = false
    /// The eventfd polled next to the device fd (-1 if eventfd failed: then polls just time out).
    public let fd: Int32

    public init() {
        let r = cv4l2_eventfd()
        fd = r >= 0 ? r : -1
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    public var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    public func cancel() {
        lock.lock()
        cancelled = true
        lock.broadcast()
        lock.unlock()
        if fd >= 0 {
            var one: UInt64 = 1
            _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
        }
    }

    /// Sleeps up to `seconds`; returns false when cancelled first.
    public func sleep(seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(0, seconds))
        lock.lock()
        defer { lock.unlock() }
        while !cancelled {
            if !lock.wait(until: deadline) { return !cancelled }
        }
        return false
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CV4L2
import Synchronization

/// Stops a device thread (camera capture, thermal serial link) that sits in poll() or a backoff wait: an eventfd
/// polled next to the device's fd, plus a flag. Both waits are poll() on the eventfd, so `cancel()` wakes them at once.
public final class CaptureCancellation: Sendable {
    private let cancelled = Atomic<Bool>(false)
    /// The eventfd polled next to the device fd (-1 if eventfd failed: then waits wake every 100 ms to check the flag).
    public let fd: Int32

    public init() {
        let r = cv4l2_eventfd()
        fd = r >= 0 ? r : -1
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    public func cancel() {
        cancelled.store(true, ordering: .releasing)
        if fd >= 0 {
            var one: UInt64 = 1
            _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
        }
    }

    /// Waits up to `seconds` (poll on the eventfd); returns false when cancelled first.
    public func sleep(seconds: Double) -> Bool {
        let deadline = monotonicNanos() + UInt64(max(0, seconds) * 1e9)
        while !isCancelled {
            let now = monotonicNanos()
            if now >= deadline { return true }
            let remaining = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // poll ignores a negative fd, so without an eventfd this is a plain timed wait, cut to 100 ms to see the flag.
            _ = poll(&p, 1, fd >= 0 ? remaining : min(remaining, 100))
        }
        return false
    }
}

/// poll(2) on a device's `fd` for `events`, and on `cancellation`'s eventfd, up to `timeoutMillis`, retried on EINTR:
/// the one wait of every device loop. Returns nil when cancelled, else the device's revents (0 on timeout).
func pollDevice(_ fd: Int32, events: Int16, timeoutMillis: Int32, cancellation: CaptureCancellation?) throws(AdapterError) -> Int16? {
    var p = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: cancellation?.fd ?? -1, events: Int16(POLLIN), revents: 0)]
    _ = try retryingOnInterrupt("poll") { Glibc.poll(&p, 2, timeoutMillis) }
    if p[1].revents != 0 || cancellation?.isCancelled == true { return nil }
    return p[0].revents
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC, the clock V4L2 stamps camera frames with).
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

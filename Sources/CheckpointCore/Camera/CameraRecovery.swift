/// What went wrong with a camera, as the adapter classifies it from poll revents and errno.
public enum CameraFault: Sendable, Equatable, CustomStringConvertible {
    /// poll() timed out: no frame within `frame_timeout_ms` (frozen camera).
    case timeout
    /// EIO from an ioctl, or POLLERR (fatal stream error).
    case ioError(String)
    /// ENODEV/ENXIO from an ioctl or open, POLLHUP, or the device node missing (unplug).
    case disconnected(String)
    /// EBUSY: another process holds the camera.
    case busy(String)
    /// Anything else (unsupported device, negotiation failure, EINVAL from STREAMON…).
    case failed(String)

    public var description: String {
        switch self {
        case .timeout: return "frame timeout"
        case .ioError(let s): return "I/O error: \(s)"
        case .disconnected(let s): return "disconnected: \(s)"
        case .busy(let s): return "busy: \(s)"
        case .failed(let s): return "failed: \(s)"
        }
    }
}

/// The camera's health as the daemon reports it.
public enum CameraHealth: Sendable, Equatable, CustomStringConvertible {
    case starting
    case streaming
    /// Not delivering frames, but recovering; the reason has no personal data.
    case degraded(String)

    public var description: String {
        switch self {
        case .starting: return "starting"
        case .streaming: return "streaming"
        case .degraded(let reason): return "degraded: \(reason)"
        }
    }
}

extension CameraFault {
    /// The rung of the device-neutral `ReconnectLadder` this fault climbs.
    public var reconnectFault: ReconnectFault {
        switch self {
        case .timeout: return .stall
        case .ioError: return .ioError
        case .disconnected, .busy, .failed: return .failure
        }
    }
}

extension ReconnectSchedule {
    /// The camera's schedule: jittered, from `backoff_min_s` (0.5 s) to `backoff_max_s` (30 s).
    ///
    /// | fault | action |
    /// |---|---|
    /// | timeout | restart streaming; the next timeout without a frame reopens; after that, reopen with backoff |
    /// | EIO / POLLERR | reopen (at once the first time, with backoff if it keeps happening) |
    /// | ENODEV / POLLHUP | close everything, jittered backoff 0.5 s … 30 s, reopen when the device is back |
    /// | EBUSY | back off, then reopen |
    public static func camera(minimumBackoff: Double = 0.5, maximumBackoff: Double = 30) -> ReconnectSchedule {
        ReconnectSchedule(minimumBackoff: minimumBackoff, maximumBackoff: maximumBackoff, jitter: true)
    }
}

/// Per-camera counters for health reporting and metrics.
public struct CameraCounters: Sendable, Equatable {
    /// Frames handed to the consumer.
    public var delivered = 0
    /// Older frames drained and dropped because a newer one was already waiting.
    public var droppedStale = 0
    /// Buffers the driver flagged with V4L2_BUF_FLAG_ERROR.
    public var droppedErrorFlag = 0
    /// MJPEG frames that failed the SOI/EOI/size check or did not decode.
    public var droppedCorrupt = 0
    /// Bad frames dropped in the warm-up window right after STREAMON.
    public var droppedWarmup = 0
    /// Times the driver's sequence number jumped, and how many frames those jumps skipped.
    public var sequenceGaps = 0
    public var framesMissed = 0
    public var timeouts = 0
    public var streamRestarts = 0
    public var reopens = 0
    public var disconnects = 0

    public init() {}
}

/// Follows `v4l2_buffer.sequence` and reports skipped frames.
public struct SequenceTracker: Sendable, Equatable {
    private var last: UInt32?

    public init() {}

    /// Forgets the last sequence (after STREAMON the driver starts again from 0).
    public mutating func reset() { last = nil }

    /// Returns how many frames were skipped before `sequence` (0 when it follows on).
    public mutating func observe(_ sequence: UInt32) -> Int {
        defer { last = sequence }
        guard let last else { return 0 }
        let step = sequence &- last
        // Anything non-positive or absurd is a restart of the counter, not a gap.
        if step == 0 || step > 1_000_000 { return 0 }
        return Int(step) - 1
    }
}

/// How a device loop classifies what went wrong, for the reconnect ladder.
public enum ReconnectFault: Sendable, Equatable {
    /// The device is open but delivered nothing valid for its watchdog period (camera: poll timeout; thermal
    /// sensor: no checksum-valid frame for `stale_periods` periods).
    case stall
    /// A fatal I/O error on an open device (EIO, POLLERR): the first one reopens at once.
    case ioError
    /// Anything else (unplug, busy, cannot open, cannot initialise): close and reopen after a backoff.
    case failure
}

/// What the device loop must do next.
public enum ReconnectAction: Sendable, Equatable {
    /// Keep the device open and start it again (camera: STREAMOFF/re-queue/STREAMON; thermal: re-send the init commands).
    case restart
    /// Close everything, wait `afterSeconds` (0: at once), then open again from scratch.
    case reopen(afterSeconds: Double)
}

/// The backoff one device uses between reopens.
public struct ReconnectSchedule: Sendable, Equatable {
    public var minimumBackoff: Double
    public var maximumBackoff: Double
    /// true: each delay is drawn from the upper half of its ceiling (the camera: many kiosks on one hub do not retry
    /// in step); false: the delay is the ceiling itself (the thermal sensor: 0.5, 1, 2, 4, 8, 8 … seconds).
    public var jitter: Bool

    public init(minimumBackoff: Double, maximumBackoff: Double, jitter: Bool) {
        self.minimumBackoff = minimumBackoff
        self.maximumBackoff = max(minimumBackoff, maximumBackoff)
        self.jitter = jitter
    }
}

/// The one reconnect ladder of every device loop (camera capture, thermal serial link), as a pure state machine:
/// feed it faults and successes, do what it returns. It never gives up: the daemon must keep trying for months.
///
/// | fault | action |
/// |---|---|
/// | stall | the first restarts the device in place; the second reopens at once; later ones reopen with backoff |
/// | I/O error | reopen (at once the first time, with backoff if it keeps happening) |
/// | failure | reopen with backoff |
///
/// The backoff ceiling doubles from the schedule's minimum with each consecutive failure (a first stall, which only
/// restarts, does not count) up to its maximum. A success (a delivered frame) resets the ladder.
public struct ReconnectLadder: Sendable {
    public let schedule: ReconnectSchedule
    /// Uniform random numbers in [0, 1) for the jitter, injectable for tests.
    private let random: @Sendable () -> Double

    /// Consecutive stalls since the last success.
    public private(set) var consecutiveStalls = 0
    /// Consecutive faults (of any kind) without a success in between; drives the backoff exponent.
    public private(set) var consecutiveFailures = 0

    public init(schedule: ReconnectSchedule, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.schedule = schedule
        self.random = random
    }

    /// The device delivered: everything is fine again.
    public mutating func succeeded() {
        consecutiveStalls = 0
        consecutiveFailures = 0
    }

    /// Whether a fault has been handled since the last success.
    public var isRecovering: Bool { consecutiveStalls > 0 || consecutiveFailures > 0 }

    /// Decides what to do about `fault` (raised while running or while opening).
    public mutating func handle(_ fault: ReconnectFault) -> ReconnectAction {
        switch fault {
        case .stall:
            consecutiveStalls += 1
            if consecutiveStalls == 1 { return .restart }
            consecutiveFailures += 1
            // Second stall in a row: reopen at once; later ones keep reopening, spaced out.
            return .reopen(afterSeconds: consecutiveStalls == 2 ? 0 : nextBackoff())
        case .ioError:
            consecutiveStalls = 0
            consecutiveFailures += 1
            return .reopen(afterSeconds: consecutiveFailures == 1 ? 0 : nextBackoff())
        case .failure:
            consecutiveStalls = 0
            consecutiveFailures += 1
            return .reopen(afterSeconds: nextBackoff())
        }
    }

    /// Exponential backoff, always inside [minimumBackoff, maximumBackoff]: the ceiling doubles from the minimum with
    /// each consecutive failure; with jitter the delay is drawn from the ceiling's upper half.
    private func nextBackoff() -> Double {
        let exponent = max(0, min(consecutiveFailures - 1, 20))
        var ceiling = schedule.minimumBackoff
        for _ in 0..<exponent { ceiling *= 2 }
        ceiling = min(schedule.maximumBackoff, ceiling)
        let value = schedule.jitter ? ceiling * (0.5 + 0.5 * random()) : ceiling
        return min(schedule.maximumBackoff, max(schedule.minimumBackoff, value))
    }
}

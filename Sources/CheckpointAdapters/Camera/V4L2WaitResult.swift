/// What poll() said.
public enum V4L2WaitResult: Sendable, Equatable {
    case ready
    case timeout
    /// POLLERR without POLLHUP: fatal stream error.
    case error
    /// POLLHUP (the device was unregistered: unplug).
    case hangup
    /// The shutdown event fired.
    case cancelled
}

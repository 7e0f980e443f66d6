/// What the daemon's supervisor does on each tick, decided from the status line and the stalled stages:
/// systemd's STATUS= is sent only when the line changed, WATCHDOG=1 only while no stage is stalled, and the
/// stall is logged once when the set of stalled stages changes (and once more when all progress again).
public struct SupervisorPolicy: Sendable {
    public enum Log: Sendable, Equatable {
        /// Stages stalled; the watchdog ping is withheld (logged when the set changes).
        case stalled([HealthStage])
        /// Every stage progresses again after a stall.
        case recovered
    }

    public struct Actions: Sendable, Equatable {
        /// The status line to send, when it differs from the last one sent.
        public var status: String?
        public var petWatchdog: Bool
        public var log: Log?
        public init(status: String?, petWatchdog: Bool, log: Log?) {
            self.status = status
            self.petWatchdog = petWatchdog
            self.log = log
        }
    }

    private var lastStatus = ""
    private var lastStalled: [HealthStage] = []

    public init() {}

    public mutating func tick(status: String, stalled: [HealthStage]) -> Actions {
        var actions = Actions(status: nil, petWatchdog: stalled.isEmpty, log: nil)
        if status != lastStatus {
            actions.status = status
            lastStatus = status
        }
        if stalled.isEmpty {
            if !lastStalled.isEmpty { actions.log = .recovered }
        } else if stalled != lastStalled {
            actions.log = .stalled(stalled)
        }
        lastStalled = stalled
        return actions
    }
}

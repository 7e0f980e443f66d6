/// Decides whether the daemon is healthy enough to pet systemd's watchdog, and says why not.
///
/// Each pipeline stage (camera, detector, thermal, uploader, api) reports progress (a frame, a reading,
/// an upload loop turn) or a state change. A blind timer would keep a deadlocked daemon alive; this
/// supervisor pings only while every stage either made progress within its stall limit or is in a
/// recovery that it reported recently (a camera waiting for replug still reports each attempt).
public struct HealthSupervisor: Sendable {
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case starting
        case ok
        /// Working, but with reduced capability (e.g. Haar fallback: blind to masked faces).
        case degraded(String)
        /// Lost its device or link and is retrying; still alive.
        case recovering(String)
        /// Cannot work at all until an operator acts (e.g. no face model).
        case failed(String)

        public var description: String {
            switch self {
            case .starting: return "starting"
            case .ok: return "ok"
            case .degraded(let why): return "degraded: \(why)"
            case .recovering(let why): return "recovering: \(why)"
            case .failed(let why): return "failed: \(why)"
            }
        }
    }

    public struct Stage: Sendable, Equatable {
        public var stage: HealthStage
        /// The stage's name on the wire (`/healthz`, heartbeats).
        public var name: String { stage.rawValue }
        public var state: State
        /// Last progress or state report, monotonic nanoseconds.
        public var lastReport: UInt64
        /// How long the stage may be silent before it counts as stalled.
        public var stallLimit: UInt64
        public var progressCount: UInt64
    }

    public private(set) var stages: [Stage] = []

    public init() {}

    /// Registers a stage; `stallLimitSeconds` is how long it may go without any report.
    public mutating func register(_ name: HealthStage, stallLimitSeconds: Double, now: UInt64) {
        let limit = UInt64(max(0, stallLimitSeconds) * 1e9)
        if let i = index(name) {
            stages[i].stallLimit = limit
            stages[i].lastReport = now
        } else {
            stages.append(Stage(stage: name, state: .starting, lastReport: now, stallLimit: limit, progressCount: 0))
        }
    }

    /// The stage did useful work.
    public mutating func progress(_ name: HealthStage, now: UInt64) {
        guard let i = index(name) else { return }
        stages[i].lastReport = now
        stages[i].progressCount &+= 1
        if case .starting = stages[i].state { stages[i].state = .ok }
        if case .recovering = stages[i].state { stages[i].state = .ok }
    }

    /// The stage changed state (a report also counts as a sign of life).
    public mutating func report(_ name: HealthStage, _ state: State, now: UInt64) {
        guard let i = index(name) else { return }
        stages[i].state = state
        stages[i].lastReport = now
    }

    /// Stages silent for longer than their stall limit.
    public func stalled(now: UInt64) -> [Stage] {
        stages.filter { now >= $0.lastReport && now - $0.lastReport > $0.stallLimit }
    }

    /// True when systemd's watchdog may be pinged: no stage is stalled. Failed stages don't block the
    /// ping (restarting will not fix a missing model file; health shows the failure instead).
    public func shouldPetWatchdog(now: UInt64) -> Bool {
        stalled(now: now).isEmpty
    }

    /// Overall state: the worst of the stages.
    public var overall: State {
        var worst: State = .ok
        func rank(_ s: State) -> Int {
            switch s {
            case .ok: return 0
            case .starting: return 1
            case .degraded: return 2
            case .recovering: return 3
            case .failed: return 4
            }
        }
        for stage in stages where rank(stage.state) > rank(worst) { worst = stage.state }
        return worst
    }

    private func index(_ name: HealthStage) -> Int? { stages.firstIndex { $0.stage == name } }
}

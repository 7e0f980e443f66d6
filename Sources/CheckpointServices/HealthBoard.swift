import CheckpointCore

/// The daemon's shared view of stage health (the pure `HealthSupervisor` behind an actor).
public actor HealthBoard {
    private var supervisor = HealthSupervisor()
    private let clock: @Sendable () -> UInt64
    public private(set) var framesSeen: UInt64 = 0
    private var fpsWindow: [UInt64] = []

    public init(clock: @escaping @Sendable () -> UInt64) { self.clock = clock }

    public func register(_ stage: HealthStage, stallLimitSeconds: Double) { supervisor.register(stage, stallLimitSeconds: stallLimitSeconds, now: clock()) }
    public func progress(_ stage: HealthStage) { supervisor.progress(stage, now: clock()) }
    public func report(_ stage: HealthStage, _ state: HealthSupervisor.State) { supervisor.report(stage, state, now: clock()) }

    /// A camera frame arrived: counts towards the fps figure.
    public func frame() {
        let now = clock()
        framesSeen += 1
        fpsWindow.append(now)
        fpsWindow.removeAll { now - $0 > 5_000_000_000 }
        supervisor.progress(.camera, now: now)
    }

    public var cameraFPS: Double? {
        let now = clock()
        let recent = fpsWindow.filter { now - $0 <= 5_000_000_000 }
        guard recent.count >= 2, let first = recent.first, let last = recent.last, last > first else { return nil }
        return Double(recent.count - 1) / (Double(last - first) / 1e9)
    }

    public func shouldPetWatchdog() -> Bool { supervisor.shouldPetWatchdog(now: clock()) }
    public func stalled() -> [HealthStage] { supervisor.stalled(now: clock()).map(\.stage) }
    public var overall: HealthSupervisor.State { supervisor.overall }
    public var stages: [HealthSupervisor.Stage] { supervisor.stages }
    public func state(of stage: HealthStage) -> HealthSupervisor.State? { supervisor.stages.first { $0.stage == stage }?.state }
}

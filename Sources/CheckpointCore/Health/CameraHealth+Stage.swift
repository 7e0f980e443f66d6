// In Health, not Camera: Core/Camera compiles alone (the camera VM test builds its capture check from it).
extension CameraHealth {
    /// What the camera stage reports to health: nothing while starting or streaming (frames are its progress),
    /// recovering while degraded.
    public var stageState: HealthSupervisor.State? {
        switch self {
        case .starting, .streaming: return nil
        case .degraded(let why): return .recovering(why)
        }
    }
}

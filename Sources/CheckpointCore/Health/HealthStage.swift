/// The pipeline stages the daemon watches. The raw values are the names `/healthz` (`stage.camera`), heartbeats
/// and the fleet page show; STATUS= names them in a stall.
public enum HealthStage: String, Sendable, CaseIterable, CustomStringConvertible {
    case camera
    case detector
    case thermal

    public var description: String { rawValue }
}

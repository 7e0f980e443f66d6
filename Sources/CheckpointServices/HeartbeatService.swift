import CheckpointAdapters
import ServiceLifecycle

/// Runs the heartbeat sender until shutdown.
public struct HeartbeatService: Service {
    let sender: HeartbeatSender
    public init(sender: HeartbeatSender) { self.sender = sender }
    public func run() async throws {
        await cancelWhenGracefulShutdown { await sender.run() }
    }
}

import CheckpointAdapters
import ServiceLifecycle

/// The uploader loop, cancelled on graceful shutdown (a transfer in flight is aborted and stays queued).
public struct UploaderService: Service {
    let uploader: UploadService
    public init(uploader: UploadService) { self.uploader = uploader }
    public func run() async throws {
        await cancelWhenGracefulShutdown { await uploader.run() }
    }
}

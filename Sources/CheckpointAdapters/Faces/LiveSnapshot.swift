import CheckpointCore
import Foundation
import Synchronization

/// One camera frame with its detections, handed over by the vision stage when a technician asks for a snapshot of
/// the running kiosk (`GET /v1/camera/snapshot.png`). Nothing is kept or copied while nobody asks: the vision stage
/// checks `isWanted` (an atomic load) per frame. Never stored.
public final class LiveSnapshot: Sendable {
    public struct Capture: Sendable {
        public var frame: Frame
        public var faces: [DetectedFace]
        /// The face being measured (the tracker's), if any.
        public var measured: FaceBox?
    }

    private let waiters = Mutex<[UUID: CheckedContinuation<Capture?, Never>]>([:])
    private let wanted = Atomic<Int>(0)

    public init() {}

    /// Whether a snapshot is waiting for the next frame.
    public var isWanted: Bool { wanted.load(ordering: .relaxed) > 0 }

    /// The vision stage's frame and detections: every waiting request gets this one.
    public func offer(_ frame: Frame, faces: [DetectedFace], measured: FaceBox?) {
        let taken = waiters.withLock { w -> [CheckedContinuation<Capture?, Never>] in
            defer { w.removeAll() }
            return Array(w.values)
        }
        wanted.store(0, ordering: .relaxed)
        let capture = Capture(frame: frame, faces: faces, measured: measured)
        for c in taken { c.resume(returning: capture) }
    }

    /// The next frame the vision stage processes, or nil after `timeout` (no camera frames).
    public func next(timeout: Duration) async -> Capture? {
        let id = UUID()
        return await withCheckedContinuation { (c: CheckedContinuation<Capture?, Never>) in
            waiters.withLock { $0[id] = c }
            wanted.add(1, ordering: .relaxed)
            // Registered first, so the timeout always finds it unless a frame took it.
            Task { [self] in
                try? await Task.sleep(for: timeout)
                self.waiters.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
            }
        }
    }
}

extension LiveSnapshot {
    /// The next frame as a monitoring still: every detected face blurred (core's `MonitoringStill`) unless
    /// `blurFaces` is false, encoded as JPEG off the pool. Nil when no frame comes within 10 s (or it cannot be encoded).
    public func monitoringStill(blurFaces: Bool) async -> HeartbeatSender.Still? {
        guard let capture = await next(timeout: .seconds(10)) else { return nil }
        guard let jpeg = try? await ImageCodec.encodeOffPool(png: false, quality: MonitoringStill.jpegQuality, {
            blurFaces ? MonitoringStill.blurFaces(capture.frame, boxes: capture.faces.map(\.box)) : capture.frame
        }) else { return nil }
        return HeartbeatSender.Still(jpeg: Data(jpeg), faces: capture.faces.count, facesBlurred: blurFaces)
    }
}

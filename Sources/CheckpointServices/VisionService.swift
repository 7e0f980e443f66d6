import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging
import ServiceLifecycle

/// camera → detector → tracker/readiness → ScreeningHub. Frames arrive newest-only (the source keeps
/// one buffered event), so a slow detection drops stale frames instead of building a backlog; the camera's health
/// changes arrive on the same stream and go to the health board.
public struct VisionService: Service {
    let source: any FrameSource
    let detector: any FaceDetecting
    let readiness: FaceReadinessConfig
    let tracker: FaceTracker
    let hub: ScreeningHub
    let health: HealthBoard
    let metrics: PipelineMetrics
    /// The kiosk's live mirror; handed the newest frame and its boxes only while someone watches.
    let preview: CameraPreview?
    /// A technician's snapshot request (the API socket); handed one frame only when asked.
    let snapshot: LiveSnapshot?
    /// Health QR decoding for the declaration step; handed the newest frame only while a screen scans.
    let qr: QRScanner?
    let logger: Logger

    public init(source: any FrameSource, detector: any FaceDetecting, readiness: FaceReadinessConfig, tracker: FaceTracker,
                hub: ScreeningHub, health: HealthBoard, metrics: PipelineMetrics, preview: CameraPreview?, snapshot: LiveSnapshot?,
                qr: QRScanner?, logger: Logger) {
        self.source = source
        self.detector = detector
        self.readiness = readiness
        self.tracker = tracker
        self.hub = hub
        self.health = health
        self.metrics = metrics
        self.preview = preview
        self.snapshot = snapshot
        self.qr = qr
        self.logger = logger
    }

    public func run() async throws {
        var pipeline = FacePipeline(readiness: readiness, tracker: tracker)
        await hub.setTimingObserver { [metrics] timing in metrics.record(timing) }
        logger.info("vision started", metadata: ["source": "\(source.description)", "detector": "\(detector.kindName)"])
        for await event in source.events().cancelOnGracefulShutdown() {
            let frame: Frame
            switch event {
            case .health(let camera):
                // The camera lost its device and is recovering: health shows why (the next frame clears it). The engine
                // itself logs each change.
                if let state = camera.stageState { await health.report(.camera, state) }
                continue
            case .frame(let f):
                frame = f
            }
            await health.frame()
            metrics.frames.increment()
            if let qr, qr.isActive { qr.offer(frame) }   // decoded on its own thread, alongside this frame's detection
            do {
                let detections = try await detector.detect(frame)
                metrics.detectionSeconds.recordNanoseconds(Int64(detections.milliseconds * 1e6))
                // A face at room temperature in the thermal frame (a poster, a phone photo) is not a second person.
                let faces = detections.faces.isEmpty ? [] : await hub.markWarmSkin(
                    detections.faces, distances: detections.faces.map { readiness.distanceMeters(of: $0, frameWidth: frame.width) })
                let assessment = pipeline.process(frame, faces: faces)
                let candidate = assessment.face.flatMap { pipeline.bestFrame(for: $0.id) }
                if let preview, preview.isWatched {
                    let ready = assessment.isReady ? assessment.face?.face.box : nil
                    preview.offer(frame, boxes: PreviewBox.marking(detections.faces.map(\.box), readyFace: ready))
                }
                if let snapshot, snapshot.isWanted {
                    snapshot.offer(frame, faces: detections.faces, measured: assessment.isReady ? assessment.face?.face.box : nil)
                }
                await hub.faces(assessment, cameraWidth: frame.width, cameraHeight: frame.height,
                                at: frame.monotonicNanos, candidate: candidate)
                await health.progress(.detector)
            } catch {
                metrics.detectionErrors.increment()
                await health.report(.detector, .recovering("detection failed: \(error)"))
                logger.error("face detection failed", metadata: ["error": "\(error)"])
            }
        }
        await detector.shutdown()
        logger.info("vision stopped")
    }
}

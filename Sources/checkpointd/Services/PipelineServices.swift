import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging
import ServiceLifecycle

/// camera → detector → tracker/readiness → ScreeningHub. Frames arrive newest-only (the source keeps
/// one buffered frame), so a slow detection drops stale frames instead of building a backlog.
struct VisionService: Service {
    let source: any FrameSource
    let detector: DetectionWorker
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

    func run() async throws {
        var pipeline = FacePipeline(readiness: readiness, tracker: tracker)
        await hub.setTimingObserver { [metrics] timing in metrics.record(timing) }
        logger.info("vision started", metadata: ["source": "\(source.description)", "detector": "\(detector.kind.rawValue)"])
        for await frame in source.frames().cancelOnGracefulShutdown() {
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
                await health.progress("detector")
            } catch {
                metrics.detectionErrors.increment()
                await health.report("detector", .recovering("detection failed: \(error)"))
                logger.error("face detection failed", metadata: ["error": "\(error)"])
            }
        }
        await detector.shutdown()
        logger.info("vision stopped")
    }
}

/// Thermal sensor link → ScreeningHub, reporting the link's state to health.
struct ThermalService: Service {
    let link: ThermalSensorLink
    let hub: ScreeningHub
    let health: HealthBoard
    let metrics: PipelineMetrics
    let logger: Logger

    func run() async throws {
        let events = link.start()
        await withGracefulShutdownHandler {
            var lastCounters: ThermalCounters?
            var lastStatus: SensorLinkStatus?
            for await event in events {
                switch event {
                case .frame(let frame, let counters):
                    metrics.thermalFrames.increment()
                    metrics.sensorAmbient.set(frame.ambientC)
                    if let last = lastCounters {
                        let errors = (counters.badChecksum - last.badChecksum) + (counters.timeouts - last.timeouts)
                        if errors > 0 { metrics.thermalErrors.increment(by: Int64(errors)) }
                    }
                    lastCounters = counters
                    await hub.thermal(frame)
                    await health.progress("thermal")
                case .status(let status):
                    // The link repeats "unavailable" on every reconnect attempt (a sign of life); log changes only.
                    if status != lastStatus { logger.notice("thermal sensor \(status)") }
                    lastStatus = status
                    metrics.sensorUp.set(status.isAvailable ? 1.0 : 0.0)
                    if status.isAvailable {
                        await hub.sensorAvailable()
                        await health.progress("thermal")
                    } else {
                        if case .unavailable = status { await hub.sensorUnavailable() }
                        await health.report("thermal", .recovering(status.description))
                    }
                case .emissivity(let e):
                    logger.info("sensor emissivity read back", metadata: ["emissivity": "\(e)"])
                }
            }
        } onGracefulShutdown: {
            link.stop()
        }
        logger.info("thermal stopped")
    }
}

/// The uploader loop, cancelled on graceful shutdown (a transfer in flight is aborted and stays queued).
struct UploaderService: Service {
    let uploader: UploadService
    func run() async throws {
        await cancelWhenGracefulShutdown { await uploader.run() }
    }
}

import CheckpointAdapters
import CheckpointCore
import CheckpointServices
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Wires the pipeline from a validated config and runs it under a ServiceGroup until SIGTERM/SIGINT:
///
///   camera ─▶ VisionService (detector thread, tracker, readiness) ─┐
///                                                                 ├─▶ ScreeningHub ─▶ API (POST /v1/declarations, screen view/events)
///   sensor ─▶ ThermalService (serial thread, framer)  ────────────┘                       │
///                                                                     QueueStore (SQLite) ◀┘ ─▶ UploaderService (libcurl thread)
///   SupervisorService: READY/WATCHDOG/STATUS to systemd, SIGHUP reload.
enum Daemon {
    static func run(config initial: CheckpointConfig, logger: Logger) async throws {
        let clock: @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }
        let uplinkMetrics = UplinkMetrics()
        let metrics = PipelineMetrics(registry: uplinkMetrics.registry)
        let stateMetrics = DaemonStateMetrics(registry: uplinkMetrics.registry)
        stateMetrics.calibration(id: initial.calibration.record.id, calibratedAt: initial.calibration.record.calibratedAt)
        stateMetrics.clientCertificate(path: initial.upload.clientCert)
        _ = CurlGlobal.initialize()

        // The queue first: nothing is confirmed to a person unless it can be stored.
        let store = try QueueStore(path: initial.queue.databasePath, options: queueOptions(initial.queue),
                                   logger: Logger(label: "checkpointd.queue"))
        let asyncStore = AsyncQueueStore(store)   // the daemon's only way to the queue: every call on its own thread
        if let moved = store.quarantinedTo { logger.critical("queue database was corrupt; quarantined", metadata: ["moved_to": "\(moved)"]) }
        let curl = try CurlUploader(configuration: UploadConfiguration(initial.upload))
        let uploader = UploadService(store: store, uploader: curl, policy: uploadPolicy(initial.upload),
                                     logger: Logger(label: "checkpointd.upload"))

        let health = HealthBoard(clock: clock)
        let engine = try screeningEngine(initial)
        if let warning = exampleCalibrationWarning(initial) { logger.error("\(warning)") }
        let snapshotConfig = Mutex(FaceSnapshotConfig(initial.snapshot))   // swapped on reload
        var hubOptions = ScreeningHub.Options()
        hubOptions.declarationHoldSeconds = Double(initial.screening.declarationHoldSeconds)
        let hub = ScreeningHub(engine: engine, options: hubOptions, clock: clock) { candidate in
            (try? FaceSnapshotEncoder.encode(candidate.frame, face: candidate.face.box,
                                             config: snapshotConfig.withLock { $0 })).map { Data($0) }
        }
        let screeningLogger = Logger(label: "checkpointd.screening")
        let heartbeatTally = Mutex<HeartbeatSender?>(nil)   // set below when heartbeats are on
        await hub.setObserver { result, capture in
            metrics.screening(outcome: result.outcome.rawValue).increment()
            heartbeatTally.withLock { $0 }?.screening(result.outcome)
            // No personal data: the outcome, the values and the quality flags only.
            screeningLogger.notice("screening \(result.outcome.rawValue)", metadata: [
                "corrected_c": "\(result.correctedC.map { String(format: "%.2f", $0) } ?? "-")",
                "raw_c": "\(result.rawC.map { String(format: "%.2f", $0) } ?? "-")",
                "frames": "\(result.frameCount)", "flags": "\(capture.summary.flags.joined(separator: ","))",
                "snapshot": "\(capture.faceJPEG.map { "\($0.count) B" } ?? "none")",
            ])
        }

        var services: [any Service] = []
        // The kiosk screen's live mirror (TCP listener only); nothing is encoded while nobody watches.
        let preview: CameraPreview? = initial.ui.enabled && initial.ui.preview && initial.api.tcpPort > 0
            ? CameraPreview(options: .init(maxFPS: initial.ui.previewFPS, maxWidth: initial.ui.previewWidth)) : nil
        // Health QR codes for the declaration step; frames are decoded only while the screen scans.
        let qrScanner: QRScanner? = initial.ui.enabled && initial.ui.qrScan && initial.api.tcpPort > 0 ? QRScanner(metrics: uplinkMetrics.registry) : nil

        // A technician's snapshot of the running camera (API socket); nothing is handed over unless asked.
        let snapshot = LiveSnapshot()

        // Camera and detector. A detector that cannot load leaves the kiosk taking declarations
        // (without a screening) and reports the failure; it never stops the daemon.
        let source = try CameraSourceFactory.make(initial.camera, output: .bgr24, logger: Logger(label: "checkpointd.camera"))
        FaceDetector.setThreads(initial.detector.threads)
        do {
            let detector = try await DetectionWorker(config: detectorConfig(initial.detector, focalLengthPx: initial.tracking.focalLengthPixels, captureWidth: initial.camera.width), logger: Logger(label: "checkpointd.faces"))
            // Registered once the model has loaded (seconds on a slow machine), so that load is not a camera stall.
            await health.register(.camera, stallLimitSeconds: max(10, Double(initial.camera.frameTimeoutMilliseconds) / 1000 * 4))
            await health.register(.detector, stallLimitSeconds: 30)
            if detector.health != .ok { await health.report(.detector, detector.health) }
            services.append(VisionService(source: source, detector: detector, readiness: FaceReadinessConfig(initial.tracking), tracker: FaceTracker(initial.tracking),
                                          hub: hub, health: health, metrics: metrics, preview: preview, snapshot: snapshot, qr: qrScanner,
                                          logger: Logger(label: "checkpointd.vision")))
        } catch {
            logger.critical("face detector unavailable; declarations are taken without screening", metadata: ["error": "\(error)"])
            // No vision stage runs, so the camera is not watched; the failure shows in health and STATUS.
            await health.register(.detector, stallLimitSeconds: .infinity)
            await health.report(.detector, .failed("\(error)"))
        }

        // Thermal sensor.
        let linkConfig = try SensorLinkConfig(initial)
        let link = ThermalSensorLink(config: linkConfig, logger: Logger(label: "checkpointd.thermal"))
        // Silent longer than a few frame periods, or than two reconnect attempts while the sensor is away: stalled.
        await health.register(.thermal, stallLimitSeconds: max(10, 6 / initial.thermal.frameRateHz, 2 * linkConfig.backoffMaxSeconds + 2))
        services.append(ThermalService(link: link, hub: hub, health: health, metrics: metrics, logger: Logger(label: "checkpointd.thermal")))

        // Local API for the kiosk front end, and the uploader.
        let api = DeclarationAPI(
            configuration: apiConfiguration(initial), store: asyncStore, screening: hub, uploader: uploader, metrics: uplinkMetrics,
            logger: Logger(label: "checkpointd.api"), preview: preview, snapshot: snapshot, qrScanner: qrScanner,
            extraHealth: {
                var fields: [String: String] = ["overall": "\(await health.overall)"]
                for stage in await health.stages { fields["stage.\(stage.name)"] = "\(stage.state)" }
                if let fps = await health.cameraFPS { fields["camera.fps"] = String(format: "%.1f", fps) }
                let s = await hub.engineStatus()
                if let w = s.warmUpRemainingSeconds, w > 0 { fields["sensor.warmup_remaining_s"] = "\(Int(w))" }
                return fields
            })
        uplinkMetrics.setRefresh { stateMetrics.update(warmUpRemainingSeconds: await hub.engineStatus().warmUpRemainingSeconds) }
        services.append(contentsOf: api.applications().map { $0 as any Service })
        services.append(UploaderService(uploader: uploader))

        // Reload (SIGHUP): everything is checked first, then applied together, so a rejected reload changes
        // nothing. What applies live and what needs a restart: `ConfigReload`.
        let configPath = initial.file
        let running = RunningConfig(initial)
        let reload: @Sendable () async -> [String] = {
            if let crash = await Checkpointd.parserCrash(path: configPath) { return [crash] }
            switch ConfigLoader.result(path: configPath) {
            case .failure(let error):
                return error.diagnostics.map(\.description)
            case .success(let next):
                let newEngine: ScreeningEngine
                do { newEngine = try screeningEngine(next) } catch { return ["\(next.thermal.calibrationPath): \(error)"] }
                // The upload transport is checked (and applied) first: it is the last thing that can fail.
                let transport = UploadConfiguration(next.upload)
                let transportChanged = transport != curl.configuration
                do { try curl.reconfigure(transport) } catch { return ["\(next.file): [upload] \(error)"] }
                if let warning = exampleCalibrationWarning(next) { logger.error("\(warning)") }
                await hub.replaceEngine(newEngine)
                await hub.setDeclarationHold(seconds: Double(next.screening.declarationHoldSeconds))
                snapshotConfig.withLock { $0 = FaceSnapshotConfig(next.snapshot) }
                await uploader.reconfigured(policy: uploadPolicy(next.upload), transportChanged: transportChanged)
                stateMetrics.calibration(id: next.calibration.record.id, calibratedAt: next.calibration.record.calibratedAt)
                stateMetrics.clientCertificate(path: next.upload.clientCert)
                try? heartbeatTally.withLock { $0 }?.reconfigure(upload: transport, intervalSeconds: Double(next.heartbeat.intervalSeconds),
                                                                  stillEnabled: next.monitoring.stillEnabled, blurFaces: next.monitoring.blurFaces)
                let previous = await running.swap(next)
                for setting in ConfigReload.restartRequired(from: previous, to: next) {
                    logger.warning("changed \(setting) takes effect after a restart (systemctl restart checkpointd)")
                }
                return []
            }
        }
        // Heartbeats to the province: their own thread and curl handle, so they never delay a declaration.
        if initial.heartbeat.enabled {
            let certificate = ClientCertificateExpiry()
            let sender = try HeartbeatSender(
                upload: UploadConfiguration(initial.upload), intervalSeconds: Double(initial.heartbeat.intervalSeconds),
                identity: HeartbeatIdentity(deviceId: initial.kiosk.deviceID, checkpointId: initial.kiosk.checkpointID,
                                            bootId: SystemRecordClock().bootId),
                monitoring: StillRequestPolicy(stillEnabled: initial.monitoring.stillEnabled, blurFaces: initial.monitoring.blurFaces),
                still: { blur in await snapshot.monitoringStill(blurFaces: blur) },
                conditions: {
                    let u = uploader.status
                    return HeartbeatConditions(stages: await health.stages, sensorAvailable: await hub.engineStatus().sensorAvailable,
                                               uplinkAlert: u.alert != nil, deadLetters: u.deadLetters)
                },
                status: {
                    let engine = await hub.engineStatus()
                    let queue = try? await asyncStore.status()
                    let u = uploader.status
                    let calibration = await running.current.calibration.record
                    return KioskStatus(
                        stages: await health.stages, overall: await health.overall, sensorAvailable: engine.sensorAvailable,
                        ambientC: await hub.thermalLive()?.ambientC, warmUpRemainingSeconds: engine.warmUpRemainingSeconds,
                        calibrationId: calibration.id, calibratedAt: calibration.calibratedAt.date,
                        queueDepth: queue?.pending ?? 0, oldestPendingAt: queue?.oldestPendingAt, deadLetters: u.deadLetters,
                        lastDeliveryAt: u.lastDeliveryAt, uplinkAlert: u.alert != nil,
                        certificateExpiresAt: certificate.expiry(path: await running.current.upload.clientCert),
                        freeDiskBytes: queue?.freeDiskBytes ?? 0)
                })
            heartbeatTally.withLock { $0 = sender }
            services.append(HeartbeatService(sender: sender))
        }

        services.append(SupervisorService(notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment),
                                          health: health, store: asyncStore, uploader: uploader,
                                          metrics: metrics, reload: reload, logger: Logger(label: "checkpointd")))

        for line in initial.summary { logger.info("config: \(line)") }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        curl.shutdown()
        logger.notice("checkpointd stopped")
    }

    // MARK: Config → adapters

    /// The one line said at start and on reload when the calibration is a shipped example.
    static func exampleCalibrationWarning(_ c: CheckpointConfig) -> String? {
        guard c.calibration.isExample else { return nil }
        return "calibration \(c.thermal.calibrationPath) is an EXAMPLE (id \(c.calibration.record.id), serial \(c.calibration.sensor.serial)): "
            + "every screening is invalid, \"not calibrated\", until this kiosk's sensor is calibrated (checkpointctl calibrate thermal) "
            + "and thermal.calibration names the result"
    }

    static func screeningEngine(_ c: CheckpointConfig) throws -> ScreeningEngine {
        var sc = ScreeningConfig()
        sc.framesPerResult = c.screening.frames
        sc.thresholds = ScreeningThresholds(elevatedC: c.screening.elevatedC)
        sc.warmUpSeconds = Double(c.thermal.warmupMinutes) * 60
        sc.measurement.topN = c.screening.topN
        sc.measurement.minFacePixels = c.screening.minFacePixels
        sc.measurement.maxDistanceM = c.tracking.maxDistanceMeters
        sc.plausibleC = c.screening.plausibleMinC...c.screening.plausibleMaxC
        return ScreeningEngine(config: sc, calibration: try ThermalCalibration(c.calibration), registration: try Registration(c.calibration),
                               sensor: SensorIdentity(c.calibration, port: c.thermal.port), logger: Logger(label: "checkpointd.screening"))
    }

    static func detectorConfig(_ d: CheckpointConfig.Detector, focalLengthPx: Double, captureWidth: Int) -> FaceDetectorConfig {
        var f = FaceDetectorConfig(modelPath: d.modelPath)
        f.modelSHA256 = d.modelSHA256 ?? FaceDetectorConfig.yunet2022marSHA256
        f.cascadePath = d.fallbackCascadePath
        f.detectionWidth = d.detectionWidth
        f.detectionHeight = d.detectionHeight
        f.scoreThreshold = d.scoreThreshold
        f.nmsThreshold = d.nmsThreshold
        f.verifySize = d.verifySize
        f.proposalScoreThreshold = d.proposalScoreThreshold
        f.verifyMargin = d.verifyMargin
        f.maxProposals = d.maxProposals
        f.verifyAbove = d.verifyAbove
        f.nearestFaceM = d.nearestFaceMeters
        f.farthestFaceM = d.farthestFaceMeters
        f.flipBelow = d.flipBelow
        f.focalLengthPx = focalLengthPx
        f.gateReferenceWidth = captureWidth
        return f
    }

    static func apiConfiguration(_ c: CheckpointConfig) -> APIConfiguration {
        APIConfiguration(socketPath: c.api.socketPath, socketMode: c.api.socketMode, socketGroup: c.api.socketGroup,
                         tcpPort: c.api.tcpPort == 0 ? nil : c.api.tcpPort,
                         maxDeclarationBytes: c.api.maxBodyBytes, checkpointId: c.kiosk.checkpointID, deviceId: c.kiosk.deviceID,
                         ui: c.ui.enabled ? UIConfiguration(directory: c.ui.dir, preview: c.ui.preview,
                                                               faceRetentionHours: c.queue.faceRetentionHours, qrScan: c.ui.qrScan) : nil,
                         idleTimeout: .seconds(c.api.idleTimeoutSeconds), maxConnections: c.api.maxConnections,
                         maxConcurrentDeclarations: c.api.maxConcurrentDeclarations)
    }

    static func uploadPolicy(_ u: CheckpointConfig.Upload) -> UploadPolicy {
        UploadPolicy(maxDelay: .seconds(u.backoffMaxSeconds), retryAfterClamp: 1...Double(max(1, u.retryAfterMaxSeconds)))
    }

    static func queueOptions(_ q: CheckpointConfig.Queue) -> QueueStore.Options {
        QueueStore.Options(capacity: QueueCapacity(maxBytes: Int64(q.maxBytes), freeDiskFloor: Int64(q.minFreeBytes),
                                                   nearFullFraction: q.faceDropFraction),
                           faceRetention: .seconds(q.faceRetentionHours * 3600),
                           uploadedRetention: .seconds(q.uploadedRetentionHours * 3600))
    }
}

/// The configuration in force, swapped on a successful reload.
actor RunningConfig {
    private var config: CheckpointConfig
    init(_ config: CheckpointConfig) { self.config = config }
    var current: CheckpointConfig { config }
    func swap(_ next: CheckpointConfig) -> CheckpointConfig {
        defer { config = next }
        return config
    }
}


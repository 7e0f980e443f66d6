import CheckpointAdapters
import CheckpointCore
@testable import CheckpointServices
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite struct VisionServiceTests {
    private func service(source: any FrameSource, detector: any FaceDetecting, health: HealthBoard, metrics: PipelineMetrics,
                         logger: Logger) -> VisionService {
        VisionService(source: source, detector: detector, readiness: FaceReadinessConfig(), tracker: FaceTracker(),
                      hub: Fixtures.hub(), health: health, metrics: metrics, preview: nil, snapshot: nil, qr: nil, logger: logger)
    }

    /// A failed detection is counted, logged and shown in health; the loop goes on with the next frame, and a
    /// later success puts the detector back to ok.
    @Test func aDetectionErrorIsCountedAndTheLoopGoesOn() async throws {
        let source = ScriptedFrameSource(frames: 4, endAfterScript: true)
        let detector = ScriptedDetector(failingOn: [2, 3])
        let metrics = Fixtures.metrics()
        let health = HealthBoard(clock: { 0 })
        await health.register(.camera, stallLimitSeconds: 10)
        await health.register(.detector, stallLimitSeconds: 10)
        let (logger, log) = Fixtures.logger()
        try await service(source: source, detector: detector, health: health, metrics: metrics, logger: logger).run()

        #expect(detector.detected.withLock { $0 } == [1, 2, 3, 4])
        #expect(Fixtures.value("checkpointd_camera_frames_total", in: metrics) == 4)
        #expect(Fixtures.value("checkpointd_detection_errors_total", in: metrics) == 2)
        #expect(log.entries.filter { $0.level == .error && "\($0.message)" == "face detection failed" }.count == 2)
        #expect(await health.state(of: .detector) == .ok)
        #expect(await health.framesSeen == 4)
        #expect(detector.shutdowns.withLock { $0 } == 1)
    }

    @Test func aFailingDetectorLeavesTheStageRecovering() async throws {
        let detector = ScriptedDetector(failingOn: [2])
        let health = HealthBoard(clock: { 0 })
        await health.register(.detector, stallLimitSeconds: 10)
        let (logger, _) = Fixtures.logger()
        try await service(source: ScriptedFrameSource(frames: 2, endAfterScript: true), detector: detector, health: health,
                          metrics: Fixtures.metrics(), logger: logger).run()
        let state = await health.state(of: .detector)
        guard case .recovering(let why) = state else {
            Issue.record("detector stage is \(String(describing: state)), expected recovering")
            return
        }
        #expect(why.hasPrefix("detection failed: "))
        #expect(why.contains("scripted detection failure"))
    }

    /// Graceful shutdown ends the frame loop while the camera is still streaming: the camera's stream is released
    /// and the detector shut down.
    @Test func gracefulShutdownReleasesCameraAndDetector() async throws {
        let source = ScriptedFrameSource(frames: 2, endAfterScript: false)
        let detector = ScriptedDetector(failingOn: [])
        let health = HealthBoard(clock: { 0 })
        let (logger, log) = Fixtures.logger()
        let vision = service(source: source, detector: detector, health: health, metrics: Fixtures.metrics(), logger: logger)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await vision.run() }
                #expect(await Fixtures.eventually { detector.detected.withLock { $0.count } == 2 })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(source.released.withLock { $0 })
        #expect(detector.shutdowns.withLock { $0 } == 1)
        #expect(log.entries.contains { "\($0.message)" == "vision stopped" })
    }

    /// The camera's health travels on its event stream: a lost device shows in health as recovering, with its
    /// reason, while no frame comes; the first frame after it puts the camera stage back to ok.
    @Test func cameraHealthEventsReachTheHealthBoard() async throws {
        let camera = ControlledCamera()
        let detector = ScriptedDetector(failingOn: [])
        let health = HealthBoard(clock: { 0 })
        await health.register(.camera, stallLimitSeconds: 10)
        let (logger, _) = Fixtures.logger()
        let vision = service(source: camera, detector: detector, health: health, metrics: Fixtures.metrics(), logger: logger)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await vision.run() }
                #expect(await Fixtures.eventually { camera.isListening })
                camera.send(.frame(ControlledCamera.frame(1)))
                #expect(await Fixtures.eventually { await health.state(of: .camera) == .ok })
                camera.send(.health(.degraded("device unplugged")))
                #expect(await Fixtures.eventually { await health.state(of: .camera) == .recovering("device unplugged") })
                // Back: the first frame after it puts the stage back to ok.
                camera.send(.health(.streaming))
                camera.send(.frame(ControlledCamera.frame(2)))
                #expect(await Fixtures.eventually { await health.state(of: .camera) == .ok })
                #expect(await health.framesSeen == 2)
                #expect(detector.detected.withLock { $0 } == [1, 2])
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }
}

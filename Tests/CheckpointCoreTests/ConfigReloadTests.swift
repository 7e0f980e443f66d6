import Foundation
import Testing
@testable import CheckpointCore

/// A reload applies thresholds, calibration, snapshot and upload settings at once; devices, sockets, the queue
/// and the kiosk identity only after a restart, and the daemon names each such setting.
@Suite struct ConfigReloadTests {
    typealias F = ConfigFixtures

    private func running() throws -> CheckpointConfig {
        try ConfigLoader.load(path: F.installLayout(config: F.minimal).config)
    }

    @Test func liveSettingsNeedNoRestart() throws {
        let before = try running()
        var after = before
        after.screening.elevatedC += 0.3
        after.screening.frames += 2
        after.screening.declarationHoldSeconds = 600
        after.thermal.warmupMinutes += 5
        after.thermal.calibrationPath = "/etc/checkpointd/calibration/other.toml"
        after.snapshot.jpegQuality = 70
        after.upload.endpoint = "https://backup.example.org/v1/declarations"
        after.upload.backoffMaxSeconds = 600
        after.upload.totalTimeoutSeconds = 30
        #expect(ConfigReload.restartRequired(from: before, to: after) == [])
        #expect(ConfigReload.restartRequired(from: before, to: before) == [])
    }

    @Test func devicesSocketsQueueAndIdentityNeedARestart() throws {
        let before = try running()
        let cases: [(String, (inout CheckpointConfig) -> Void)] = [
            ("kiosk", { $0.kiosk.deviceID = "kiosk-2" }),
            ("camera", { $0.camera.device = "/dev/video7" }),
            ("detector", { $0.detector.threads += 1 }),
            ("tracking", { $0.tracking.stableFrames += 1 }),
            ("thermal", { $0.thermal.port = "/dev/ttyUSB7" }),
            ("thermal", { $0.thermal.frameRateHz *= 2 }),
            ("calibration.sensor.emissivity", { $0.calibration.sensor.emissivity = $0.calibration.sensor.emissivity == 0.95 ? 0.97 : 0.95 }),
            ("ui", { $0.ui.dir = "/srv/other-ui" }),
            ("ui", { $0.ui.previewFPS = 2 }),
            ("api", { $0.api.socketPath = "/run/other.sock" }),
            ("queue", { $0.queue.maxBytes /= 2 }),
        ]
        for (expected, change) in cases {
            var after = before
            change(&after)
            #expect(ConfigReload.restartRequired(from: before, to: after) == [expected])
        }
        // Several at once are all named, in section order.
        var both = before
        both.camera.device = "/dev/video7"
        both.api.socketPath = "/run/other.sock"
        both.screening.elevatedC += 0.1
        #expect(ConfigReload.restartRequired(from: before, to: both) == ["camera", "api"])
    }
}

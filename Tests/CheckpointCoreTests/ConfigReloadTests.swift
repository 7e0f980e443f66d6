import Foundation
import Testing
@testable import CheckpointCore

/// A reload applies thresholds, calibration, snapshot and upload settings at once; devices, sockets, the queue
/// and the kiosk identity only after a restart, and the daemon names each such setting.
@Suite struct ConfigReloadTests {
    typealias F = ConfigFixtures

    private func running(_ extra: String = "") throws -> CheckpointConfig {
        try ConfigLoader.load(path: F.installLayout(config: F.minimal + "\n" + extra).config)
    }

    /// The minimal config with `extra` appended (new tables) or with the changed line (an existing key) in place.
    private func changed(_ line: String, in table: String) throws -> CheckpointConfig {
        var text = F.minimal
        if text.contains("[\(table)]\n") {
            let key = line.components(separatedBy: " =")[0]
            var lines = text.components(separatedBy: "\n").filter { !$0.hasPrefix(key + " =") }
            let header = lines.firstIndex(of: "[\(table)]")!
            lines.insert(line, at: header + 1)
            text = lines.joined(separator: "\n")
        } else {
            text += "\n[\(table)]\n\(line)\n"
        }
        return try ConfigLoader.load(path: F.installLayout(config: text).config)
    }

    @Test func liveSettingsNeedNoRestart() throws {
        let before = try running()
        let live: [(String, String)] = [
            ("screening", "elevated_c = 37.8"), ("screening", "frames = 7"), ("screening", "declaration_hold_seconds = 600"),
            ("thermal", "warmup_minutes = 35"), ("snapshot", "jpeg_quality = 70"),
            ("upload", "endpoint = \"https://backup.example.invalid/v1/declarations\""), ("upload", "backoff_max_s = 600"),
            ("upload", "total_timeout_s = 30"),
        ]
        for (table, line) in live {
            #expect(ConfigReload.restartRequired(from: before, to: try changed(line, in: table)) == [], "\(table): \(line)")
        }
        var otherCalibration = before
        otherCalibration.calibration.fit.gain = 1.1
        #expect(ConfigReload.restartRequired(from: before, to: otherCalibration) == [])
        #expect(ConfigReload.restartRequired(from: before, to: before) == [])
    }

    @Test func devicesSocketsQueueAndIdentityNeedARestart() throws {
        let before = try running()
        let cases: [(String, String, String)] = [
            ("kiosk.device_id", "kiosk", "device_id = \"kiosk-2\""),
            ("camera.device", "camera", "device = \"/dev/video7\""),
            ("camera.controls.gain", "camera.controls", "gain = 5"),
            ("detector.threads", "detector", "threads = 2"),
            ("tracking.stable_frames", "tracking", "stable_frames = 6"),
            ("thermal.port", "thermal", "port = \"/dev/ttyUSB7\""),
            ("thermal.frame_rate_hz", "thermal", "frame_rate_hz = 2"),
            ("ui.dir", "ui", "dir = \"/srv/other-ui\""),
            ("ui.preview_fps", "ui", "preview_fps = 2"),
            ("api.socket", "api", "socket = \"/run/other.sock\""),
            ("queue.max_bytes", "queue", "max_bytes = 1073741824"),
            ("logging.level", "logging", "level = \"debug\""),
        ]
        for (expected, table, line) in cases {
            #expect(ConfigReload.restartRequired(from: before, to: try changed(line, in: table)) == [expected], "\(line)")
        }
        var emissivity = before
        emissivity.calibration.sensor.emissivity = before.calibration.sensor.emissivity == 0.95 ? 0.97 : 0.95
        #expect(ConfigReload.restartRequired(from: before, to: emissivity) == ["calibration.sensor.emissivity"])
        // Several at once are all named, in schema order.
        let both = try running("[api]\nsocket = \"/run/other.sock\"\n[camera]\ndevice = \"/dev/video7\"\n[screening]\nelevated_c = 37.6\n")
        #expect(ConfigReload.restartRequired(from: before, to: both) == ["camera.device", "api.socket"])
    }

    /// The schema's flag is the one definition: every calibration key it marks is compared.
    @Test func everyRestartKeyOfTheCalibrationSchemaIsCompared() throws {
        let c = try running().calibration
        for (path, key) in CalibrationFile.schema.allKeys() where key.needsRestart {
            #expect(CalibrationFile.restartValue(c, path) != nil, "\(path)")
        }
    }
}

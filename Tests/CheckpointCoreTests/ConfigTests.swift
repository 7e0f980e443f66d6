import Foundation
import Testing
@testable import CheckpointCore

/// Shared helpers for the config tests: the repository root, temporary directories, marker lines.
enum ConfigFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func tempDir() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("config-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func write(_ text: String, _ path: String) {
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// 1-based line of the only line containing `marker`.
    static func line(of marker: String, in text: String) -> Int {
        let lines = text.components(separatedBy: "\n")
        let hits = lines.indices.filter { lines[$0].contains(marker) }
        precondition(hits.count == 1, "marker \(marker) found \(hits.count) times")
        return hits[0] + 1
    }

    /// A directory laid out like /etc/checkpointd: the given config plus calibration/gy-mcu90640.toml from the repo.
    static func installLayout(config: String) -> (dir: String, config: String) {
        let dir = tempDir()
        try! FileManager.default.createDirectory(atPath: dir + "/calibration", withIntermediateDirectories: true)
        let cal = try! String(contentsOfFile: repo.appendingPathComponent("calibration/gy-mcu90640.toml").path, encoding: .utf8)
        write(cal, dir + "/calibration/gy-mcu90640.toml")
        write(config, dir + "/checkpointd.toml")
        return (dir, dir + "/checkpointd.toml")
    }

    static let minimal = """
        [kiosk]
        checkpoint_id = "site-1"
        device_id = "kiosk-1"

        [thermal]
        model = "gy-mcu90640"
        calibration = "calibration/gy-mcu90640.toml"

        [upload]
        endpoint = "https://uploads.example.org/v1/declarations"
        """

    static func diagnostics(_ path: String) -> [ConfigDiagnostic] {
        switch ConfigLoader.result(path: path) {
        case .success: return []
        case .failure(let e): return e.diagnostics
        }
    }
}

@Suite struct ConfigTests {
    typealias F = ConfigFixtures

    /// One config with a problem planted on known lines: every one is reported, with its line, in one run.
    @Test func everyPlantedErrorIsReportedWithItsLine() throws {
        let text = """
            # planted errors; each problem line carries an E: marker
            [kiosk]                               # E:kiosk-header
            checkpoint_id = "site-1"

            [camera]
            source = "usb"                        # E:bad-enum
            fsp = 15                              # E:typo
            width = "640"                         # E:wrong-type
            buffers = 12                          # E:range
            formats = ["MJPEG", "H264"]           # E:element
            frame_timeout_ms = 2500

            [camera.controls]
            power_line_frequency = "50Hz"         # E:case

            [detector]
            fps = 10                              # E:wrong-table

            [snapshot]
            jpeg_quality = 150                    # E:quality
            colour = "red"                        # E:unknown

            [thermal]
            model = "gy-mcu90640"
            baud = 57600                          # E:baud
            calibration = "calibration/gy-mcu90640.toml"

            [screening]
            elevated_c = 41.0                     # E:elevated

            [upload]
            endpoint = "http://uploads.example.org/v1"   # E:http
            client_cert = "client.pem"            # E:cert
            """
        let (_, path) = F.installLayout(config: text)
        let diags = F.diagnostics(path)
        func expectAt(_ marker: String, _ key: String, _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let line = F.line(of: marker, in: text)
            let hit = diags.first { $0.line == line && $0.keyPath == key }
            #expect(hit != nil, "no diagnostic for \(key) at line \(line); got:\n\(diags.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
            if let hit {
                #expect(hit.description.contains(contains), "\(hit)", sourceLocation: sourceLocation)
                #expect(hit.description.hasPrefix("\(path):\(line): \(key): "), "\(hit)", sourceLocation: sourceLocation)
            }
        }
        expectAt("E:kiosk-header", "kiosk.device_id", "missing required key (allowed: 1..64 of A-Z a-z 0-9 . _ -)")
        expectAt("E:bad-enum", "camera.source", "\"usb\" is not a known value (allowed: \"v4l2\", \"replay\")")
        expectAt("E:typo", "camera.fsp", "unknown key; did you mean \"fps\"?")
        expectAt("E:wrong-type", "camera.width", "expected an integer, found string \"640\" (allowed: 160..1920 px)")
        expectAt("E:range", "camera.buffers", "12 is out of range (allowed: 2..8 buffers)")
        expectAt("E:element", "camera.formats[1]", "\"H264\" is not a known value")
        expectAt("E:case", "camera.controls.power_line_frequency", "did you mean \"50hz\"?")
        expectAt("E:wrong-table", "detector.fps", "did you mean camera.fps")
        expectAt("E:quality", "snapshot.jpeg_quality", "150 is out of range (allowed: 1..100 percent)")
        expectAt("E:unknown", "snapshot.colour", "unknown key (allowed: jpeg_quality, max_bytes, margin)")
        expectAt("E:baud", "thermal.baud", "57600 is not a supported baud rate (allowed: 9600, 115200, 460800 or \"auto\")")
        expectAt("E:elevated", "screening.elevated_c", "41.0 is out of range (allowed: 36..39 °C)")
        expectAt("E:http", "upload.endpoint", "refused unless insecure http is allowed (allow_insecure_http = true")
        // client_key is missing: reported at the [upload] table header.
        let uploadHeader = F.line(of: "[upload]", in: text)
        #expect(diags.contains { $0.line == uploadHeader && $0.keyPath == "upload.client_key" && $0.message.contains("go together") })
        #expect(diags.count == 14, "\(diags.map(\.description).joined(separator: "\n"))")
        #expect(diags.map { $0.line ?? 0 } == diags.map { $0.line ?? 0 }.sorted(), "sorted by line")
    }

    @Test func emptyFileReportsEveryMissingRequiredKeyAtLineOne() {
        let dir = F.tempDir()
        F.write("", dir + "/empty.toml")
        let diags = F.diagnostics(dir + "/empty.toml")
        #expect(diags.map(\.keyPath) == ["kiosk.checkpoint_id", "kiosk.device_id", "thermal.model", "thermal.calibration", "upload.endpoint"])
        #expect(diags.allSatisfy { $0.line == 1 && $0.message == "missing required key" })
    }

    @Test func syntaxErrorIsReportedWithItsLine() {
        let dir = F.tempDir()
        let text = "[kiosk]\ncheckpoint_id = \"a\"\ndevice_id = = \"b\"\n"
        F.write(text, dir + "/syntax.toml")
        let diags = F.diagnostics(dir + "/syntax.toml")
        #expect(diags.count == 1)
        #expect(diags.first?.description.hasPrefix("\(dir)/syntax.toml:3: TOML syntax error") == true, "\(diags)")
    }

    @Test func unreadableFilesSayWhy() {
        let dir = F.tempDir()
        #expect(F.diagnostics(dir + "/missing.toml").map(\.description) == ["\(dir)/missing.toml: cannot read: No such file or directory"])
        #expect(F.diagnostics(dir).map(\.description) == ["\(dir): cannot read: Is a directory"])
        F.write("a = \"\u{0}\"", dir + "/nul.toml")
        #expect(F.diagnostics(dir + "/nul.toml").first?.message.contains("NUL") == true)
        // after CRLF lines too (found by fuzzing: "\r\n" is one Character, so the line was off)
        F.write("[kiosk]\r\nx = 1\r\na = \"\u{0}\"", dir + "/nul-crlf.toml")
        #expect(F.diagnostics(dir + "/nul-crlf.toml").first?.line == 3)
        try! Data([0x61, 0x20, 0x3D, 0x20, 0x22, 0xFF, 0x22]).write(to: URL(fileURLWithPath: dir + "/latin1.toml"))
        #expect(F.diagnostics(dir + "/latin1.toml").map(\.description) == ["\(dir)/latin1.toml: cannot read: not valid UTF-8 text"])
    }

    @Test func uiAndDeclarationHoldDefaultsAndRanges() throws {
        let c = try ConfigLoader.load(path: F.installLayout(config: F.minimal).config)
        #expect(c.ui == CheckpointConfig.UI(enabled: true, dir: "/usr/share/checkpointd/ui", preview: true, previewFPS: 5, previewWidth: 480, qrScan: true))
        #expect(c.screening.declarationHoldSeconds == 300)
        let custom = F.minimal + """

            [screening]
            declaration_hold_seconds = 900

            [ui]
            dir = "screen"
            preview = false
            preview_fps = 2
            preview_width = 320
            qr_scan = false
            """
        let (dir, path) = F.installLayout(config: custom)
        let d = try ConfigLoader.load(path: path)
        #expect(d.ui.dir == dir + "/screen", "relative to the config file's directory")
        #expect(!d.ui.preview && d.ui.previewFPS == 2 && d.ui.previewWidth == 320 && !d.ui.qrScan)
        #expect(d.screening.declarationHoldSeconds == 900)
        let bad = F.minimal + """

            [screening]
            declaration_hold_seconds = 10
            result_wait_ms = 3000

            [ui]
            preview_fps = 30
            preview_width = 1280
            """
        let keys = Set(F.diagnostics(F.installLayout(config: bad).config).map(\.description).compactMap { line in
            ["screening.declaration_hold_seconds", "screening.result_wait_ms", "ui.preview_fps", "ui.preview_width"].first { line.contains($0) }
        })
        #expect(keys == ["screening.declaration_hold_seconds", "screening.result_wait_ms", "ui.preview_fps", "ui.preview_width"],
                "out of range, and the removed key is unknown")
    }

    @Test func minimalConfigGetsDefaultsAndResolvesRelativePaths() throws {
        let (dir, path) = F.installLayout(config: F.minimal)
        let c = try ConfigLoader.load(path: path)
        #expect(c.kiosk == .init(checkpointID: "site-1", deviceID: "kiosk-1"))
        #expect(c.camera.source == .v4l2)
        #expect(c.camera.formats == [.mjpeg, .yuyv, .grey])
        #expect(c.camera.buffers == 4)
        #expect(c.detector.detectionWidth == 320 && c.detector.detectionHeight == 240)
        #expect(c.detector.modelPath == "/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx")
        #expect(c.thermal.baud == .auto)
        #expect(c.thermal.warmupMinutes == 30)
        #expect(c.thermal.calibrationPath == dir + "/calibration/gy-mcu90640.toml")
        #expect(c.screening.elevatedC == 37.5)
        #expect(c.api.socketPath == "/run/checkpointd/api.sock" && c.api.socketMode == 0o660)
        #expect(c.api.maxBodyBytes == 65536)
        #expect(c.queue.databasePath == "/var/lib/checkpointd/queue.sqlite")
        #expect(c.logging.level == .info)
        #expect(c.calibration.sensor.model == "gy-mcu90640")
        #expect(!c.summary.isEmpty)
    }

    @Test func crossKeyRules() {
        func problems(_ extra: String, replacing: [(String, String)] = []) -> [String] {
            var text = F.minimal + "\n" + extra
            for (a, b) in replacing { text = text.replacingOccurrences(of: a, with: b) }
            let (_, path) = F.installLayout(config: text)
            return F.diagnostics(path).map { "\($0.keyPath): \($0.message)" }
        }
        #expect(problems("[camera]\nsource = \"replay\"\n") == ["camera.replay_path: missing; required when camera.source = \"replay\""])
        #expect(problems("", replacing: [("gy-mcu90640\"\n", "ascii-line\"\n")]).contains("thermal.ascii_pattern: missing; required when thermal.model = \"ascii-line\""))
        #expect(problems("", replacing: [("model = \"gy-mcu90640\"", "model = \"gy-mcu90640\"\nascii_pattern = '(?<object>\\d+) (?<ambient>\\d+)'")])
            .contains { $0.hasPrefix("thermal.ascii_pattern: is only used when") })
        let badPattern = problems("", replacing: [("model = \"gy-mcu90640\"", "model = \"ascii-line\"\nascii_pattern = '(?<object>[0-9.]+'")])
        #expect(badPattern.contains { $0.contains("does not compile") }, "\(badPattern)")
        let noGroup = problems("", replacing: [("model = \"gy-mcu90640\"", "model = \"ascii-line\"\nascii_pattern = '(?<object>[0-9.]+) (?<amb>[0-9.]+)'")])
        #expect(noGroup.contains { $0.contains("has no named group (?<ambient>…)") }, "\(noGroup)")
        #expect(problems("[tracking]\nmin_distance_m = 1.5\nmax_distance_m = 1.0\n").contains { $0.hasPrefix("tracking.max_distance_m: 1.0 is not greater") })
        #expect(problems("[camera.controls]\nexposure_mode = \"auto\"\nexposure_absolute = 200\n").contains { $0.hasPrefix("camera.controls.exposure_absolute: has no effect") })
        #expect(problems("[screening]\nplausible_max_c = 39.0\nelevated_c = 39.0\n").contains { $0.hasPrefix("screening.elevated_c:") })
        #expect(problems("", replacing: [("https://uploads", "ftp://uploads")]).contains { $0.contains("scheme \"ftp\" is not supported") })
        #expect(problems("", replacing: [("https://uploads.example.org", "https://user:pw@uploads.example.org")]).contains { $0.contains("credentials") })
        #expect(problems("", replacing: [("https://uploads.example.org", "http://127.0.0.1:8080"), ("[upload]", "[upload]\nallow_insecure_http = true")]).isEmpty)
        #expect(problems("", replacing: [("https://uploads.example.org", "http://localhost:8080"), ("[upload]", "[upload]\nallow_insecure_http = true")]).isEmpty)
        // allow_insecure_http never sends declarations unencrypted across a network: loopback hosts only
        for host in ["uploads.example.org", "10.0.0.5", "127.example.org", "128.0.0.1", "localhost.example.org"] {
            #expect(problems("", replacing: [("https://uploads.example.org", "http://\(host)"), ("[upload]", "[upload]\nallow_insecure_http = true")])
                .contains { $0.hasPrefix("upload.endpoint:") && $0.contains("only allows loopback hosts") }, "\(host)")
        }
        #expect(problems("[thermal.extra]\n").contains { $0.hasPrefix("thermal.extra: unknown key") })
        #expect(problems("[kiosk.x]\n", replacing: [("device_id = \"kiosk-1\"", "device_id = \"kiosk 1\"")]).contains { $0.hasPrefix("kiosk.device_id: \"kiosk 1\" contains characters") })
    }

    @Test func calibrationErrorsCarryTheCalibrationFileAndLine() throws {
        let (dir, path) = F.installLayout(config: F.minimal.replacingOccurrences(of: "[kiosk]", with: "[kiosk]\nbogus = 1"))
        let calPath = dir + "/calibration/gy-mcu90640.toml"
        var cal = try String(contentsOfFile: calPath, encoding: .utf8)
        cal = cal.replacingOccurrences(of: "emissivity = 0.98", with: "emissivity = 0.5")
        cal = cal.replacingOccurrences(of: "model = \"gy-mcu90640\"", with: "model = \"single-point-5a5a\"")
        F.write(cal, calPath)
        let diags = F.diagnostics(path)
        #expect(diags.count == 3, "\(diags)")
        #expect(diags.first?.file == path && diags.first?.keyPath == "kiosk.bogus")
        let emissivityLine = F.line(of: "emissivity = 0.5", in: cal)
        #expect(diags.contains { $0.description == "\(calPath):\(emissivityLine): sensor.emissivity: 0.5 is out of range (allowed: 0.9..1 ratio)" })
        let modelLine = F.line(of: "model = \"single-point-5a5a\"", in: cal)
        #expect(diags.contains { $0.file == calPath && $0.line == modelLine && $0.message.contains("does not match thermal.model") })
    }

    @Test func missingCalibrationFileIsReported() {
        let (dir, path) = F.installLayout(config: F.minimal.replacingOccurrences(of: "gy-mcu90640.toml", with: "nope.toml"))
        #expect(F.diagnostics(path).map(\.description) == ["\(dir)/calibration/nope.toml: cannot read: No such file or directory"])
    }

    @Test func structuralMistakesPointAtTheirLines() {
        func diags(_ text: String) -> [String] {
            let (_, path) = F.installLayout(config: text)
            return F.diagnostics(path).map { "\($0.line ?? 0) \($0.keyPath): \($0.message)" }
        }
        // A key written twice is a TOML error: TOMLKit reports the second line.
        let dup = diags("[camera]\nfps = 10\nfps = 12\n" + F.minimal)
        #expect(dup.count == 1 && dup[0].hasPrefix("3 : TOML syntax error"), "\(dup)")
        // A section written as a value, or as an array of tables.
        #expect(diags("camera = 5\n" + F.minimal) == ["1 camera: expected a table, found integer"])
        #expect(diags("[[camera]]\nfps = 1\n" + F.minimal) == ["1 camera: expected a table, found array"])
        // Inline tables and multi-line arrays: the line of the offending key or element.
        #expect(diags("camera = { fps = 15, nope = 1 }\n" + F.minimal) == ["1 camera.nope: unknown key"])
        #expect(diags("[camera]\nformats = [\n  \"MJPEG\",\n  \"YUYV\",\n  \"MJPEG\",\n]\n" + F.minimal)
            == ["5 camera.formats[2]: \"MJPEG\" is listed twice"])
    }

    @Test func diagnosticFormat() {
        let d = ConfigDiagnostic(file: "/etc/x.toml", line: 7, keyPath: "a.b", message: "12 is out of range", allowed: "2..8")
        #expect(d.description == "/etc/x.toml:7: a.b: 12 is out of range (allowed: 2..8)")
        #expect(ConfigDiagnostic(file: "f", line: nil, keyPath: "", message: "cannot read: Permission denied").description == "f: cannot read: Permission denied")
    }
}

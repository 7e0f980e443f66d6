import Foundation
import Testing
@testable import CheckpointCore

/// The shipped example files validate, and every key in them carries a comment with its meaning, unit and range.
@Suite struct ConfigExampleFilesTests {
    typealias F = ConfigFixtures

    static func read(_ relative: String) throws -> String {
        try String(contentsOfFile: F.repo.appendingPathComponent(relative).path, encoding: .utf8)
    }

    /// Keys written in `text` whose comment block above does not state the schema's meaning, unit and allowed values.
    static func undocumentedKeys(in text: String, schema: ConfigTable) -> [String] {
        let lines = text.components(separatedBy: "\n")
        let locator = TOMLKeyLocator(source: text)
        var problems: [String] = []
        for (path, key) in schema.allKeys() {
            guard let line = locator.line(for: path) else { continue }
            var comment: [String] = []
            var i = line - 2
            while i >= 0, lines[i].hasPrefix("#") {
                comment.insert(lines[i], at: 0)
                i -= 1
            }
            let block = comment.joined(separator: "\n")
            let name = TOMLKeyPath.render(path)
            if comment.isEmpty || comment[0].count < 12 { problems.append("\(name): no meaning"); continue }
            if !block.contains("Allowed: \(key.allowedText).") { problems.append("\(name): allowed values not stated") }
            if let unit = key.unit, !block.contains("Unit: \(unit).") { problems.append("\(name): unit not stated") }
        }
        return problems
    }

    @Test func exampleConfigIsValidWhenInstalled() throws {
        let (dir, path) = F.installLayout(config: try Self.read("examples/checkpointd.toml"))
        let c = try ConfigLoader.load(path: path)
        #expect(c.thermal.calibrationPath == dir + "/calibration/gy-mcu90640.toml")
        #expect(c.upload.endpoint.hasPrefix("https://"))
        #expect(URL(string: c.upload.endpoint)?.host?.hasSuffix(".invalid") == true, "a placeholder host never resolves")
        #expect(c.camera.controls.powerLineFrequency == .hz50)
    }

    /// The installed file: documented, valid but for the site settings it leaves unset, and nothing else to set.
    @Test func installedConfigLeavesTheSiteSettingsUnset() throws {
        let text = try Self.read("systemd/checkpointd.toml")
        #expect(Self.undocumentedKeys(in: text, schema: CheckpointConfigSchema.root) == [])
        let locator = TOMLKeyLocator(source: text)
        for key in CheckpointConfigSchema.siteKeys { #expect(locator.line(for: key) == nil, "\(key) is set in the installed file") }
        for key in ["checkpoint_id", "device_id", "endpoint", "50-site.toml"] { #expect(text.contains(key), "the comments name \(key)") }
        let (_, path) = F.installLayout(config: text)
        guard case .failure(let e) = ConfigLoader.result(path: path) else { Issue.record("an unconfigured install loaded"); return }
        #expect(e.notConfigured && e.diagnostics.count == 1)
    }

    @Test func noShippedFileNamesARealHost() throws {
        for file in ["examples/checkpointd.toml", "systemd/checkpointd.toml"] {
            let text = try Self.read(file)
            for line in text.components(separatedBy: "\n") where line.contains("://") && !line.hasPrefix("#") {
                let host = line.components(separatedBy: "://")[1].prefix { $0 != "/" && $0 != "\"" && $0 != ":" }
                #expect(host.hasSuffix(".invalid"), "\(file): \(line)")
            }
        }
    }

    @Test func demoConfigIsValidInTheSourceTree() throws {
        let c = try ConfigLoader.load(path: F.repo.appendingPathComponent("systemd/checkpointd.demo.toml").path)
        #expect(c.camera.source == .replay)
        #expect(c.upload.allowInsecureHTTP)
        #expect(URL(string: c.upload.endpoint)?.host == "127.0.0.1", "demo traffic stays on loopback")
        #expect(c.calibration.sensor.model == c.thermal.model.rawValue)
        #expect(!c.calibration.isExample, "the demo screens")
    }

    @Test(arguments: ["calibration/gy-mcu90640.toml", "calibration/single-point.toml", "Tests/demo/gy-mcu90640.toml"])
    func exampleCalibrationIsValid(_ file: String) throws {
        let cal = try CalibrationFile.load(path: F.repo.appendingPathComponent(file).path)
        #expect(cal.registration.homography.count == 9)
        #expect(cal.isExample == file.hasPrefix("calibration/"), "shipped calibrations are marked examples; the test one is not")
        #expect(Self.undocumentedKeys(in: try Self.read(file), schema: CalibrationFile.schema).isEmpty)
    }

    @Test(arguments: ["examples/checkpointd.toml", "systemd/checkpointd.demo.toml"])
    func everyConfigKeyIsDocumented(_ file: String) throws {
        let text = try Self.read(file)
        #expect(Self.undocumentedKeys(in: text, schema: CheckpointConfigSchema.root) == [])
        // Every key of the schema appears, set or commented out, so the file is the complete reference.
        for (path, _) in CheckpointConfigSchema.root.allKeys() {
            let key = path.last!
            let table = "[" + TOMLKeyPath.render(Array(path.dropLast())) + "]"
            #expect(text.contains(table), "\(file): no \(table)")
            let written = text.components(separatedBy: "\n").contains { $0.hasPrefix("\(key) =") || $0.hasPrefix("# \(key) =") }
            #expect(written, "\(file): \(TOMLKeyPath.render(path)) missing")
        }
    }
}

@Suite struct ConfigReferenceTests {
    @Test func referenceListsEveryKeyOnce() {
        let md = ConfigReference.markdown(schema: CheckpointConfigSchema.root, title: "checkpointd.toml")
        for (path, key) in CheckpointConfigSchema.root.allKeys() {
            let rows = md.components(separatedBy: "\n").filter { $0.hasPrefix("| `\(key.name)` |") }
            #expect(!rows.isEmpty, "\(path) missing")
            #expect(md.contains("### [\(TOMLKeyPath.render(Array(path.dropLast())))]"))
        }
        #expect(md.contains("| `socket_mode` | Permissions of the socket file; write it as octal, e.g. 0o660. | octal mode | 0o000..0o777 | `0o660` |"))
        #expect(md.contains("| `endpoint` | HTTPS URL declarations are POSTed to. |  | https://host[:port]/path (http:// only with allow_insecure_http = true) | **required** |"))
    }
}

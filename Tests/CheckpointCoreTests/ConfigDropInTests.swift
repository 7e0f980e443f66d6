import Foundation
import Testing
@testable import CheckpointCore

/// `<config>.d/*.toml`: site settings applied over the main file in name order; every problem still FILE:LINE of
/// the file that holds it.
@Suite struct ConfigDropInTests {
    typealias F = ConfigFixtures

    /// The installed-like layout with `config` as the main file and the given drop-ins (name → text).
    static func layout(config: String = F.minimal, dropIns: [String: String]) -> (dir: String, config: String) {
        let (dir, path) = F.installLayout(config: config)
        try! FileManager.default.createDirectory(atPath: path + ".d", withIntermediateDirectories: true)
        for (name, text) in dropIns { F.write(text, path + ".d/" + name) }
        return (dir, path)
    }

    @Test func dropInsApplyInNameOrderAndTablesMerge() throws {
        let (_, path) = Self.layout(
            config: F.minimal + "\n[camera]\nfps = 10\nwidth = 320\n",
            dropIns: ["20-b.toml": "[camera]\nwidth = 1024\n", "10-a.toml": "[camera]\nwidth = 800\nheight = 600\n"])
        let c = try ConfigLoader.load(path: path)
        #expect(c.camera.width == 1024, "20-b is applied after 10-a")
        #expect(c.camera.height == 600, "10-a's other keys stay")
        #expect(c.camera.fps == 10, "the main file's keys stay when a drop-in writes the same table")
        #expect(c.files == [path, path + ".d/10-a.toml", path + ".d/20-b.toml"])
    }

    @Test func onlyVisibleTomlFilesAreRead() throws {
        let (_, path) = Self.layout(dropIns: [
            "50-site.toml": "[camera]\nfps = 20\n", "50-site.toml.dpkg-old": "[camera]\nfps = 30\n",
            ".50-site.toml.swp": "garbage [", "README": "not toml [",
        ])
        #expect(try ConfigLoader.load(path: path).camera.fps == 20)
    }

    @Test func siteSettingsInADropInConfigureTheInstalledFile() throws {
        let installed = try String(contentsOfFile: F.repo.appendingPathComponent("systemd/checkpointd.toml").path, encoding: .utf8)
        let (_, path) = Self.layout(config: installed, dropIns: ["50-site.toml": """
            [kiosk]
            checkpoint_id = "tram-01"
            device_id = "kiosk-7"
            [upload]
            endpoint = "https://receiver.example.invalid/v1/records"
            """])
        let c = try ConfigLoader.load(path: path)
        #expect(c.kiosk.deviceID == "kiosk-7")
        #expect(c.thermal.model == .gyMCU90640)
    }

    @Test func eachProblemNamesTheFileAndLineThatHoldIt() throws {
        let site = """
            [camera]
            width = 99999
            fsp = 3
            """
        let (_, path) = Self.layout(config: F.minimal + "\n[screening]\nframes = 0\n", dropIns: ["50-site.toml": site])
        let d = F.diagnostics(path).map(\.description)
        let mainLine = F.line(of: "frames = 0", in: F.minimal + "\n[screening]\nframes = 0\n")
        #expect(d.contains("\(path):\(mainLine): screening.frames: 0 is out of range (allowed: 1..60 frames)"))
        #expect(d.contains("\(path).d/50-site.toml:2: camera.width: 99999 is out of range (allowed: 160..1920 px)"))
        #expect(d.contains { $0.hasPrefix("\(path).d/50-site.toml:3: camera.fsp: unknown key; did you mean \"fps\"?") })
        #expect(d.count == 3)
    }

    @Test func aKeyOverriddenInADropInIsReportedThere() throws {
        let (_, path) = Self.layout(dropIns: ["50-site.toml": "\n\n[upload]\nendpoint = \"ftp://x.invalid/\"\n"])
        #expect(F.diagnostics(path).map(\.description).first?.hasPrefix("\(path).d/50-site.toml:4: upload.endpoint: scheme \"ftp\"") == true)
    }

    @Test func syntaxErrorsInSeveralFilesAreAllReported() {
        let (_, path) = Self.layout(dropIns: ["10-a.toml": "[camera\n", "20-b.toml": "x = = 1\n"])
        let files = F.diagnostics(path).map(\.file)
        #expect(files == [path + ".d/10-a.toml", path + ".d/20-b.toml"])
    }

    @Test func relativePathsStartAtTheDirectoryOfTheFileThatWritesThem() throws {
        let (dir, path) = Self.layout(dropIns: ["50-site.toml": "[queue]\ndatabase = \"q.sqlite\"\n[ui]\ndir = \"../ui\"\n"])
        let c = try ConfigLoader.load(path: path)
        #expect(c.queue.databasePath == path + ".d/q.sqlite")
        #expect(c.ui.dir == dir + "/ui")
        #expect(c.thermal.calibrationPath == dir + "/calibration/gy-mcu90640.toml", "the main file's relative path")
    }

    /// A fresh install (no site settings): one problem, naming every key to set and the drop-in to set it in.
    @Test func anUnconfiguredInstallIsOneClearProblem() throws {
        let installed = try String(contentsOfFile: F.repo.appendingPathComponent("systemd/checkpointd.toml").path, encoding: .utf8)
        let (_, path) = F.installLayout(config: installed)
        guard case .failure(let e) = ConfigLoader.result(path: path) else { Issue.record("an unconfigured install loaded"); return }
        #expect(e.notConfigured)
        #expect(e.diagnostics.map(\.description) == [
            "\(path): not configured: set kiosk.checkpoint_id, kiosk.device_id, upload.endpoint in \(path).d/50-site.toml "
                + "(an example with every key: /usr/share/doc/checkpointd/examples/checkpointd.toml)"
        ])
        // Half-configured: only what is missing is named.
        let (_, half) = Self.layout(config: installed, dropIns: ["50-site.toml": "[kiosk]\ncheckpoint_id = \"a\"\ndevice_id = \"b\"\n"])
        guard case .failure(let e2) = ConfigLoader.result(path: half) else { Issue.record("loaded without an endpoint"); return }
        #expect(e2.diagnostics.map(\.message) == [
            "not configured: set upload.endpoint in \(half).d/50-site.toml (an example with every key: /usr/share/doc/checkpointd/examples/checkpointd.toml)"
        ])
        // With another problem too, every problem is listed as usual, each missing key at its FILE:LINE.
        let (_, broken) = Self.layout(config: installed, dropIns: ["50-site.toml": "[camera]\nfps = 0\n"])
        guard case .failure(let e3) = ConfigLoader.result(path: broken) else { Issue.record("loaded"); return }
        #expect(!e3.notConfigured)
        #expect(Set(e3.diagnostics.map(\.keyPath)) == ["kiosk.checkpoint_id", "kiosk.device_id", "upload.endpoint", "camera.fps"])
    }
}

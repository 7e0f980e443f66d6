import Foundation
import Testing
@testable import CheckpointCore

/// The schema is the one definition of every setting: the daemon's builders read every key it defines and no other,
/// and a reload's restart table is the schema's own flag.
@Suite struct ConfigSingleSourceTests {
    typealias F = ConfigFixtures

    /// Builds the daemon's typed config from the full example with a recorder on every read.
    static func keysReadByTheBuilders() throws -> Set<String> {
        let (_, path) = F.installLayout(config: try String(contentsOfFile: F.repo.appendingPathComponent("examples/checkpointd.toml").path, encoding: .utf8))
        let loaded = try ConfigLoader.load(path: path)
        var resolved = loaded.resolved
        let recorder = KeyReadRecorder()
        resolved.recorder = recorder
        _ = CheckpointConfig(document: loaded.document, resolved: resolved, calibration: loaded.calibration)
        return recorder.read
    }

    @Test func everySchemaKeyIsReadByTheDaemonAndNoOther() throws {
        let schema = Set(CheckpointConfigSchema.root.allKeys().map { TOMLKeyPath.render($0.path) })
        let read = try Self.keysReadByTheBuilders()
        #expect(schema.subtracting(read).sorted() == [], "schema keys the daemon never reads")
        #expect(read.subtracting(schema).sorted() == [], "keys the daemon reads that the schema does not define")
    }

    /// The recorder itself notices a key that is not read, and one that is not in the schema.
    @Test func theRecorderSeesWhatIsReadAndOnlyThat() {
        let recorder = KeyReadRecorder()
        var r = ResolvedTable(path: [], values: [:], tables: ["camera": ResolvedTable(path: ["camera"], values: ["fps": .integer(15)], tables: [:], baseDirectory: "/")], baseDirectory: "/")
        r.recorder = recorder
        _ = r[table: "camera"].int("fps")
        _ = r[table: "camera"].string("no_such_key")
        #expect(recorder.read == ["camera.fps", "camera.no_such_key"])
    }

    @Test func everyDefaultIsTheSchemasAndTheBuilderHasNoOther() throws {
        // A config with only the required keys: every typed value equals the schema's default for it.
        let c = try ConfigLoader.load(path: F.installLayout(config: F.minimal).config)
        func d(_ t: String, _ k: String) -> ConfigValue? { CheckpointConfigSchema.defaultValue(table: t, key: k) }
        #expect(ConfigValue.integer(c.camera.width) == d("camera", "width"))
        #expect(ConfigValue.string(c.camera.device) == d("camera", "device"))
        #expect(ConfigValue.integer(c.snapshot.maxBytes) == d("snapshot", "max_bytes"))
        #expect(ConfigValue.float(c.tracking.maxAsymmetry) == d("tracking", "max_asymmetry"))
        #expect(ConfigValue.float(c.tracking.minSharpness) == d("tracking", "min_sharpness") || ConfigValue.integer(Int(c.tracking.minSharpness)) == d("tracking", "min_sharpness"))
        #expect(ConfigValue.integer(c.api.socketMode) == d("api", "socket_mode"))
        #expect(ConfigValue.integer(c.queue.uploadedRetentionHours) == d("queue", "uploaded_retention_hours"))
    }

    @Test func reloadFlagsComeFromTheSchema() {
        let restart = CheckpointConfigSchema.root.allKeys().filter(\.key.needsRestart).map { TOMLKeyPath.render($0.path) }
        #expect(restart.contains("camera.device") && restart.contains("kiosk.device_id") && restart.contains("thermal.port"))
        let live = CheckpointConfigSchema.root.allKeys().filter { !$0.key.needsRestart }.map { TOMLKeyPath.render($0.path) }
        #expect(live.contains("thermal.calibration") && live.contains("thermal.warmup_minutes") && live.contains("upload.endpoint"))
        #expect(!live.contains { $0.hasPrefix("api.") || $0.hasPrefix("queue.") })
    }

    @Test func printConfigShowsEffectiveValuesTheirOriginAndRedactsSecrets() throws {
        let (_, path) = ConfigDropInTests.layout(dropIns: ["50-site.toml": "[camera]\nwidth = 800\n"])
        let c = try ConfigLoader.load(path: path)
        let text = EffectiveConfig.render(c)
        #expect(text.contains("width = 800  # \(path).d/50-site.toml:2\n"))
        #expect(text.contains("height = 480  # default\n"))
        #expect(text.contains("device_id = \"kiosk-1\"  # \(path):"))
        #expect(text.contains("# replay_path is not set\n"))
        // A secret key's value never appears.
        let schema = ConfigTable("", doc: "", keys: [], tables: [ConfigTable("s", doc: "", keys: [
            ConfigKey("token", .string, .optional, secret: true, doc: "a token"), ConfigKey("name", .string, .optional, doc: "a name"),
        ])])
        guard case .success(let doc) = TOMLDocument.parse("[s]\ntoken = \"hunter2\"\nname = \"n\"\n", file: "/x.toml") else { Issue.record("parse"); return }
        var v = ConfigValidator(document: doc)
        let out = EffectiveConfig.render(schema: schema, resolved: v.validate(schema), document: doc)
        #expect(!out.contains("hunter2"))
        #expect(out.contains("token = \"(redacted)\"  # /x.toml:2"))
        #expect(out.contains("name = \"n\""))
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging

/// sysexits(3) EX_CONFIG: the unit has `RestartPreventExitStatus=78`, so systemd does not restart-loop on it.
let exitConfigError: Int32 = 78

@main
struct Checkpointd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpointd",
        abstract: "Health-checkpoint kiosk daemon: camera, face detection, thermal screening, durable upload.",
        discussion: """
            Reads one TOML config (default \(CheckpointConfigSchema.defaultPath)), then its drop-ins \
            (\(CheckpointConfigSchema.defaultPath).d/*.toml, in name order, each over the ones before), and the calibration \
            file they name. An invalid config is reported as FILE:LINE: key: problem (allowed: …) lines on stderr, exit \
            status 78.
            """,
        version: CheckpointVersion.string
    )

    @Option(name: .long, help: ArgumentHelp("Config file.", valueName: "path"))
    var config: String = CheckpointConfigSchema.defaultPath

    @Flag(
        name: .long,
        help: "Validate the config (PATH, else --config) and its calibration file; exit 0 if valid, 78 if not.")
    var checkConfig = false

    @Argument(help: ArgumentHelp("Config file to check (only with --check-config).", valueName: "PATH"))
    var checkPath: String?

    @Flag(
        name: .long,
        help: "With --check-config: check only the files, not this machine (devices, face model, TLS certificates, socket group).")
    var noEnvironment = false

    @Option(name: .long, help: ArgumentHelp("With --check-config: the user the service runs as (the unit's User=); files and devices are checked for it.", valueName: "user"))
    var serviceUser = ConfigEnvironment.serviceUser

    @Flag(name: .long, help: "Print the effective settings (config, drop-ins and defaults; secrets redacted), each with where it comes from, and exit.")
    var printConfig = false

    @Flag(name: .long, help: "Print the config and calibration key reference (Markdown) and exit.")
    var printReference = false

    /// Internal: the child of `ConfigPreflight` parses PATH and exits (0 unless the parser crashes).
    @Option(name: .customLong("parse-config-only"), help: .hidden)
    var parseConfigOnly: String?

    /// Internal: the child of `ConfigPreflight` parses the one TOML file FILE and exits (0 unless the parser crashes).
    @Option(name: .customLong("parse-toml-only"), help: .hidden)
    var parseTOMLOnly: String?

    func validate() throws {
        if checkPath != nil && !checkConfig {
            throw ValidationError("a PATH argument is only accepted with --check-config; use --config PATH to run")
        }
        if noEnvironment && !checkConfig {
            throw ValidationError("--no-environment is only accepted with --check-config")
        }
    }

    func run() async throws {
        if printReference {
            print(ConfigReference.markdown(schema: CheckpointConfigSchema.root, title: "checkpointd.toml"))
            print(ConfigReference.markdown(schema: CalibrationFile.schema, title: "Calibration files"), terminator: "")
            return
        }
        if let parseConfigOnly {
            _ = ConfigLoader.result(path: parseConfigOnly)
            return
        }
        if let parseTOMLOnly {
            _ = TOMLDocument.load(path: parseTOMLOnly)
            return
        }
        let path = checkPath ?? config
        if let crash = await Self.parserCrash(path: path) {
            FileHandle.standardError.write(Data("\(crash)\ncheckpointd: \(path): 1 problem found\(checkConfig ? "" : "; not starting")\n".utf8))
            throw ExitCode(exitConfigError)
        }
        let loaded = ConfigLoader.result(path: path)
        let config: CheckpointConfig
        switch loaded {
        case .failure(let error) where error.notConfigured:
            // A fresh install: one line saying what to set and where.
            FileHandle.standardError.write(Data("checkpointd: \(error.diagnostics[0].description)\(checkConfig ? "" : "; not starting")\n".utf8))
            throw ExitCode(exitConfigError)
        case .failure(let error):
            for d in error.diagnostics { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
            let n = error.diagnostics.count
            FileHandle.standardError.write(
                Data("checkpointd: \(path): \(n) problem\(n == 1 ? "" : "s") found\(checkConfig ? "" : "; not starting")\n".utf8))
            throw ExitCode(exitConfigError)
        case .success(let c):
            config = c
        }
        if printConfig {
            print(EffectiveConfig.render(config), terminator: "")
            return
        }
        if checkConfig && !noEnvironment {
            // What the file cannot say: this machine's devices, model, certificates and groups (as `vector validate`).
            let findings = ConfigEnvironment.check(config, serviceUser: serviceUser)
            for f in findings { FileHandle.standardError.write(Data((f.description + "\n").utf8)) }
            let problems = findings.filter { !$0.isWarning }.count
            if problems > 0 {
                FileHandle.standardError.write(Data(
                    "checkpointd: \(path): \(problems) problem\(problems == 1 ? "" : "s") found on this machine (--no-environment checks the files only)\n".utf8))
                throw ExitCode(exitConfigError)
            }
        }
        // What the schema cannot know: the system's groups (the daemon cannot give its socket to a missing group).
        if !checkConfig, let problem = Self.socketGroupProblem(config) {
            FileHandle.standardError.write(Data("\(problem)\ncheckpointd: \(path): 1 problem found; not starting\n".utf8))
            throw ExitCode(exitConfigError)
        }
        if checkConfig {
            let dropIns = config.files.dropFirst()
            print("\(path): OK\(dropIns.isEmpty ? "" : " (with \(dropIns.joined(separator: ", ")))") (calibration \(config.thermal.calibrationPath): OK)")
            return
        }
        let level = config.logging.level
        LoggingSystem.bootstrap { label in JournaldLogHandler(label: label, level: level) }
        let logger = Logger(label: "checkpointd")
        logger.notice("checkpointd \(CheckpointVersion.string) (OpenCV \(OpenCVInfo.version)) starting with \(path)")
        do {
            try await Daemon.run(config: config, logger: logger)
        } catch let error as AdapterError where error.code == .open || error.code == .unsupported {
            // A file the config names cannot be used (TLS files, replay directory): a config problem.
            logger.critical("cannot start: \(error)")
            throw ExitCode(exitConfigError)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    /// Parses `path`, its drop-ins and the calibration file they name in a child process first; a message naming
    /// the file if the TOML parser crashed on one (see `ConfigPreflight`), nil otherwise.
    static func parserCrash(path: String) async -> String? {
        let thread = DedicatedThread(name: "ckpt.preflight")
        defer { thread.stop() }
        guard case .parserCrashed(let file, let signal, let detail) = await ConfigPreflight.check(path: path, on: thread) else { return nil }
        return ConfigPreflight.message(file: file, signal: signal, detail: detail)
    }

    /// `FILE:LINE: api.socket_group: …` when the configured socket group does not exist here.
    static func socketGroupProblem(_ config: CheckpointConfig) -> ConfigDiagnostic? {
        guard let group = config.api.socketGroup, (try? SocketPermissions.groupID(group)) == nil else { return nil }
        let at = config.location(of: ["api", "socket_group"])
        return ConfigDiagnostic(file: at.file, line: at.line, keyPath: "api.socket_group",
                                message: "group \"\(group)\" does not exist on this system", allowed: "an existing group (getent group)")
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `--config`: the daemon's own configuration, where every default of the technician's commands comes from (serial
/// port, sensor model and baud, camera, socket, queue database), so nothing has to be typed on a kiosk and the tool
/// looks at exactly what the daemon uses (the main file with its drop-ins, merged as the daemon merges them). An
/// option given on the command line wins.
struct DaemonConfigOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's configuration; the defaults of the other options come from it.",
                                            valueName: "file"))
    var config: String = CheckpointConfigSchema.defaultPath

    /// The configuration, for the defaults of `options` (their names, e.g. "--port", for the message when it
    /// cannot be read). A missing file is a usage problem (give the options); a broken one is a config problem (78).
    func load(forDefaultsOf options: [String]) throws -> CheckpointConfig {
        let names = options.joined(separator: ", ")
        guard FileManager.default.fileExists(atPath: config) else {
            throw ValidationError("give \(names), or --config FILE: there is no daemon configuration at \(config) to take them from")
        }
        if case .parserCrashed(let file, let signal, _) = Self.preflight(config) {
            throw CtlError.config("\(file): not valid TOML: the parser stopped with signal \(signal) on this file; "
                                  + "run checkpointd --check-config \(config)")
        }
        switch ConfigLoader.result(path: config) {
        case .success(let c): return c
        case .failure(let e) where e.notConfigured:
            throw CtlError.config("\(e) (defaults for \(names) come from it; or give them on the command line)")
        case .failure(let e):
            let n = e.diagnostics.count
            throw CtlError.config("\(e)\n\(config): \(n) problem\(n == 1 ? "" : "s") found (defaults for \(names) come from it; "
                                  + "or give them on the command line)")
        }
    }

    /// The TOML library aborts the process on some malformed files (see `ConfigPreflight`): parse first in a child,
    /// the `checkpointd` installed beside this tool. Without it (a tool copied alone), parse in process as before.
    private static func preflight(_ path: String) -> ConfigPreflight.Verdict {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let daemon = ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("checkpointd")
        guard FileManager.default.isExecutableFile(atPath: daemon) else { return .unavailable("no checkpointd beside checkpointctl") }
        return ConfigPreflight.checkBlocking(path: path, executable: daemon)
    }

    /// The daemon's API socket: the configuration's `[api] socket` when it can be read, else the schema's default.
    func socketPath() -> String {
        if let c = try? load(forDefaultsOf: ["--socket"]) { return c.api.socketPath }
        if case .string(let s) = CheckpointConfigSchema.defaultValue(table: "api", key: "socket") { return s }
        return "/run/checkpointd/api.sock"
    }
}

/// `--config` and `--socket`: how the live commands (status, watch, sensor live, camera live) reach the running daemon.
struct DaemonAPIOption: ParsableArguments {
    @OptionGroup var daemon: DaemonConfigOption
    @Option(help: "The daemon's API socket (default: the configuration's [api] socket).") var socket: String?

    func link() -> DaemonLink { DaemonLink(socket: socket ?? daemon.socketPath()) }
}

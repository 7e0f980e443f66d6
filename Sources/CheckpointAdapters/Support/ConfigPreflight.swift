#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation

/// Parses a configuration in a child process before the daemon parses it itself.
///
/// toml++ (inside TOMLKit) stops the whole process with a failed assertion on some malformed files (`t=[}`,
/// `x=2021-11-20T:`; found by fuzzing) instead of reporting a syntax error. A technician's typo must not crash
/// the running daemon on reload, nor make it restart-loop at boot; so the configuration — the main file, each
/// drop-in in `<main>.d/` and the calibration file — is first parsed by a copy of this executable
/// (`--parse-config-only PATH`), and a child that dies takes only itself down. When it dies, each file is then
/// parsed alone in a child of its own, so the message names the file that crashes the parser.
public enum ConfigPreflight {
    public enum Verdict: Sendable, Equatable {
        /// The child parsed it (valid or not: the in-process parse gives the diagnostics).
        case parsed
        /// The parser crashed on `file` (the main file, a drop-in or the calibration file); `detail` is the
        /// child's last stderr line (the assertion).
        case parserCrashed(file: String, signal: Int32, detail: String)
        /// The check could not run (the executable is missing); the caller parses in process as before.
        case unavailable(String)
    }

    /// The hidden flag the child is started with: load the whole configuration at PATH (drop-ins, calibration).
    public static let flag = "--parse-config-only"
    /// The hidden flag of a child that parses one TOML file alone.
    public static let fileFlag = "--parse-toml-only"

    /// Runs `executable --parse-config-only path` and waits for it (blocking: call it off the cooperative pool,
    /// e.g. through `check(path:on:)`); if the parser crashed, finds the file that crashes it.
    public static func checkBlocking(path: String, executable: String = "/proc/self/exe") -> Verdict {
        switch run(executable, [flag, path]) {
        case .cannotStart(let why): return .unavailable(why)
        case .exited: return .parsed
        case .crashed(let signal, let detail):
            for file in ConfigLoader.files(path: path) {
                if case .crashed(let s, let d) = run(executable, [fileFlag, file]) {
                    return .parserCrashed(file: file, signal: s, detail: d)
                }
            }
            // Every config file parses alone, so it is the calibration file they name (now safe to read here).
            let calibration = ConfigLoader.calibrationPath(configPath: path) ?? path
            return .parserCrashed(file: calibration, signal: signal, detail: detail)
        }
    }

    private enum ChildEnd { case exited, crashed(signal: Int32, detail: String), cannotStart(String) }

    /// Runs one child; the signal and last assertion line if it died of a signal.
    private static func run(_ executable: String, _ arguments: [String]) -> ChildEnd {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = nil                 // the child is not the service
        env["SWIFT_BACKTRACE"] = "enable=no"      // a crash is expected here, not a bug report
        process.environment = env
        do { try process.run() } catch { return .cannotStart("cannot start \(executable): \(error)") }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .uncaughtSignal else { return .exited }
        let lines = String(decoding: stderr, as: UTF8.self).split(separator: "\n").map(String.init)
        let detail = lines.last { $0.contains("Assertion") || $0.contains("Fatal error") } ?? lines.last ?? ""
        return .crashed(signal: process.terminationStatus, detail: String(detail.prefix(300)))
    }

    /// `checkBlocking` on a thread of its own.
    public static func check(path: String, on thread: DedicatedThread) async -> Verdict {
        (try? await thread.run { checkBlocking(path: path) }) ?? .unavailable("preflight thread stopped")
    }

    /// The one-line message for a crashed parse.
    public static func message(file: String, signal: Int32, detail: String) -> String {
        "\(file): not valid TOML: the parser stopped with signal \(signal) on this file "
            + "(look for unbalanced brackets or braces, or a malformed date or time)\(detail.isEmpty ? "" : " [\(detail)]")"
    }
}

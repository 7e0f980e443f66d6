#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

/// Parses a config file in a child process before the daemon parses it itself.
///
/// toml++ (inside TOMLKit) stops the whole process with a failed assertion on some malformed files (`t=[}`,
/// `x=2021-11-20T:`; found by fuzzing) instead of reporting a syntax error. A technician's typo must not crash
/// the running daemon on reload, nor make it restart-loop at boot; so the file is first parsed by a copy of this
/// executable (`--parse-config-only PATH`), and a child that dies takes only itself down.
public enum ConfigPreflight {
    public enum Verdict: Sendable, Equatable {
        /// The child parsed it (valid or not: the in-process parse gives the diagnostics).
        case parsed
        /// The parser crashed on the file; `detail` is the child's last stderr line (the assertion).
        case parserCrashed(signal: Int32, detail: String)
        /// The check could not run (the executable is missing); the caller parses in process as before.
        case unavailable(String)
    }

    /// The hidden flag the child is started with.
    public static let flag = "--parse-config-only"

    /// Runs `executable --parse-config-only path` and waits for it (blocking: call it off the cooperative pool,
    /// e.g. through `check(path:on:)`).
    public static func checkBlocking(path: String, executable: String = "/proc/self/exe") -> Verdict {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [flag, path]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = nil                 // the child is not the service
        env["SWIFT_BACKTRACE"] = "enable=no"      // a crash is expected here, not a bug report
        process.environment = env
        do { try process.run() } catch { return .unavailable("cannot start \(executable): \(error)") }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal {
            let lines = String(decoding: stderr, as: UTF8.self).split(separator: "\n").map(String.init)
            let detail = lines.last { $0.contains("Assertion") || $0.contains("Fatal error") } ?? lines.last ?? ""
            return .parserCrashed(signal: process.terminationStatus, detail: String(detail.prefix(300)))
        }
        return .parsed
    }

    /// `checkBlocking` on a thread of its own.
    public static func check(path: String, on thread: DedicatedThread) async -> Verdict {
        (try? await thread.run { checkBlocking(path: path) }) ?? .unavailable("preflight thread stopped")
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// The technician tool's one error type: what went wrong at run time, said in one line, with the exit status a
/// script can act on. Wrong usage stays ArgumentParser's `ValidationError` (usage text, exit 64); nothing that
/// fails at run time prints the usage text.
struct CtlError: Error, CustomStringConvertible {
    enum Kind {
        /// The command was right but the work failed (a device, the daemon, a file): exit 1.
        case runtime
        /// The daemon's configuration or calibration file cannot be used: exit 78 (EX_CONFIG), as checkpointd.
        case config
    }

    var kind: Kind
    var message: String

    static func runtime(_ message: String) -> CtlError { CtlError(kind: .runtime, message: message) }
    static func config(_ message: String) -> CtlError { CtlError(kind: .config, message: message) }

    var exitCode: Int32 { kind == .config ? 78 : 1 }
    var description: String { message }

    /// Any error a command let through, as the tool reports it: ours as they are, the layers' (`AdapterError`,
    /// `CoreError`, `ConfigError`) as run-time or config failures with their own text; nil for ArgumentParser's own
    /// (usage, help, `ExitCode`), which ArgumentParser reports itself.
    static func from(_ error: any Error) -> CtlError? {
        switch error {
        case let e as CtlError: return e
        case let e as AdapterError: return .runtime(e.description)
        case let e as ConfigError: return .config(e.description)
        case let e as CoreError: return e.code == .invalidConfig || e.code == .invalidCalibration ? .config(e.description) : .runtime(e.description)
        default: return nil
        }
    }
}

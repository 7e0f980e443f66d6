import ArgumentParser
import CheckpointCore
import Foundation
import Logging

/// The technician CLI. Each subcommand lives in Commands/ and drives the same adapters the daemon runs.
///
/// Exit status: 0 success; 1 a run-time failure, said in one line (never the usage text); 64 wrong usage (with the
/// usage text); 78 the daemon's configuration or a calibration file cannot be used.
@main
struct CheckpointCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpointctl",
        abstract: "Technician tool for checkpointd kiosks: sensors, calibration, camera, faces, QR codes, queue.",
        discussion: "Defaults (serial port, sensor, camera, socket, queue) come from the daemon's configuration (--config). "
            + "Exit status: 0 ok, 1 failed (one line on stderr), 64 wrong usage, 78 unusable configuration.",
        version: CheckpointVersion.string,
        subcommands: [
            StatusCommand.self, WatchCommand.self, SensorCommand.self, CalibrateCommand.self, SimulateCommand.self,
            DetectCommand.self, QRCommand.self, CameraCommand.self, QueueCommand.self, ModelCommand.self,
        ]
    )

    static func main() async {
        // The adapters log as in the daemon; here only warnings and worse reach the technician (on stderr), so the
        // libraries' info lines never interleave with a command's output or a calibration's prompts.
        // CHECKPOINT_LOG_LEVEL=debug|info|… shows more.
        let level = ProcessInfo.processInfo.environment["CHECKPOINT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard let failure = CtlError.from(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data("checkpointctl: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        }
    }
}

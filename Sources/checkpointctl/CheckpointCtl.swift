import ArgumentParser
import CheckpointCore

/// The technician CLI. Each subcommand lives in Commands/ and drives the same adapters the daemon runs.
@main
struct CheckpointCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpointctl",
        abstract: "Technician tool for checkpointd kiosks: sensors, calibration, camera, faces, QR codes, queue.",
        version: CheckpointVersion.string,
        subcommands: [
            SensorCommand.self, CalibrateCommand.self, SimulateCommand.self,
            DetectCommand.self, QRCommand.self, CameraCommand.self, QueueCommand.self, StatusCommand.self,
        ]
    )
}

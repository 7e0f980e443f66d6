import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "calibrate", abstract: "Calibrate the thermal sensor and the camera-to-thermal registration.")
}

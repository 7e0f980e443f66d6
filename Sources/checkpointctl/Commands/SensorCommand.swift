import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct SensorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sensor", abstract: "Read a thermal sensor's raw frames.")
}

import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct CameraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "camera", abstract: "List cameras, take snapshots, record frames for replay.")
}

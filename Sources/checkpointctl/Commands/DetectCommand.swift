import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct DetectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect", abstract: "Detect faces in image files.")
}

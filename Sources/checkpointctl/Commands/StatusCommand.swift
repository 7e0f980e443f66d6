import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the running daemon's health.")
}

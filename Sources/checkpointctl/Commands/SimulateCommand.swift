import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "Simulate hardware on pseudo-terminals.")
}

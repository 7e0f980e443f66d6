import ArgumentParser

// Placeholder until this command's capability lands; replaced by its owner.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Inspect and manage the durable upload queue.")
}

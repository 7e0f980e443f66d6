import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl status`: asks the running daemon for /healthz over its API socket and prints it for a person.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the running daemon's health.")

    @Option(help: "The daemon's API socket.") var socket = "/run/checkpointd/api.sock"
    @Flag(help: "Print the raw JSON.") var json = false

    func run() async throws {
        let response: LocalHTTPClient.Response
        do {
            response = try LocalHTTPClient.request(url: "http://localhost/healthz", socketPath: socket, timeout: .seconds(5))
        } catch {
            throw ValidationError("cannot reach checkpointd at \(socket): \(error). Is the daemon running (systemctl status checkpointd)?")
        }
        if json {
            print(String(decoding: response.body, as: UTF8.self))
            return
        }
        guard response.status == 200,
              let fields = try? JSONDecoder().decode([String: String].self, from: response.body) else {
            throw ValidationError("checkpointd answered HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        let width = (fields.keys.map(\.count).max() ?? 0) + 2
        print("checkpointd: \(fields["status"] ?? "unknown")")
        for key in fields.keys.sorted() where key != "status" {
            print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + (fields[key] ?? ""))
        }
        if fields["status"] != "ok" { throw ExitCode(1) }
    }
}

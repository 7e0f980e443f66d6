import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl status`: asks the running daemon for /healthz over its API socket and prints it for a person.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the running daemon's health (exit 1 when it is not running or not healthy).")

    @OptionGroup var daemon: DaemonAPIOption
    @Flag(help: "One JSON object: the daemon's health fields.") var json = false

    func run() async throws {
        let health = try await daemon.link().health()
        if json {
            print(try JSONOutput.line(health))
        } else {
            let width = (health.keys.map(\.count).max() ?? 0) + 2
            print("checkpointd: \(health["status"] ?? "unknown")")
            for key in health.keys.sorted() where key != "status" {
                print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + (health[key] ?? ""))
            }
        }
        if health["status"] != "ok" { throw ExitCode(1) }
    }
}

/// The running daemon, over its local API socket. Each request runs on a thread of its own (the socket calls block).
struct DaemonLink {
    let socket: String

    func get(_ path: String, timeout: Duration = .seconds(5)) async throws -> LocalHTTPClient.Response {
        let socket = socket
        let thread = DedicatedThread(name: "ckpt.ctl.http")
        defer { thread.stop() }
        do {
            return try await thread.run { try LocalHTTPClient.request(url: "http://localhost\(path)", socketPath: socket, timeout: timeout) }
        } catch {
            throw CtlError.runtime("cannot reach checkpointd at \(socket) (\(Self.reason(error))); is it running? "
                                   + "systemctl status checkpointd")
        }
    }

    /// /healthz's fields; a daemon that answers with something else is a failure named by its HTTP status only
    /// (response bodies are never printed: they are the daemon's, not the technician's).
    func health() async throws -> [String: String] {
        let response = try await get("/healthz")
        guard let fields = try? JSONDecoder().decode([String: String].self, from: response.body) else {
            throw CtlError.runtime("checkpointd at \(socket) answered /healthz with HTTP \(response.status) and no health fields")
        }
        return fields
    }

    /// What the screen shows now (GET /v1/screening).
    func screening() async throws -> ScreeningView {
        let response = try await get("/v1/screening")
        guard response.status == 200 else {
            throw CtlError.runtime("checkpointd at \(socket) answered /v1/screening with HTTP \(response.status)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(ScreeningView.self, from: response.body)
        } catch {
            throw CtlError.runtime("checkpointd at \(socket) answered /v1/screening with a view this checkpointctl cannot read (\(error))")
        }
    }

    /// The newest thermal frame as the daemon sees it (GET /v1/thermal); nil while it has none.
    func thermal() async throws -> ThermalLiveView? {
        let response = try await get("/v1/thermal")
        if response.status == 503 { return nil }
        guard response.status == 200 else {
            throw CtlError.runtime("checkpointd at \(socket) answered /v1/thermal with HTTP \(response.status)")
        }
        do {
            return try JSONDecoder().decode(ThermalLiveView.self, from: response.body)
        } catch {
            throw CtlError.runtime("checkpointd at \(socket) answered /v1/thermal with a view this checkpointctl cannot read (\(error))")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let e = error as? AdapterError {
            switch e.cause {
            case .errno(let n)?: return String(cString: strerror(n))
            case .curl(_, let text)?: return text
            default: return e.message
            }
        }
        return "\(error)"
    }
}

/// JSON output of every reporting command: built by an encoder, one object per line, keys sorted (stable for scripts).
enum JSONOutput {
    static func line(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl watch`: the running kiosk as the technician needs to see it, without stopping anything — what
/// the screen shows (state, readiness reasons, distance, progress, the last results) and the daemon's health (sensor,
/// camera, queue), refreshed in place on a terminal, or one JSON object per change with `--json`.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Live view of a running kiosk: readiness reasons, distance, progress, results, sensor, camera and queue.",
        discussion: """
            Asks the daemon over its API socket; nothing is stopped or opened. On a terminal the view is redrawn in \
            place; piped, or with --json, one line per change. No personal data is shown (results carry no declaration).
            """)

    @OptionGroup var daemon: DaemonAPIOption
    @Flag(help: "One JSON object per change, one per line.") var json = false
    @Option(help: "Seconds between looks.") var interval = 0.5
    @Option(help: "Stop after this many updates (default: until interrupted).") var count: Int?
    @Option(help: "Stop after this many seconds (default: until interrupted).") var seconds: Double?

    func validate() throws {
        guard interval >= 0.05, interval <= 60 else { throw ValidationError("--interval must be in 0.05…60 seconds, got \(interval)") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let seconds, seconds <= 0 { throw ValidationError("--seconds must be positive") }
    }

    /// One update: what changed is what a technician looks at.
    struct Update: Encodable, Equatable {
        var state: String
        var faces: Int
        var reasons: [String]
        var distanceM: Double?
        var progress: ScreeningView.Progress?
        var sensorAvailable: Bool
        var warmUpRemainingSeconds: Double?
        var result: String?
        var temperatureC: Double?
        var screeningId: String?
        var health: [String: String]
        var lastResults: [String]
        /// The sensor's own temperature and the face's eye band on the newest thermal frame.
        var sensorAmbientC: Double?
        var faceThermalPixels: Int?
        var faceBandPixels: Int?
        var faceRawC: Double?
        var faceCorrectedC: Double?
        var faceThermalProblem: String?
    }

    func run() async throws {
        let link = daemon.link()
        let terminal = !json && isatty(STDOUT_FILENO) == 1
        let style = TerminalStyle(enabled: terminal)
        let deadline = seconds.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
        var previous: Update?
        var printed = 0
        var results: [String] = []
        var lastResultId: String?
        var drawnLines = 0
        while true {
            let view = try await link.screening()
            let health = try await link.health().filter { !$0.key.hasPrefix("version") }
            if view.state == .result, let id = view.screeningId, id != lastResultId, let s = view.screening {
                lastResultId = id
                let t = s.correctedTemperatureC.map { String(format: " %.1f °C", $0) } ?? ""
                results.append("\(Self.clock()) \(s.result.rawValue)\(t)")
                results = Array(results.suffix(5))
            }
            let thermal = try await link.thermal()
            let update = Update(state: view.state.rawValue, faces: view.faces, reasons: view.reasons, distanceM: view.distanceM,
                                progress: view.progress, sensorAvailable: view.sensor.available,
                                warmUpRemainingSeconds: view.sensor.warmUpRemainingSeconds,
                                result: view.screening?.result.rawValue, temperatureC: view.screening?.correctedTemperatureC.map { ($0 * 100).rounded() / 100 },
                                screeningId: view.screeningId, health: health, lastResults: results,
                                sensorAmbientC: thermal?.ambientC, faceThermalPixels: thermal?.face?.facePixels,
                                faceBandPixels: thermal?.face?.bandPixels, faceRawC: thermal?.face?.statisticRawC,
                                faceCorrectedC: thermal?.face?.stages.map { ($0.correctedC * 100).rounded() / 100 },
                                faceThermalProblem: thermal?.face?.problem)
            if update != previous {
                previous = update
                if json {
                    print(try JSONOutput.line(update))
                } else if terminal {
                    if drawnLines > 0 { print("\u{1B}[\(drawnLines)A\u{1B}[J", terminator: "") }
                    let lines = Self.render(update, style: style)
                    print(lines.joined(separator: "\n"))
                    drawnLines = lines.count
                } else {
                    print(Self.render(update, style: style).prefix(2).joined(separator: "  |  "))
                }
                fflush(stdout)
                printed += 1
                if let count, printed >= count { return }
            }
            if let deadline, ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    static func render(_ u: Update, style: TerminalStyle) -> [String] {
        var head = "state \(style.bold(u.state))  faces \(u.faces)"
        if let d = u.distanceM { head += String(format: "  distance %.2f m", d) }
        if let p = u.progress { head += "  measuring \(p.frames)/\(p.needed)" }
        if let r = u.result {
            let t = u.temperatureC.map { String(format: " %.1f °C", $0) } ?? ""
            head += "  result " + (r == "elevated" ? style.alert(r + t) : r + t)
        }
        var lines = [head, "reasons " + (u.reasons.isEmpty ? "-" : u.reasons.joined(separator: ", "))]
        var sensor = "sensor " + (u.sensorAvailable ? "available" : style.alert("unavailable"))
        if let w = u.warmUpRemainingSeconds { sensor += String(format: " (warming up, %.0f s left)", w) }
        if let a = u.sensorAmbientC { sensor += String(format: "  ambient %.2f °C", a) }
        if let px = u.faceThermalPixels {
            sensor += "  face \(px) px, eye band \(u.faceBandPixels ?? 0) px"
            if let raw = u.faceRawC, let c = u.faceCorrectedC { sensor += String(format: ", raw %.2f → %.2f °C", raw, c) }
            if let p = u.faceThermalProblem { sensor += " (\(p))" }
        }
        lines.append(sensor)
        let health = u.health.keys.sorted().map { "\($0)=\(u.health[$0] ?? "")" }
        lines.append("health " + health.joined(separator: " "))
        lines.append("last results " + (u.lastResults.isEmpty ? "-" : u.lastResults.joined(separator: "; ")))
        return lines
    }

    static func clock() -> String {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        return f.string(from: Date())
    }
}

/// Bold and colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
struct TerminalStyle {
    let enabled: Bool
    init(enabled: Bool) {
        self.enabled = enabled && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    }
    func bold(_ s: String) -> String { enabled ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    func alert(_ s: String) -> String { enabled ? "\u{1B}[1;31m\(s)\u{1B}[0m" : s }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl sensor read|save`: the sensor's own readings and counters, before any calibration.
struct SensorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensor", abstract: "Read a thermal sensor's raw frames.", subcommands: [Read.self, Live.self, Save.self])

    struct Connection: ParsableArguments {
        @OptionGroup var daemon: DaemonConfigOption
        @Option(help: "Serial port; prefer /dev/serial/by-id/… (default: the configuration's [thermal] port).") var port: String?
        @Option(help: "Sensor model: gy-mcu90640, single-point-5a5a or ascii-line (default: the configuration's).") var model: String?
        @Option(help: "Baud rate (9600, 115200, 460800) or 'auto', confirmed by 2 checksum-valid frames (default: the configuration's).")
        var baud: String?
        @Option(name: .customLong("rate-hz"), help: "Frame rate to request (GY-MCU90640: 0.5, 1, 2, 4; 8 needs 460800 baud).") var rateHz: Double?
        @Option(help: "Emissivity to set and read back (0.01…1); 'none' leaves the sensor's own (default: the calibration's, else 0.98).")
        var emissivity: String?
        @Option(help: "ascii-line only: regex with named groups (?<object>…) and (?<ambient>…).") var pattern: String?

        /// The link as given on the command line, every option not given taken from the daemon's configuration (the
        /// port, model, baud, rate and the calibration's emissivity the daemon itself uses).
        func linkConfig() throws -> SensorLinkConfig {
            var c: SensorLinkConfig
            if port == nil || model == nil {
                let missing = [port == nil ? "--port" : nil, model == nil ? "--model" : nil].compactMap { $0 }
                c = try SensorLinkConfig(try daemon.load(forDefaultsOf: missing))
                if let port { c.path = port }
                if let model { c = SensorLinkConfig(path: c.path, model: try ThermalModel(name: model, linePattern: pattern), emissivity: c.emissivity) }
            } else {
                c = SensorLinkConfig(path: port!, model: try ThermalModel(name: model!, linePattern: pattern))
            }
            if let baud {
                if baud == "auto" {
                    c.baud = nil
                } else {
                    guard let v = Int(baud), [9600, 115_200, 460_800].contains(v) else {
                        throw ValidationError("--baud must be 9600, 115200, 460800 or auto, not '\(baud)'")
                    }
                    c.baud = v
                }
            }
            if let rateHz { c.rateHz = rateHz }
            if let emissivity {
                if emissivity == "none" {
                    c.emissivity = nil
                } else {
                    guard let v = Double(emissivity), v > 0, v <= 1 else {
                        throw ValidationError("--emissivity must be within (0, 1] or 'none', not '\(emissivity)'")
                    }
                    c.emissivity = v
                }
            }
            if case .asciiLine = c.model { c.emissivity = nil }
            try Self.checkNotHeld(c.path)
            return c
        }

        /// The running daemon holds its sensor's port (flock + TIOCEXCL); a hardware command then says so at once
        /// instead of retrying for ever, and says what to do instead.
        static func checkNotHeld(_ path: String) throws {
            do {
                let probe = try SerialPort(path: path, baud: 115_200)
                probe.close()
            } catch where error.code == .busy || error.cause == .errno(EBUSY) {
                throw CtlError.runtime("\(path) is in use, most likely by checkpointd, which holds the sensor while it runs: "
                                       + "watch the live kiosk with 'checkpointctl watch', or stop it first (systemctl stop checkpointd)")
            } catch {
                // Anything else (absent, unplugged) is the link's to report and recover from, as in the daemon.
            }
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read", abstract: "Print one line per frame: min, max, mean, ambient and the driver's counters (sensor values, before calibration).")

        @OptionGroup var connection: Connection
        @Option(help: "Stop after this many frames (default: until interrupted).") var count: Int?
        @Flag(help: "One JSON object per frame, one per line.") var json = false
        @Option(help: "Give up (exit 1) if no frame arrives for this many seconds.") var timeout: Double?

        func run() async throws {
            let config = try connection.linkConfig()
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
            let link = ThermalSensorLink(config: config)
            let stream = link.start()
            defer { link.stop() }
            let timeoutNanos = timeout.map { UInt64($0 * 1e9) }
            let result: Int32 = await withTaskGroup(of: Int32.self) { group in
                group.addTask {
                    var printed = 0
                    for await event in stream {
                        switch event {
                        case .frame(let f, let c):
                            FileHandle.standardOutput.write(Data(((json ? Self.json(f, c) : Self.line(f, c)) + "\n").utf8))
                            printed += 1
                            if let count, printed >= count { return 0 }
                        case .status(let s):
                            FileHandle.standardError.write(Data("sensor: \(s)\n".utf8))
                        case .emissivity(let e):
                            FileHandle.standardError.write(Data("sensor: emissivity read back \(e)\n".utf8))
                        }
                    }
                    return 1
                }
                if let timeoutNanos {
                    group.addTask {
                        // Exits 1 if frames stop for --timeout seconds; progress is observed through the link's counters.
                        var seen = link.counters.framesOK
                        var last = monotonicNanos()
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(100))
                            let now = link.counters.framesOK
                            if now != seen { seen = now; last = monotonicNanos() }
                            if monotonicNanos() - last > timeoutNanos {
                                FileHandle.standardError.write(Data("sensor: no frame for \(timeout!) s on \(config.path)\n".utf8))
                                return 1
                            }
                        }
                        return 0
                    }
                }
                let first = await group.next() ?? 1
                group.cancelAll()
                return first
            }
            link.stop()
            if result != 0 { throw ExitCode(result) }
        }

        static func f2(_ v: Double) -> String { String(format: "%.2f", v) }

        static func line(_ f: ThermalFrame, _ c: ThermalCounters) -> String {
            "frame \(f.sequence)  min \(f2(f.minC))  max \(f2(f.maxC))  mean \(f2(f.meanC))  ambient \(f2(f.ambientC)) °C  "
                + "ok \(c.framesOK) bad_checksum \(c.badChecksum) resyncs \(c.resyncs) dropped \(c.bytesDropped) timeouts \(c.timeouts)"
        }

        /// One frame for scripts (keys as before: sequence, width, height, ambient_c, min_c, max_c, mean_c and the
        /// driver's counters), written by an encoder; temperatures rounded to 0.01 °C.
        struct FrameLine: Encodable {
            var sequence: UInt64, width: Int, height: Int
            var ambient_c: Double, min_c: Double, max_c: Double, mean_c: Double
            var frames_ok: UInt64, bad_checksum: UInt64, resyncs: UInt64, bytes_dropped: UInt64, timeouts: UInt64
        }

        static func json(_ f: ThermalFrame, _ c: ThermalCounters) -> String {
            let r = { (v: Double) in (v * 100).rounded() / 100 }
            let line = FrameLine(sequence: f.sequence, width: f.width, height: f.height, ambient_c: r(f.ambientC), min_c: r(f.minC),
                                 max_c: r(f.maxC), mean_c: r(f.meanC), frames_ok: c.framesOK, bad_checksum: c.badChecksum,
                                 resyncs: c.resyncs, bytes_dropped: c.bytesDropped, timeouts: c.timeouts)
            return (try? JSONOutput.line(line)) ?? "{}"
        }
    }

    /// The sensor as the running daemon sees it, through its API: nothing is stopped, the port stays the daemon's.
    struct Live: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "live",
            abstract: "The running daemon's newest thermal frame (raw and calibrated) with the face's eye band on it; the service keeps running.")

        @OptionGroup var daemon: DaemonAPIOption
        @Option(help: "Frames to show (default 1).") var count = 1
        @Option(help: "Seconds between frames.") var interval = 0.5
        @Flag(help: "One JSON object per frame (every pixel raw and calibrated, the face's figures).") var json = false

        func validate() throws {
            guard count >= 1 else { throw ValidationError("--count must be at least 1") }
            guard interval >= 0.05 else { throw ValidationError("--interval must be at least 0.05 s") }
        }

        func run() async throws {
            let link = daemon.link()
            var shown = 0
            var lastSequence: UInt64?
            let deadline = ContinuousClock.now + .seconds(30 + Double(count) * interval * 4)
            while shown < count {
                guard let live = try await link.thermal() else {
                    if ContinuousClock.now > deadline { throw CtlError.runtime("checkpointd has no thermal frame: see 'checkpointctl status' (stage.thermal)") }
                    try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                    continue
                }
                if live.sequence != lastSequence {
                    lastSequence = live.sequence
                    if json { print(try JSONOutput.line(live)) } else { Self.render(live).forEach { print($0) } }
                    shown += 1
                }
                if shown < count { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            }
        }

        /// A text map of the calibrated frame (cold `.` to hot `@`), the face's box as `[` `]` and its figures.
        static func render(_ v: ThermalLiveView) -> [String] {
            let f2 = Read.f2
            let values = v.calibratedC
            let lo = values.min() ?? 0, hi = values.max() ?? 1
            var lines = ["frame \(v.sequence)  \(v.width)×\(v.height)  ambient \(f2(v.ambientC)) °C  min \(f2(lo))  max \(f2(hi)) °C "
                         + "(calibrated, \(v.calibrationId))  age \(f2(v.ageSeconds)) s"]
            // The face box's first and last thermal columns and rows (pixel centres inside it).
            let cols = v.face.map { b in (Int((b.thermalBox[0] - 0.5).rounded(.up)), Int((b.thermalBox[0] + b.thermalBox[2] - 0.5).rounded(.up)) - 1) }
            let rows = v.face.map { b in (Int((b.thermalBox[1] - 0.5).rounded(.up)), Int((b.thermalBox[1] + b.thermalBox[3] - 0.5).rounded(.up)) - 1) }
            if v.width > 1 {
                lines += ThermalMap.lines(values, width: v.width, height: v.height) { x, y -> Character? in
                    guard let cols, let rows, y >= rows.0, y <= rows.1 else { return nil }
                    return x == cols.0 ? "[" : x == cols.1 ? "]" : nil
                }.map { "  " + $0 }
            }
            if let f = v.face {
                var line = "face at \(f2(f.distanceM)) m: \(f.facePixels) thermal px, eye band \(f.bandPixels) px"
                if let raw = f.statisticRawC, let s = f.stages {
                    line += ", raw \(f2(raw)) → fitted \(f2(s.fittedC)) + ambient \(f2(s.ambientTermC)) + distance \(f2(s.distanceTermC)) "
                        + "+ skin-to-body \(f2(s.skinToBodyC)) = \(f2(s.correctedC)) °C"
                }
                if let p = f.problem { line += " (\(p))" }
                lines.append(line)
            } else {
                lines.append("no face in view")
            }
            return lines
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "save",
            abstract: "Persist the sensor's current settings (baud, rate, mode, emissivity) to its flash. Only on this explicit command.")

        @OptionGroup var connection: Connection

        func run() async throws {
            let config = try connection.linkConfig()
            guard let save = try config.model.makeDriver().saveCommand() else {
                throw CtlError.runtime("\(config.model) has no flash-save command")
            }
            let link = ThermalSensorLink(config: config)
            let stream = link.start()
            for await event in stream {
                if case .frame = event {
                    link.send(save)
                    try await Task.sleep(for: .milliseconds(300))
                    link.stop()
                    print("sent flash save \(save.map { String(format: "%02X", $0) }.joined(separator: " ")) to \(config.path)")
                    return
                }
                if case .status(let s) = event { FileHandle.standardError.write(Data("sensor: \(s)\n".utf8)) }
            }
            throw ExitCode(1)
        }
    }
}

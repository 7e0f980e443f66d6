import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import CheckpointSimulators
import Foundation
import Logging

/// `checkpointctl simulate sensor …`: a thermal sensor on a pseudo-terminal; `simulate bench`: in-process figures.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate", abstract: "Simulate hardware on pseudo-terminals.",
        subcommands: [Sensor.self, Bench.self])

    struct Sensor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sensor",
            abstract: "Serve a simulated thermal sensor on a PTY; prints the path on the first line of stdout, runs until killed.",
            discussion: """
                Lines on stdin change the scene while it runs: `face 37.8`, `ambient 26`, `blackbody 40`, `blackbody off`,
                `noface`, `stall`, `resume`, `hangup` (unplug and replug: a new PTY behind the same --link), `target X Y C [R]`
                (a heated disc of R thermal pixels, default 1.3, centred at continuous thermal position X,Y, at C °C: the
                registration target) and `target off`.
                """)

        @Option(help: "Sensor model: gy-mcu90640 or single-point-5a5a.") var model = "gy-mcu90640"
        @Option(name: .customLong("face-c"), help: "True eye-band temperature of the simulated face, °C.") var faceC = 36.6
        @Option(name: .customLong("ambient-c"), help: "Scene ambient temperature, °C.") var ambientC = 25.0
        @Option(name: .customLong("rate-hz"), help: "Frames per second (the sensor's rate command changes it).") var rateHz = 4.0
        @Option(name: .customLong("fault"), parsing: .upToNextOption, help: "Faults to inject: split, badsum, garbage, stall, stall-until-init (repeatable, or comma-separated).")
        var faults: [String] = []
        @Option(help: "Keep a stable symlink at this path to the current PTY (like /dev/serial/by-id/…).") var link: String?
        @Option(name: .customLong("blackbody-c"), help: "Put an in-scene blackbody at this temperature in region [27,19,3,3].") var blackbodyC: Double?
        @Option(name: .customLong("error-gain"), help: "The simulated sensor's gain error: raw = gain·true + offset + noise.") var errorGain = 1.0
        @Option(name: .customLong("error-offset"), help: "The simulated sensor's offset error, °C.") var errorOffset = 0.0
        @Option(name: .customLong("noise-c"), help: "Per-pixel Gaussian noise, °C (standard deviation).") var noiseC = 0.05
        @Option(name: .customLong("stall-after"), help: "Frames sent before a stall fault starts.") var stallAfter = 8
        @Option(help: "Seed for noise and faults.") var seed: UInt64 = 0x5EED
        @Flag(name: .customLong("no-face"), help: "Start with an empty scene.") var noFace = false

        func run() async throws {
            var config = SimulatorConfig()
            config.model = try ThermalModel(name: model)
            config.faceC = faceC
            config.ambientC = ambientC
            config.rateHz = rateHz
            for name in faults.flatMap({ $0.split(separator: ",").map(String.init) }) {
                guard let f = SimulatorFault(rawValue: name) else {
                    throw ValidationError("unknown fault '\(name)'; use \(SimulatorFault.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.faults.insert(f)
            }
            config.linkPath = link
            config.blackbodyC = blackbodyC
            config.errorGain = errorGain
            config.errorOffset = errorOffset
            config.noiseC = noiseC
            config.stallAfterFrames = stallAfter
            config.seed = seed
            config.facePresent = !noFace
            let sim = try ThermalSensorSimulator(config: config)
            sim.start()
            FileHandle.standardOutput.write(Data((sim.path + "\n").utf8))
            FileHandle.standardError.write(Data("simulating \(model) on \(sim.devicePath) at \(rateHz) Hz, face \(faceC) °C, ambient \(ambientC) °C\n".utf8))
            let reader = Thread {
                while let line = readLine() {
                    let words = line.split(separator: " ").map(String.init)
                    guard let verb = words.first else { continue }
                    let value = words.count > 1 ? Double(words[1]) : nil
                    switch (verb, value) {
                    case ("face", let v?): sim.set(faceC: v); sim.set(facePresent: true)
                    case ("ambient", let v?): sim.set(ambientC: v)
                    case ("blackbody", let v?): sim.set(blackbodyC: v)
                    case ("blackbody", nil) where words.count > 1 && words[1] == "off": sim.set(blackbodyC: nil)
                    case ("noface", _): sim.set(facePresent: false)
                    case ("target", _) where words.count == 2 && words[1] == "off": sim.set(target: nil)
                    case ("target", _) where (4...5).contains(words.count) && words.dropFirst().allSatisfy({ Double($0)?.isFinite == true }):
                        let v = words.dropFirst().map { Double($0)! }
                        sim.set(target: SimulatedHeatedTarget(x: v[0], y: v[1], radius: v.count == 4 ? v[3] : 1.3, c: v[2]))
                    case ("stall", _): sim.setStalled(true)
                    case ("resume", _): sim.setStalled(false)
                    case ("hangup", _): sim.hangUp()
                    default:
                        FileHandle.standardError.write(Data("simulate: ignoring '\(line)'\n".utf8))
                        continue
                    }
                    FileHandle.standardError.write(Data("simulate: \(line)\n".utf8))
                }
            }
            reader.start()
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench", abstract: "Measure thermal parse throughput and frame-to-screening latency in process (markdown rows).")

        @Option(help: "Frames to parse.") var frames = 3000

        func run() async throws {
            let w = GYMCU90640Driver.width, h = GYMCU90640Driver.height
            var rng = SplitMix64(seed: 1)
            func scene(_ face: Double) -> [Float] {
                (0..<(w * h)).map { i in
                    let x = i % w, y = i / w
                    let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
                    let base = dx * dx + dy * dy <= 1 ? ((8...10).contains(y) ? face : face - 1) : 25
                    return Float(base + Double.random(in: -0.05...0.05, using: &rng))
                }
            }
            let distinct = (0..<16).map { GYMCU90640Driver.encode(pixels: scene(36 + Double($0) * 0.1), ambientC: 30) }
            var stream: [UInt8] = []
            stream.reserveCapacity(frames * GYMCU90640Driver.frameLength)
            for i in 0..<frames { stream += distinct[i % distinct.count] }

            // 1. Parse throughput, 4 KiB reads (what the serial loop hands the driver).
            var driver = GYMCU90640Driver()
            var parsed = 0
            let t0 = monotonicNanos()
            stream.withUnsafeBufferPointer { buf in
                var i = 0
                while i < buf.count {
                    let n = min(4096, buf.count - i)
                    parsed += driver.feed(UnsafeBufferPointer(rebasing: buf[i..<(i + n)]), at: 0).count
                    i += n
                }
            }
            let parseSeconds = Double(monotonicNanos() - t0) / 1e9
            guard parsed == frames else { throw CtlError.runtime("bench parsed \(parsed) of \(frames) frames") }

            // 2. Same with garbage between frames (resync cost).
            var noisy: [UInt8] = []
            for i in 0..<(frames / 4) {
                noisy += (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
                noisy += distinct[i % distinct.count]
            }
            var d2 = GYMCU90640Driver()
            let t1 = monotonicNanos()
            let noisyParsed = noisy.withUnsafeBufferPointer { d2.feed($0, at: 0).count }
            let noisySeconds = Double(monotonicNanos() - t1) / 1e9

            // 3. Latency: last byte of a frame → updated screening (driver + quality + registration + statistic + aggregation).
            var config = ScreeningConfig()
            config.warmUpSeconds = 0
            config.framesPerResult = 5
            var d3 = GYMCU90640Driver()
            var quiet = Logger(label: "bench")
            quiet.logLevel = .critical  // measure the maths, not the terminal
            var engine = ScreeningEngine(config: config, calibration: .uncalibrated,
                                         registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                         sensor: SensorIdentity(model: "gy-mcu90640", serial: "bench"), logger: quiet)
            _ = d3.feed(distinct[0], at: monotonicNanos()).map { e in if case .frame(let f) = e { _ = engine.thermal(f, nowNanos: f.monotonicNanos) } }
            let face = FaceObservation(box: PixelRect(x: 200, y: 90, width: 240, height: 320), cameraWidth: 640, cameraHeight: 480, distanceM: 0.5)
            var latencies: [Double] = []
            var results = 0
            let rounds = min(frames, 1000)
            for i in 0..<rounds {
                let bytes = distinct[i % distinct.count]
                _ = d3.feed(Array(bytes[0..<(bytes.count - 64)]), at: 0)
                let tail = Array(bytes[(bytes.count - 64)...])
                let now = monotonicNanos()
                _ = engine.faces(FacesInView(sessionID: UInt64(i / 5), faceCount: 1, face: face, monotonicNanos: now))
                let start = monotonicNanos()
                for event in d3.feed(tail, at: start) {
                    if case .frame(let f) = event, engine.thermal(f, nowNanos: monotonicNanos()) != nil { results += 1 }
                }
                latencies.append(Double(monotonicNanos() - start) / 1e3)
            }
            latencies.sort()
            func pct(_ q: Double) -> Double { latencies[min(latencies.count - 1, Int(q * Double(latencies.count)))] }
            print("| thermal parse throughput (gy-mcu90640, 4 KiB reads) | \(Int(Double(frames) / parseSeconds)) | frames/s |")
            print("| thermal parse throughput (64 B garbage between frames) | \(Int(Double(noisyParsed) / noisySeconds)) | frames/s |")
            print("| thermal last byte → screening update, p50 | \(String(format: "%.1f", pct(0.5))) | µs |")
            print("| thermal last byte → screening update, p99 | \(String(format: "%.1f", pct(0.99))) | µs |")
            print("| thermal screening results produced in latency run (K=5) | \(results) | results |")
        }
    }
}

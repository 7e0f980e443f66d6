#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging
import Synchronization

/// Faults the simulator can inject.
public enum SimulatorFault: String, Sendable, CaseIterable {
    /// Frames written in small random pieces with pauses between them.
    case split
    /// Every third frame carries a wrong checksum.
    case badsum
    /// Random bytes (including 0x5A) between frames.
    case garbage
    /// Stops sending after `stallAfterFrames` frames, for good (until `resume()`).
    case stall
    /// Stops sending after `stallAfterFrames` frames until the init ("auto output") command arrives, like a CH340 unit that needs waking.
    case stallUntilInit = "stall-until-init"
}

public struct SimulatorConfig: Sendable {
    public var model: ThermalModel = .gyMCU90640
    /// True temperature of the face's eye band, °C (the rest of the face is 1 °C cooler).
    public var faceC: Double = 36.6
    public var ambientC: Double = 25
    public var rateHz: Double = 4
    public var faults: Set<SimulatorFault> = []
    public var stallAfterFrames: Int = 8
    /// A stable symlink to the current PTY (like /dev/serial/by-id/…); re-pointed after `hangUp()`.
    public var linkPath: String?
    /// An in-scene blackbody at this temperature in `blackbodyRegion`, or none.
    public var blackbodyC: Double?
    public var blackbodyRegion = (x: 27, y: 19, width: 3, height: 3)
    /// A movable heated registration target: a disc at a continuous thermal position (pixel i spans [i, i+1)),
    /// drawn with its true pixel coverage so its centroid is sub-pixel, as a real optic's blur would make it.
    public var target: SimulatedHeatedTarget?
    /// The simulated sensor's own error: raw = errorGain·true + errorOffset + noise.
    public var errorGain: Double = 1
    public var errorOffset: Double = 0
    public var noiseC: Double = 0.05
    public var seed: UInt64 = 0x5EED
    /// Show a face at all.
    public var facePresent = true

    public init() {}
}

/// Deterministic PRNG (SplitMix64) so simulated noise and faults are reproducible.
/// A heated disc in the simulated scene (`calibrate registration --auto` finds it).
public struct SimulatedHeatedTarget: Sendable, Equatable {
    public var x: Double, y: Double, radius: Double, c: Double
    public init(x: Double, y: Double, radius: Double = 1.3, c: Double) {
        self.x = x
        self.y = y
        self.radius = radius
        self.c = c
    }

    /// The share of thermal pixel (px, py) the disc covers (8×8 supersampling).
    func coverage(_ px: Int, _ py: Int) -> Double {
        guard abs(Double(px) + 0.5 - x) < radius + 1, abs(Double(py) + 0.5 - y) < radius + 1 else { return 0 }
        var n = 0
        for sy in 0..<8 {
            for sx in 0..<8 {
                let dx = Double(px) + (Double(sx) + 0.5) / 8 - x, dy = Double(py) + (Double(sy) + 0.5) / 8 - y
                if dx * dx + dy * dy <= radius * radius { n += 1 }
            }
        }
        return Double(n) / 64
    }
}

public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A thermal sensor on a pseudo-terminal: it streams valid frames of a face-shaped warm region, answers the
/// init commands, and injects faults. Used by `checkpointctl simulate sensor`, the demo and the tests.
public final class ThermalSensorSimulator: Sendable {
    /// Everything that changes, shared by the caller's thread and the simulator's: one `Mutex`.
    private struct State {
        var config: SimulatorConfig
        var master: Int32 = -1
        var slave: Int32 = -1
        var ptyPath = ""
        var stopping = false
        var stalled = false
        var framesSent = 0
        var hangUpRequested = false
        var stallTriggered = false
        /// What the simulated sensor has been told.
        var emissivity: Double = 0.95
        var commandsReceived: [[UInt8]] = []
        var badCommands = 0
        var flashSaves = 0
        var hangUps = 0
    }
    private let state: Mutex<State>
    private let logger: Logger

    public init(config: SimulatorConfig, logger: Logger = Logger(label: "checkpointctl.simulate")) throws(AdapterError) {
        self.state = Mutex(State(config: config))
        self.logger = logger
        switch config.model {
        case .gyMCU90640, .gyMCU906x5: break
        case .asciiLine: throw AdapterError(.unsupported, "the simulator speaks gy-mcu90640 and gy-mcu906x5 only")
        }
        try openPTY()
    }

    deinit {
        stop()
        closePTY()
    }

    /// The path readers open: the stable link if configured, else the PTY itself.
    public var path: String { state.withLock { $0.config.linkPath ?? $0.ptyPath } }
    public var devicePath: String { state.withLock { $0.ptyPath } }
    public var sentFrames: Int { state.withLock { $0.framesSent } }
    public var received: [[UInt8]] { state.withLock { $0.commandsReceived } }
    public var currentEmissivity: Double { state.withLock { $0.emissivity } }
    public var saves: Int { state.withLock { $0.flashSaves } }
    public var hangUps: Int { state.withLock { $0.hangUps } }
    public var badCommands: Int { state.withLock { $0.badCommands } }

    public func set(faceC: Double) { state.withLock { $0.config.faceC = faceC } }
    public func set(ambientC: Double) { state.withLock { $0.config.ambientC = ambientC } }
    public func set(blackbodyC: Double?) { state.withLock { $0.config.blackbodyC = blackbodyC } }
    public func set(facePresent: Bool) { state.withLock { $0.config.facePresent = facePresent } }
    public func set(target: SimulatedHeatedTarget?) { state.withLock { $0.config.target = target } }
    /// Stops or resumes the stream (a stalled sensor).
    public func setStalled(_ value: Bool) { state.withLock { $0.stalled = value } }
    /// Simulates an unplug/replug: the PTY disappears and a new one (behind the same link) replaces it.
    public func hangUp() { state.withLock { $0.hangUpRequested = true } }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "sensor-simulator"
        thread.start()
    }

    public func stop() { state.withLock { $0.stopping = true } }

    // MARK: PTY

    private func openPTY() throws(AdapterError) {
        // posix_openpt/unlockpt/ptsname are not visible through the Glibc module; their Linux ioctls are.
        let m = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard m >= 0 else { throw AdapterError.posix(.open, "open /dev/ptmx") }
        let TIOCSPTLCK: UInt = 0x4004_5431  // _IOW('T', 0x31, int)
        let TIOCGPTN: UInt = 0x8004_5430  // _IOR('T', 0x30, unsigned int)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(m, TIOCSPTLCK, &unlock) == 0, ioctl(m, TIOCGPTN, &number) == 0 else {
            let e = errno
            Glibc.close(m)
            throw AdapterError(.ioctl, "unlocking the new pseudo-terminal", cause: .errno(e))
        }
        let path = "/dev/pts/\(number)"
        // Hold the slave open ourselves and put it in raw mode, so nothing is echoed or line-edited before a reader opens it.
        let s = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard s >= 0 else {
            let e = errno
            Glibc.close(m)
            throw AdapterError(.open, "open \(path)", cause: .errno(e))
        }
        var t = termios()
        tcgetattr(s, &t)
        cfmakeraw(&t)
        tcsetattr(s, TCSANOW, &t)
        _ = fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK)
        let link = state.withLock { st in
            st.master = m
            st.slave = s
            st.ptyPath = path
            return st.config.linkPath
        }
        if let link {
            let tmp = link + ".tmp-\(getpid())"
            unlink(tmp)
            guard symlink(path, tmp) == 0, rename(tmp, link) == 0 else {
                let e = errno
                throw AdapterError(.open, "cannot create the link \(link) → \(path)", cause: .errno(e))
            }
        }
    }

    private func closePTY() {
        state.withLock { st in
            if st.master >= 0 { Glibc.close(st.master); st.master = -1 }
            if st.slave >= 0 { Glibc.close(st.slave); st.slave = -1 }
        }
    }

    // MARK: The stream

    private func run() {
        // The noise and the split writes draw from this thread's own generator, seeded from the config.
        var rng = SplitMix64(seed: state.withLock { $0.config.seed })
        var next = monotonicNanos()
        var incoming: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            let (stop, hang, rate) = state.withLock { ($0.stopping, $0.hangUpRequested, $0.config.rateHz) }
            if stop { break }
            if hang {
                state.withLock {
                    $0.hangUpRequested = false
                    $0.hangUps += 1
                }
                closePTY()
                usleep(300_000)  // the device is "unplugged" for a moment
                var reopenError: AdapterError?
                do { try openPTY() } catch { reopenError = error }
                if let reopenError {
                    logger.error("simulator cannot reopen its PTY: \(reopenError)")
                    break
                }
                logger.info("simulator replugged", metadata: ["pty": "\(devicePath)"])
                incoming.removeAll()
            }
            let period = UInt64(1e9 / max(0.1, rate))
            let now = monotonicNanos()
            let waitMs = next > now ? Int32(min(20, (next - now) / 1_000_000)) : 0
            var p = pollfd(fd: state.withLock { $0.master }, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, waitMs) > 0, p.revents & Int16(POLLIN) != 0 {
                let n = Glibc.read(p.fd, &buf, buf.count)
                if n > 0 {
                    incoming.append(contentsOf: buf[0..<n])
                    handleCommands(&incoming, rng: &rng)
                }
            }
            if monotonicNanos() >= next {
                next += period
                if monotonicNanos() > next + period { next = monotonicNanos() + period }  // don't burst after a pause
                sendFrame(rng: &rng)
            }
        }
    }

    private func handleCommands(_ incoming: inout [UInt8], rng: inout SplitMix64) {
        let length: Int
        switch state.withLock({ $0.config.model }) { case .gyMCU906x5: length = 3; default: length = 4 }
        while let start = incoming.firstIndex(of: 0xA5) {
            incoming.removeSubrange(0..<start)
            guard incoming.count >= length else { return }
            let cmd = Array(incoming[0..<length])
            let sum = cmd.dropLast().reduce(0) { $0 + Int($1) } & 0xFF
            guard UInt8(sum) == cmd[length - 1] else {
                state.withLock { $0.badCommands += 1 }
                incoming.removeFirst()
                continue
            }
            incoming.removeSubrange(0..<length)
            state.withLock { $0.commandsReceived.append(cmd) }
            logger.debug("simulator got command", metadata: ["bytes": "\(cmd.map { String(format: "%02X", $0) }.joined(separator: " "))"])
            guard length == 4 else {
                if cmd[1] == 0x45 { wake() }
                continue
            }
            switch cmd[1] {
            case 0x25:
                let rates: [UInt8: Double] = [0: 0.5, 1: 1, 2: 2, 3: 4, 4: 8]
                if let r = rates[cmd[2]] { state.withLock { $0.config.rateHz = r } }
            case 0x35:
                if cmd[2] == 0x02 { wake() }
            case 0x45:
                state.withLock { $0.emissivity = Double(cmd[2]) / 100 }
            case 0x55:
                write(GYMCU90640Driver.emissivityReply(state.withLock { $0.emissivity }), split: false, rng: &rng)
            case 0x65:
                state.withLock { $0.flashSaves += 1 }
            default:
                break
            }
        }
        incoming.removeAll()
    }

    /// The init command wakes a unit that stalls until it (the CH340 kind).
    private func wake() {
        state.withLock { if $0.config.faults.contains(.stallUntilInit) { $0.stalled = false } }
    }

    private func sendFrame(rng: inout SplitMix64) {
        let (cfg, isStalled, count, triggered) = state.withLock { ($0.config, $0.stalled, $0.framesSent, $0.stallTriggered) }
        if isStalled { return }
        if cfg.faults.contains(.stall) || cfg.faults.contains(.stallUntilInit), count >= cfg.stallAfterFrames, !triggered {
            state.withLock { $0.stalled = true; $0.stallTriggered = true }
            return
        }
        if cfg.faults.contains(.garbage) {
            let n = Int.random(in: 1...120, using: &rng)
            var junk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            junk[Int.random(in: 0..<n, using: &rng)] = 0x5A
            write(junk, split: false, rng: &rng)
        }
        var bytes: [UInt8]
        switch cfg.model {
        case .gyMCU906x5:
            let raw = cfg.errorGain * (cfg.facePresent ? cfg.faceC : cfg.ambientC) + cfg.errorOffset + gaussian(cfg.noiseC, rng: &rng)
            bytes = GYMCU906x5Driver.encode(objectC: raw, ambientC: cfg.ambientC + 8)
        default:
            bytes = GYMCU90640Driver.encode(pixels: scene(cfg, rng: &rng), ambientC: cfg.ambientC + 8)
        }
        if cfg.faults.contains(.badsum), count % 3 == 2 { bytes[bytes.count - 1] ^= 0x5A }
        write(bytes, split: cfg.faults.contains(.split), rng: &rng)
        state.withLock { $0.framesSent += 1 }
    }

    /// The simulated scene as the sensor sees it (its own error and noise included), row-major 32×24.
    private func scene(_ cfg: SimulatorConfig, rng: inout SplitMix64) -> [Float] {
        let w = GYMCU90640Driver.width, h = GYMCU90640Driver.height
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var t = cfg.ambientC
                let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
                if cfg.facePresent, dx * dx + dy * dy <= 1 {
                    t = (8...10).contains(y) ? cfg.faceC : cfg.faceC - 1
                }
                if let bb = cfg.blackbodyC, x >= cfg.blackbodyRegion.x, x < cfg.blackbodyRegion.x + cfg.blackbodyRegion.width,
                   y >= cfg.blackbodyRegion.y, y < cfg.blackbodyRegion.y + cfg.blackbodyRegion.height {
                    t = bb
                }
                if let target = cfg.target {
                    let cover = target.coverage(x, y)
                    t = t * (1 - cover) + target.c * cover
                }
                out[y * w + x] = Float(cfg.errorGain * t + cfg.errorOffset + gaussian(cfg.noiseC, rng: &rng))
            }
        }
        return out
    }

    private func gaussian(_ sd: Double, rng: inout SplitMix64) -> Double {
        guard sd > 0 else { return 0 }
        let u1 = max(Double.random(in: 0..<1, using: &rng), 1e-12), u2 = Double.random(in: 0..<1, using: &rng)
        return sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Writes to the master; a sensor streams into the void when nobody reads, so a full buffer drops the rest.
    private func write(_ bytes: [UInt8], split: Bool, rng: inout SplitMix64) {
        let fd = state.withLock { $0.master }
        var offset = 0
        while offset < bytes.count {
            let chunk = split ? min(bytes.count - offset, Int.random(in: 1...200, using: &rng)) : bytes.count - offset
            let n = bytes[offset..<(offset + chunk)].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
            if split { usleep(UInt32.random(in: 200...2000, using: &rng)) }
        }
    }
}

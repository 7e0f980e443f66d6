#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import Logging
import Synchronization

public struct SensorLinkConfig: Sendable {
    /// Prefer a stable path such as `/dev/serial/by-id/usb-…`.
    public var path: String
    public var model: ThermalModel
    /// nil: auto-probe `probeBauds`, a rate being confirmed by 2 checksum-valid frames.
    public var baud: Int?
    public var probeBauds: [Int] = [115_200, 460_800, 9600]
    public var rateHz: Double
    /// ε to set and read back (from the calibration file); nil leaves the sensor's own.
    public var emissivity: Double? = 0.98
    public var backoffInitialSeconds: Double = 0.5
    /// Reconnect attempts back off up to this; kept short so a replugged sensor is back within seconds.
    public var backoffMaxSeconds: Double = 8
    /// "No valid frame for this many periods" triggers the next recovery step.
    public var stalePeriods: Double = 3

    public init(path: String, model: ThermalModel, baud: Int? = nil, rateHz: Double? = nil, emissivity: Double? = 0.98) {
        self.path = path
        self.model = model
        self.baud = baud
        self.rateHz = rateHz ?? model.defaultRateHz
        self.emissivity = emissivity
    }

    public var periodSeconds: Double { 1 / rateHz }
}

extension SensorLinkConfig {
    /// The link the daemon's configuration describes: `[thermal]` port, model, baud and rate, and the calibration
    /// file's emissivity. The daemon and `checkpointctl` both build it here, so the tool talks to the sensor exactly as
    /// the daemon does.
    public init(_ c: CheckpointConfig) throws {
        let model = c.thermal.model
        let baud: Int?
        switch c.thermal.baud {
        case .auto: baud = nil
        case .fixed(let b): baud = b
        }
        self.init(path: c.thermal.port, model: model, baud: baud, rateHz: c.thermal.frameRateHz, emissivity: c.calibration.sensor.emissivity)
    }
}

public enum SensorLinkStatus: Sendable, Equatable, CustomStringConvertible {
    /// Valid frames are arriving.
    case available(baud: Int)
    /// No valid frame for 3 periods: the init commands were sent again.
    case reinitialised
    /// Still nothing: the port is being reopened.
    case reopening
    /// No valid frames; readings must not be used. `reason` says why.
    case unavailable(reason: String)

    public var description: String {
        switch self {
        case .available(let b): return "available at \(b) baud"
        case .reinitialised: return "no valid frame for 3 periods; init commands re-sent"
        case .reopening: return "still no valid frame; reopening the port"
        case .unavailable(let r): return "unavailable: \(r)"
        }
    }

    public var isAvailable: Bool { if case .available = self { return true }; return false }
}

public enum SensorEvent: Sendable {
    case frame(ThermalFrame, ThermalCounters)
    case status(SensorLinkStatus)
    /// The sensor's answer to the emissivity query after init.
    case emissivity(Double)
}

/// Reads a thermal sensor on its own thread: poll loop, driver, reconnect ladder (`ReconnectLadder`, thermal schedule),
/// stale-frame watchdog.
///
/// ```swift
/// let link = ThermalSensorLink(config: .init(path: "/dev/serial/by-id/…", model: .gyMCU90640, baud: 115200))
/// for await event in link.start() { … }   // .frame / .status / .emissivity
/// link.stop()
/// ```
///
/// The port, the driver and the ladder live on the reader thread only; what other threads see is the `Mutex` of
/// `Shared` and the thread's `CaptureCancellation` (an eventfd its polls and backoff waits wake on).
public final class ThermalSensorLink: Sendable {
    public let config: SensorLinkConfig
    private let logger: Logger

    private struct Shared {
        var cancellation: CaptureCancellation?
        var continuation: AsyncStream<SensorEvent>.Continuation?
        var counters = ThermalCounters()
        var pendingWrites: [[UInt8]] = []
    }
    private let shared = Mutex(Shared())

    public init(config: SensorLinkConfig, logger: Logger = Logger(label: "checkpointd.thermal.serial")) {
        self.config = config
        self.logger = logger
    }

    deinit { stop() }

    /// The driver's counters as of the last read.
    public var counters: ThermalCounters { shared.withLock { $0.counters } }

    /// Starts the reader thread; the stream keeps only the newest events if the consumer falls behind.
    public func start() -> AsyncStream<SensorEvent> {
        // Room for 64 s at 4 Hz, so a briefly starved consumer loses no status event; stale frames are rejected
        // downstream by the frame-quality age check, never measured late.
        let (stream, continuation) = AsyncStream.makeStream(of: SensorEvent.self, bufferingPolicy: .bufferingNewest(256))
        let cancellation = CaptureCancellation()
        let previous = shared.withLock { s in
            defer {
                s.continuation = continuation
                s.cancellation = cancellation
            }
            return s.cancellation
        }
        previous?.cancel()
        let thread = Thread { [self] in run(cancellation: cancellation, continuation: continuation) }
        thread.name = "thermal-serial"
        thread.start()
        continuation.onTermination = { _ in cancellation.cancel() }
        return stream
    }

    public func stop() {
        shared.withLock { $0.cancellation }?.cancel()
    }

    /// Queues raw command bytes (e.g. a technician's explicit flash "save") for the reader thread to write.
    public func send(_ bytes: [UInt8]) {
        shared.withLock { $0.pendingWrites.append(bytes) }
    }

    // MARK: The loop (on the reader thread)

    private func run(cancellation: CaptureCancellation, continuation: AsyncStream<SensorEvent>.Continuation) {
        defer { continuation.finish() }
        func emit(_ event: SensorEvent) { continuation.yield(event) }
        var ladder = ReconnectLadder(schedule: .thermal(minimumBackoff: config.backoffInitialSeconds, maximumBackoff: config.backoffMaxSeconds))
        var reportedUnavailable = false
        var degraded = false  // a recovery step was announced; the next valid frame announces "available" again
        var driver: any ThermalDriver
        do { driver = try config.model.makeDriver() } catch {
            emit(.status(.unavailable(reason: "\(error)")))
            return
        }
        // Logged once; emitted on every failed attempt, so the daemon's health sees a recovery that is still
        // trying (a sign of life for the watchdog) rather than a stage gone silent.
        func unavailable(_ reason: String) {
            if !reportedUnavailable {
                logger.warning("thermal sensor unavailable", metadata: ["reason": "\(reason)"])
            }
            emit(.status(.unavailable(reason: reason)))
            reportedUnavailable = true
        }
        /// Waits out a reopen the ladder decided (returns at once when cancelled).
        func wait(_ action: ReconnectAction) {
            if case .reopen(let seconds) = action, seconds > 0 { _ = cancellation.sleep(seconds: seconds) }
        }
        outer: while !cancellation.isCancelled {
            let port: SerialPort
            do {
                port = try open(cancellation: cancellation)
            } catch {
                unavailable("cannot open \(config.path): \(error)")
                wait(ladder.handle(.failure))
                continue outer
            }
            defer { port.close() }
            driver.reset()
            do {
                try initialise(port, &driver, cancellation: cancellation)
            } catch {
                unavailable("init failed: \(error)")
                wait(ladder.handle(.failure))
                continue outer
            }
            var lastValid = monotonicNanos()
            let staleNanos = UInt64(config.stalePeriods * config.periodSeconds * 1e9)
            var announced = false
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !cancellation.isCancelled {
                let writes: [[UInt8]] = shared.withLock { s in defer { s.pendingWrites.removeAll() }; return s.pendingWrites }
                do {
                    for w in writes { try port.write(w) }
                    let timeout = Int32(min(100, max(10, config.periodSeconds * 1000 / 2)))
                    let outcome = try buffer.withUnsafeMutableBytes { try port.read(into: $0, timeoutMillis: timeout, cancellation: cancellation) }
                    if case .data(let n) = outcome {
                        let now = monotonicNanos()
                        let events = buffer.withUnsafeBufferPointer { driver.feed(UnsafeBufferPointer(rebasing: $0[0..<n]), at: now) }
                        let counters = driver.counters
                        shared.withLock { $0.counters = counters }
                        for event in events {
                            switch event {
                            case .frame(let frame):
                                lastValid = now
                                ladder.succeeded()
                                if !announced || reportedUnavailable || degraded {
                                    announced = true
                                    reportedUnavailable = false
                                    degraded = false
                                    logger.info("thermal sensor available", metadata: ["baud": "\(port.baud)", "model": "\(config.model)"])
                                    emit(.status(.available(baud: port.baud)))
                                }
                                emit(.frame(frame, counters))
                            case .emissivity(let e):
                                if let want = config.emissivity, abs(want - e) > 0.005 {
                                    logger.warning("sensor emissivity read back differs", metadata: ["set": "\(want)", "read": "\(e)"])
                                }
                                emit(.emissivity(e))
                            }
                        }
                    }
                } catch {
                    unavailable("\(error)")
                    wait(ladder.handle(.failure))
                    continue outer
                }
                let now = monotonicNanos()
                if now > lastValid, now - lastValid > staleNanos {
                    driver.noteTimeout()
                    let counters = driver.counters
                    shared.withLock { $0.counters = counters }
                    lastValid = now
                    switch ladder.handle(.stall) {
                    case .restart:
                        logger.warning("no valid thermal frame for \(config.stalePeriods) periods; re-sending init commands")
                        degraded = true
                        emit(.status(.reinitialised))
                        do { try initialise(port, &driver, cancellation: cancellation) } catch {
                            // The port is failing: reopen it at once (the open's own failures climb the ladder).
                            unavailable("\(error)")
                            continue outer
                        }
                    case .reopen(afterSeconds: 0):
                        logger.warning("still no valid thermal frame; reopening the port")
                        degraded = true
                        emit(.status(.reopening))
                        continue outer
                    case .reopen(let seconds):
                        unavailable("no valid frame for \(Int(config.stalePeriods)) periods after re-init and reopen")
                        wait(.reopen(afterSeconds: seconds))
                        continue outer
                    }
                }
            }
        }
    }

    private func open(cancellation: CaptureCancellation) throws(AdapterError) -> SerialPort {
        if let baud = config.baud { return try SerialPort(path: config.path, baud: baud) }
        let port = try SerialPort(path: config.path, baud: config.probeBauds.first ?? 115_200)
        for baud in config.probeBauds {
            if cancellation.isCancelled { break }
            do {
                try port.setBaud(baud)
                if try probe(port, baud: baud, cancellation: cancellation) {
                    logger.info("baud confirmed by 2 checksum-valid frames", metadata: ["baud": "\(baud)"])
                    return port
                }
            } catch {
                port.close()
                throw error
            }
        }
        port.close()
        throw AdapterError(.unsupported, "no checksum-valid frames at any of \(config.probeBauds.map(String.init).joined(separator: ", ")) baud")
    }

    /// Listens at `baud` for up to 3 periods + 1 s; confirmed by 2 checksum-valid frames.
    private func probe(_ port: SerialPort, baud: Int, cancellation: CaptureCancellation) throws(AdapterError) -> Bool {
        guard var driver = try? config.model.makeDriver() else { return false }
        if case .gyMCU90640 = config.model { try port.write(GYMCU90640Driver.autoOutputCommand) }
        let deadline = monotonicNanos() + UInt64((config.stalePeriods * config.periodSeconds + 1) * 1e9)
        var valid = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while monotonicNanos() < deadline, !cancellation.isCancelled {
            let result: Result<SerialPort.ReadOutcome, AdapterError> = buffer.withUnsafeMutableBytes { p in
                do throws(AdapterError) { return .success(try port.read(into: p, timeoutMillis: 50, cancellation: cancellation)) } catch { return .failure(error) }
            }
            guard case .data(let n) = try result.get() else { continue }
            let events = buffer.withUnsafeBufferPointer { driver.feed(UnsafeBufferPointer(rebasing: $0[0..<n]), at: 0) }
            valid += events.filter { if case .frame = $0 { return true }; return false }.count
            if valid >= 2 { return true }
        }
        return false
    }

    private func initialise(_ port: SerialPort, _ driver: inout any ThermalDriver, cancellation: CaptureCancellation) throws(AdapterError) {
        let settings = ThermalInitSettings(rateHz: config.rateHz, baud: port.baud, emissivity: config.emissivity)
        let commands: [[UInt8]]
        do { commands = try driver.initCommands(settings) } catch {
            throw AdapterError(.unsupported, "sensor init: \(error)")
        }
        for c in commands {
            try port.write(c)
            _ = cancellation.sleep(seconds: 0.02)  // the sensor's command pacing
        }
        if config.emissivity != nil, let query = driver.emissivityQuery() { try port.write(query) }
    }
}

import CheckpointCore
import CheckpointSimulators
import Foundation
import Testing
@testable import CheckpointAdapters

/// Collects a link's events on a background task so tests can wait for conditions.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SensorEvent] = []
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<SensorEvent>) {
        task = Task { [weak self] in
            for await e in stream { self?.append(e) }
        }
    }

    private func append(_ e: SensorEvent) { lock.withLock { events.append(e) } }
    var all: [SensorEvent] { lock.withLock { events } }
    var frames: [ThermalFrame] { all.compactMap { if case .frame(let f, _) = $0 { return f }; return nil } }
    var statuses: [SensorLinkStatus] { all.compactMap { if case .status(let s) = $0 { return s }; return nil } }
    var lastCounters: ThermalCounters? { all.reversed().lazy.compactMap { if case .frame(_, let c) = $0 { return c }; return nil }.first }

    /// Waits until `condition` holds or `seconds` pass; returns whether it held. The tests give a generous 60 s:
    /// it returns as soon as the condition holds, so only a failing test (or a very busy machine) waits that long.
    func wait(_ seconds: Double, _ condition: (EventLog) -> Bool) async -> Bool {
        let end = monotonicNanos() + UInt64(seconds * 1e9)
        while monotonicNanos() < end {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }
}

func tempDir() -> String {
    let dir = NSTemporaryDirectory() + "thermal-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite(.serialized) struct SerialThermalTests {
    func simulator(_ configure: (inout SimulatorConfig) -> Void = { _ in }) throws -> ThermalSensorSimulator {
        var c = SimulatorConfig()
        c.rateHz = 8
        configure(&c)
        let sim = try ThermalSensorSimulator(config: c)
        sim.start()
        return sim
    }

    func linkConfig(_ path: String, baud: Int? = 115_200) -> SensorLinkConfig {
        var c = SensorLinkConfig(path: path, model: .gyMCU90640, baud: baud, rateHz: 4, emissivity: 0.98)
        c.backoffInitialSeconds = 0.2
        c.backoffMaxSeconds = 1
        return c
    }

    @Test func framesThroughARealPTYWithSplitGarbageAndBadChecksums() async throws {
        let sim = try simulator { $0.faults = [.split, .garbage, .badsum]; $0.faceC = 36.6; $0.ambientC = 25 }
        defer { sim.stop() }
        let link = ThermalSensorLink(config: linkConfig(sim.path))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.frames.count >= 6 && !$0.statuses.isEmpty })
        let frames = log.frames
        let f = try #require(frames.last)
        #expect(f.width == 32 && f.height == 24)
        #expect(abs(Double(f[16, 9]) - 36.6) < 0.3, "eye band at the face temperature")
        #expect(abs(Double(f[1, 1]) - 25) < 0.3, "background at ambient")
        #expect(f.ambientC == 33, "the sensor's die is 8 °C above the air")
        let c = try #require(log.lastCounters)
        #expect(c.badChecksum >= 1, "every third frame had a bad checksum")
        #expect(c.bytesDropped > 0 && c.resyncs >= 1)
        #expect(log.statuses.first == .available(baud: 115_200))
        // Init commands arrived with computed checksums; the emissivity was read back; no flash save.
        let received = sim.received
        #expect(received.contains([0xA5, 0x25, 0x03, 0xCD]))
        #expect(received.contains([0xA5, 0x45, 0x62, 0x4C]))
        #expect(received.contains([0xA5, 0x35, 0x02, 0xDC]))
        #expect(sim.saves == 0)
        #expect(await log.wait(60) { $0.all.contains { if case .emissivity(let e) = $0 { return abs(e - 0.98) < 1e-9 }; return false } })
    }

    @Test func autoProbeConfirmsABaudWithTwoValidFrames() async throws {
        let sim = try simulator()
        defer { sim.stop() }
        let link = ThermalSensorLink(config: linkConfig(sim.path, baud: nil))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.statuses.contains(.available(baud: 115_200)) })
        #expect(await log.wait(60) { !$0.frames.isEmpty })
    }

    @Test func portIsExclusive() throws {
        let sim = try simulator()
        defer { sim.stop() }
        let a = try SerialPort(path: sim.path, baud: 115_200)
        defer { a.close() }
        do {
            _ = try SerialPort(path: sim.path, baud: 115_200)
            Issue.record("a second open of the port succeeded")
        } catch {
            #expect(error.code == .busy)
        }
        #expect(throws: AdapterError.self) { try SerialPort(path: sim.path, baud: 12345) }
        #expect(throws: AdapterError.self) { try SerialPort(path: "/dev/does-not-exist-thermal", baud: 9600) }
    }

    @Test func disconnectReportsUnavailableThenReopensThroughTheStableLink() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sim = try simulator { $0.linkPath = dir + "/by-id-thermal" }
        defer { sim.stop() }
        let first = sim.devicePath
        let link = ThermalSensorLink(config: linkConfig(sim.path))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.frames.count >= 3 })
        sim.hangUp()
        #expect(await log.wait(60) { $0.statuses.contains { if case .unavailable = $0 { return true }; return false } })
        let before = log.frames.count
        #expect(await log.wait(60) { $0.frames.count >= before + 3 }, "frames resume after the replug")
        #expect(sim.devicePath != first || sim.hangUps == 1)
        #expect(log.statuses.filter { $0.isAvailable }.count >= 2)
    }

    @Test func stallRecoveredByResendingInit() async throws {
        let sim = try simulator { $0.faults = [.stallUntilInit]; $0.stallAfterFrames = 4 }
        defer { sim.stop() }
        let link = ThermalSensorLink(config: linkConfig(sim.path))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.statuses.contains(.reinitialised) })
        let n = log.frames.count
        #expect(await log.wait(60) { $0.frames.count > n + 2 })
        #expect(log.statuses.last?.isAvailable == true, "recovery is announced: \(log.statuses)")
        #expect(!log.statuses.contains { if case .unavailable = $0 { return true }; return false })
        #expect((link.counters.timeouts) >= 1)
    }

    @Test func stallThatNothingFixesIsReportedUnavailable() async throws {
        let sim = try simulator { $0.faults = [.stall]; $0.stallAfterFrames = 4 }
        defer { sim.stop() }
        let link = ThermalSensorLink(config: linkConfig(sim.path))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.statuses.contains { if case .unavailable = $0 { return true }; return false } })
        let order = log.statuses
        let ri = order.firstIndex(of: .reinitialised), ro = order.firstIndex(of: .reopening)
        let un = order.firstIndex { if case .unavailable = $0 { return true }; return false }
        #expect(ri != nil && ro != nil && un != nil)
        if let ri, let ro, let un { #expect(ri < ro && ro < un, "re-init, then reopen, then unavailable: \(order)") }
        // No frame is delivered while unavailable; once the sensor talks again it is available again.
        sim.setStalled(false)
        #expect(await log.wait(60) { $0.statuses.last?.isAvailable == true })
    }

    @Test func engineFedFromTheLinkScreensTheSimulatedFace() async throws {
        let sim = try simulator { $0.faceC = 38.2 }
        defer { sim.stop() }
        let link = ThermalSensorLink(config: linkConfig(sim.path))
        let log = EventLog(link.start())
        defer { link.stop() }
        #expect(await log.wait(60) { $0.frames.count >= 6 })
        var config = ScreeningConfig()
        config.warmUpSeconds = 0
        var engine = ScreeningEngine(config: config, calibration: .uncalibrated, registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                     sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM", port: sim.path))
        let face = FaceObservation(box: PixelRect(x: 200, y: 90, width: 240, height: 320), cameraWidth: 640, cameraHeight: 480, distanceM: 0.5)
        var result: ScreeningResult?
        engine.sensorAvailable(at: log.frames.first!.monotonicNanos)  // what the daemon does on .status(.available)
        for f in log.frames.suffix(6) {
            _ = engine.faces(FacesInView(sessionID: 1, faceCount: 1, face: face, monotonicNanos: f.monotonicNanos))
            if let r = engine.thermal(f, nowNanos: f.monotonicNanos) { result = r }
        }
        let r = try #require(result)
        #expect(r.outcome == .elevated)
        #expect(abs(r.rawC! - 38.2) < 0.2)
    }

    @Test func atomicWriterReplacesAndSetsMode() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cal.toml"
        try AtomicFileWriter.write("one", to: path)
        try AtomicFileWriter.write("two", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["cal.toml"], "no temp file left behind")
        #expect(throws: AdapterError.self) { try AtomicFileWriter.write("x", to: dir + "/missing/cal.toml") }
    }
}

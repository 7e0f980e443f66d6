import Foundation
import Testing
@testable import CheckpointCore

/// A face-shaped scene like the simulator's: eye band (rows 8–10) at `face`, rest of the face 1 °C cooler.
func syntheticFrame(face: Float, ambient: Float = 25, at nanos: UInt64, jitter: Float = 0) -> ThermalFrame {
    var p = [Float](repeating: ambient, count: 768)
    for y in 0..<24 {
        for x in 0..<32 {
            let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
            if dx * dx + dy * dy <= 1 { p[y * 32 + x] = ((8...10).contains(y) ? face : face - 1) + jitter }
        }
    }
    return ThermalFrame(width: 32, height: 24, pixels: p, ambientC: 33, sequence: nanos, monotonicNanos: nanos)
}

func req<T>(_ value: T?, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    try #require(value, sourceLocation: sourceLocation)
}

@Suite struct ScreeningTests {
    static let ms: UInt64 = 1_000_000
    static let face = FaceObservation(box: PixelRect(x: 200, y: 90, width: 240, height: 320), cameraWidth: 640, cameraHeight: 480, distanceM: 0.5)

    static func engine(k: Int = 5, warmUp: Double = 0, cal: ThermalCalibration = .uncalibrated, threshold: Double = 37.5) -> ScreeningEngine {
        var config = ScreeningConfig()
        config.framesPerResult = k
        config.warmUpSeconds = warmUp
        config.thresholds.elevatedC = threshold
        return ScreeningEngine(config: config, calibration: cal, registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                               sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM-1", port: "/dev/pts/9"))
    }

    /// Runs one session: face event then `faces` frames 250 ms apart; returns the result.
    static func run(_ e: inout ScreeningEngine, temps: [Float], session: UInt64 = 1, start: UInt64 = 1_000 * ms,
                    face: FaceObservation = face, faceCount: Int = 1) -> ScreeningResult? {
        var t = start
        _ = e.thermal(syntheticFrame(face: 30, at: t), nowNanos: t)  // sensor running
        for temp in temps {
            t += 250 * ms
            if let r = e.faces(FacesInView(sessionID: session, faceCount: faceCount, face: face, monotonicNanos: t)) { return r }
            if let r = e.thermal(syntheticFrame(face: temp, at: t), nowNanos: t + 5 * ms) { return r }
        }
        return nil
    }

    @Test func normalAndElevatedAtTheThreshold() throws {
        var e = Self.engine()
        let normal = try req(Self.run(&e, temps: [36.6, 36.7, 36.5, 36.6, 36.6]))
        #expect(normal.outcome == .normal)
        #expect(abs(normal.rawC! - 36.6) < 0.05)
        #expect(normal.frameCount == 5)
        #expect(!normal.secondaryCheckRequired)

        var e2 = Self.engine()
        let at = try req(Self.run(&e2, temps: [37.5, 37.5, 37.5, 37.5, 37.5]))
        #expect(at.correctedC == 37.5)
        #expect(at.outcome == .elevated, "≥ threshold is elevated")
        #expect(at.secondaryCheckRequired)

        var e3 = Self.engine()
        let below = try req(Self.run(&e3, temps: [37.49, 37.49, 37.49, 37.49, 37.49]))
        #expect(below.outcome == .normal)
    }

    @Test func medianOverKFramesIgnoresOneOutlierFrame() throws {
        var e = Self.engine()
        let r = try req(Self.run(&e, temps: [36.5, 41.0, 36.6, 36.7, 36.6]))
        #expect(abs(r.rawC! - 36.6) < 0.05)
        #expect(r.outcome == .normal)
        // …and a real fever shows in the median too: 3 of 5 frames elevated.
        var e2 = Self.engine()
        let f = try req(Self.run(&e2, temps: [36.5, 38.2, 38.3, 38.1, 36.6]))
        #expect(f.outcome == .elevated)
    }

    @Test func resultKeepsEveryField() throws {
        let cal = try ThermalCalibration(id: "CAL-2026-11-23", gain: 1.02, offset: 0.3, ambientCoefficient: 0.05, ambientReferenceC: 30,
                                         distanceTable: try DistanceTable([.init(distanceM: 0.5, offsetC: 0.4)]), skinToBodyOffsetC: 0.9, emissivity: 0.98)
        var e = Self.engine(cal: cal)
        let r = try req(Self.run(&e, temps: [35.0, 35.0, 35.0, 35.0, 35.0]))
        #expect(r.calibrationID == "CAL-2026-11-23")
        #expect(r.emissivity == 0.98)
        #expect(r.sensor.serial == "SIM-1")
        #expect(r.ambientC == 33)
        #expect(r.distanceM == 0.5)
        #expect(r.statistic == "eye_band_top4_mean")
        #expect(r.maxC != nil && r.meanC != nil && r.p90C != nil)
        let s = try #require(r.stages)
        #expect(abs(s.rawC - 35) < 0.01)
        #expect(abs(s.correctedC - (1.02 * s.rawC + 0.3 + 0.05 * 3 + 0.4 + 0.9)) < 1e-9)
        #expect(r.correctedC == s.correctedC)
    }

    @Test(arguments: 0..<20) func neverRewrittenTowardNormal(seed: Int) throws {
        // Whatever the value, the outcome is exactly "corrected ≥ threshold", and corrected is the pipeline's value, unclamped.
        var rng = SplitMix(seed: UInt64(seed) + 4242)
        // Kept within plausible human values (corrected ≥ 34.6 °C), so only the threshold decides.
        let cal = try ThermalCalibration(id: "p", gain: rng.double(in: 0.95...1.1), offset: rng.double(in: -0.5...1), skinToBodyOffsetC: rng.double(in: 0...1.5))
        let temp = Float(rng.double(in: 37...41))
        var e = Self.engine(cal: cal)
        let r = try req(Self.run(&e, temps: [Float](repeating: temp, count: 5)))
        let raw = try #require(r.rawC, "seed \(seed): \(r.outcome) \(r.invalidReason?.rawValue ?? "") \(r.detail ?? "")")
        let expected = cal.correct(rawC: raw, ambientC: 33, distanceM: 0.5).correctedC
        #expect(abs((r.correctedC ?? .nan) - expected) < 1e-9)
        #expect(r.outcome == (expected >= 37.5 ? .elevated : .normal), "seed \(seed): \(expected)")
    }

    @Test func invalidReasons() throws {
        // Warming up.
        var warm = Self.engine(warmUp: 1800)
        let w = try req(Self.run(&warm, temps: [36.6]))
        #expect(w.outcome == .invalid && w.invalidReason == .warmingUp)
        #expect(warm.status(at: 2_000 * Self.ms).warmUpRemainingSeconds! > 1790)

        // Several faces.
        var several = Self.engine()
        let s = try req(Self.run(&several, temps: [36.6], faceCount: 2))
        #expect(s.invalidReason == .severalFaces)

        // Too far: a face box so small it covers few thermal pixels.
        var far = Self.engine()
        let tiny = FaceObservation(box: PixelRect(x: 300, y: 200, width: 40, height: 50), cameraWidth: 640, cameraHeight: 480, distanceM: 1.0)
        let f = try req(Self.run(&far, temps: [Float](repeating: 36.6, count: 6), face: tiny))
        #expect(f.invalidReason == .tooFar)
        #expect(f.correctedC == nil, "no value is reported when the measurement is refused")

        // Sensor unavailable: no frame ever arrived.
        var none = Self.engine()
        let u = try req(none.faces(FacesInView(sessionID: 3, faceCount: 1, face: Self.face, monotonicNanos: 10)))
        #expect(u.invalidReason == .sensorUnavailable)

        // Sensor lost mid-session.
        var lost = Self.engine()
        _ = lost.thermal(syntheticFrame(face: 36, at: Self.ms), nowNanos: Self.ms)
        let pending = lost.faces(FacesInView(sessionID: 4, faceCount: 1, face: Self.face, monotonicNanos: 2 * Self.ms))
        #expect(pending == nil)
        let l = try req(lost.sensorUnavailable(at: 3 * Self.ms))
        #expect(l.invalidReason == .sensorUnavailable)

        // Reference missing: calibration expects a blackbody the scene lacks.
        let cal = try ThermalCalibration(id: "bb", reference: ReferenceRegion(x: 27, y: 19, width: 3, height: 3, temperatureC: 35))
        var ref = Self.engine(cal: cal)
        let m = try req(Self.run(&ref, temps: [36.6]))
        #expect(m.invalidReason == .referenceMissing)
    }

    @Test func staleFramesAreNeverUsed() {
        var e = Self.engine()
        _ = e.thermal(syntheticFrame(face: 30, at: Self.ms), nowNanos: Self.ms)
        _ = e.faces(FacesInView(sessionID: 1, faceCount: 1, face: Self.face, monotonicNanos: 10_000 * Self.ms))
        for i in 0..<10 {
            let t = UInt64(10_000 + i * 250) * Self.ms
            // Frame stamped 2 s before "now": stale.
            let r = e.thermal(syntheticFrame(face: 38, at: t - 2_000 * Self.ms), nowNanos: t)
            #expect(r == nil)
        }
        #expect(e.status(at: 20_000 * Self.ms).framesRejected == 10)
        #expect(e.status(at: 20_000 * Self.ms).framesUsed == 0)
    }

    @Test func oneResultPerSession() throws {
        var e = Self.engine(k: 3)
        let r = try req(Self.run(&e, temps: [36.6, 36.6, 36.6]))
        #expect(r.sessionID == 1)
        let again = Self.run(&e, temps: [39, 39, 39, 39], start: 10_000 * Self.ms)
        #expect(again == nil, "same session: no second result")
        let next = try req(Self.run(&e, temps: [39, 39, 39], session: 2, start: 20_000 * Self.ms))
        #expect(next.outcome == .elevated)
    }

    @Test func qualityRejectsAndRepairs() {
        var q = FrameQualityFilter()
        var f = syntheticFrame(face: 36.6, at: 1_000 * Self.ms)
        f[5, 5] = 120  // a hot outlier pixel
        guard case .success(let repaired) = q.check(f, nowNanos: 1_000 * Self.ms) else { Issue.record("rejected"); return }
        #expect(repaired[5, 5] == 25)
        var out = syntheticFrame(face: 36.6, at: 1_250 * Self.ms)
        out[1, 1] = 400
        if case .failure(.pixelOutOfRange(1, 1, _)) = q.check(out, nowNanos: 1_250 * Self.ms) {} else { Issue.record("400 °C accepted") }
        var jump = syntheticFrame(face: 36.6, at: 1_500 * Self.ms)
        jump.ambientC = 45
        if case .failure(.ambientJump) = q.check(jump, nowNanos: 1_500 * Self.ms) {} else { Issue.record("ambient jump accepted") }
        // Stuck pixel: identical for 16 frames while everything else varies.
        var last: ThermalFrame?
        for i in 0..<20 {
            var g = syntheticFrame(face: 36.6, at: UInt64(2_000 + i * 250) * Self.ms, jitter: Float(i % 3) * 0.01)
            g[0, 0] = 31.7
            if case .success(let r) = q.check(g, nowNanos: g.monotonicNanos) { last = r }
        }
        #expect(last?[0, 0] == 25.01 || last?[0, 0] == 25, "stuck pixel replaced by its 3×3 median")
    }

    @Test func warmUpGate() {
        var g = WarmUpGate(durationSeconds: 60)
        #expect(g.remainingSeconds(at: 0) == nil)
        g.sensorStarted(at: 1_000_000_000)
        #expect(g.remainingSeconds(at: 31_000_000_000) == 30)
        #expect(!g.isWarm(at: 31_000_000_000))
        #expect(g.isWarm(at: 61_000_000_000))
    }
}

@Suite struct ScreeningResultJSONTests {
    @Test func jsonCarriesEveryFieldAndTheSecondaryCheckFlag() throws {
        var e = ScreeningTests.engine()
        let r = try req(ScreeningTests.run(&e, temps: [38.0, 38.0, 38.0, 38.0, 38.0]))
        let data = try JSONEncoder().encode(r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["outcome", "session_id", "raw_c", "corrected_c", "stages", "statistic", "max_c", "mean_c", "p90_c", "frame_count",
                    "ambient_c", "distance_m", "emissivity", "calibration_id", "sensor", "threshold_c", "secondary_check_required"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["outcome"] as? String == "elevated")
        #expect(object["secondary_check_required"] as? Bool == true)
        let back = try JSONDecoder().decode(ScreeningResult.self, from: data)
        #expect(back == r)
    }
}

@Suite struct ExampleCalibrationTests {
    typealias F = ConfigFixtures

    @Test func theShippedCalibrationsAreExamplesAndTheTestOneIsNot() throws {
        for file in ["calibration/gy-mcu90640.toml", "calibration/single-point.toml"] {
            #expect(try CalibrationFile.load(path: F.repo.appendingPathComponent(file).path).isExample, "\(file)")
        }
        #expect(try !CalibrationFile.load(path: F.repo.appendingPathComponent("Tests/demo/gy-mcu90640.toml").path).isExample)
    }

    /// A visitor in front of a kiosk still on its example calibration gets "invalid: not calibrated", never a temperature.
    @Test func anExampleCalibrationIsRefusedForScreening() throws {
        let file = try CalibrationFile.load(path: F.repo.appendingPathComponent("calibration/gy-mcu90640.toml").path)
        var e = ScreeningTests.engine(cal: try ThermalCalibration(file))
        let r = try req(ScreeningTests.run(&e, temps: [36.6, 36.6, 36.6, 36.6, 36.6]))
        #expect(r.outcome == .invalid)
        #expect(r.invalidReason == .notCalibrated)
        #expect(r.invalidReason?.rawValue == "not_calibrated")
        #expect(r.correctedC == nil)
        #expect(r.detail?.hasPrefix("not calibrated") == true)

        let own = try CalibrationFile.load(path: F.repo.appendingPathComponent("Tests/demo/gy-mcu90640.toml").path)
        var e2 = ScreeningTests.engine(cal: try ThermalCalibration(own))
        let measured = try req(ScreeningTests.run(&e2, temps: [36.6, 36.6, 36.6, 36.6, 36.6]))
        #expect(measured.invalidReason == nil && measured.correctedC != nil, "a kiosk's own calibration measures")
    }
}

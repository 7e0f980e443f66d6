import Foundation
import Testing
@testable import CheckpointCore

/// The calibration helpers a technician relies on: finding the blackbody, and fitting skin-to-body and distance
/// from volunteers. Scenes are built here, with seeded noise.
@Suite struct TechnicianCalibrationTests {
    /// A 32×24 scene at `ambient` with optional warm face ellipse and a square blackbody.
    static func scene(ambient: Double = 25, face: Double? = 36, blackbody: (x: Int, y: Int, c: Double)? = nil, size: Int = 3,
                      extra: (x: Int, y: Int, c: Double)? = nil, noise: Double = 0.05, seed: UInt64 = 1) -> ThermalFrame {
        var rng = SplitMix(seed: seed)
        var px = [Float](repeating: 0, count: 32 * 24)
        for y in 0..<24 {
            for x in 0..<32 {
                var v = ambient
                if let face {
                    let dx = (Double(x) + 0.5 - 14) / 6, dy = (Double(y) + 0.5 - 12) / 8
                    if dx * dx + dy * dy <= 1 { v = face }
                }
                for b in [blackbody, extra].compactMap({ $0 }) where x >= b.x && x < b.x + size && y >= b.y && y < b.y + size { v = b.c }
                px[y * 32 + x] = Float(v + rng.double(in: -noise...noise))
            }
        }
        return ThermalFrame(width: 32, height: 24, pixels: px, ambientC: ambient)
    }

    @Test(arguments: [(27, 19, 35.0), (2, 2, 40.0), (27, 1, 33.0), (26, 18, 45.0)])
    func findsTheBlackbodyBesideAFace(x: Int, y: Int, c: Double) throws {
        let found = try BlackbodyLocator().locate(in: Self.scene(blackbody: (x, y, c))).get()
        #expect(found.x == x && found.y == y && found.width == 3 && found.height == 3)
        #expect(abs(found.meanC - c) < 0.1)
        #expect(found.contrastC > 5)
    }

    @Test func aBlackbodyColderThanTheFaceIsStillFound() throws {
        // 35 °C is colder than the 36 °C face: the hottest pixel is the face, the blackbody is the compact block.
        let found = try BlackbodyLocator().locate(in: Self.scene(face: 36.5, blackbody: (28, 2, 35))).get()
        #expect(found.x == 28 && found.y == 2)
    }

    @Test func noBlackbodyInAFaceOnlyOrEmptyScene() {
        for frame in [Self.scene(), Self.scene(face: nil)] {
            guard case .failure(.noBlackbody) = BlackbodyLocator().locate(in: frame) else {
                Issue.record("found a blackbody in a scene without one"); continue
            }
        }
    }

    @Test func twoEqualBlocksAreAmbiguousNotAGuess() {
        let frame = Self.scene(face: nil, blackbody: (2, 2, 40), extra: (26, 18, 40))
        guard case .failure(.ambiguous) = BlackbodyLocator().locate(in: frame) else {
            Issue.record("picked one of two equal blackbodies"); return
        }
        // A weak second block is noted, not fatal.
        let weak = try? BlackbodyLocator().locate(in: Self.scene(face: nil, blackbody: (2, 2, 40), extra: (26, 18, 30))).get()
        #expect(weak?.x == 2 && weak?.runnerUpContrastC != nil)
    }

    @Test func aNoisyBlockIsNotABlackbody() {
        #expect(throws: BlackbodyLocator.Problem.self) {
            try BlackbodyLocator().locate(in: Self.scene(face: nil, blackbody: (10, 10, 40), noise: 2)).get()
        }
    }

    @Test func singlePointAndTinyFramesSayWhy() {
        let single = ThermalFrame(width: 1, height: 1, pixels: [35], ambientC: 25)
        #expect(BlackbodyLocator().locate(in: single) == .failure(.singlePoint))
        let tiny = ThermalFrame(width: 4, height: 4, pixels: .init(repeating: 25, count: 16), ambientC: 25)
        #expect(BlackbodyLocator().locate(in: tiny) == .failure(.frameTooSmall(width: 4, height: 4)))
    }

    @Test func theMapMarksTheBlock() throws {
        let frame = Self.scene(blackbody: (27, 19, 40))
        let found = try BlackbodyLocator().locate(in: frame).get()
        let map = BlackbodyLocator.map(frame, marking: found)
        #expect(map.count == 24 && map.allSatisfy { $0.count == 32 })
        #expect(map[19].dropFirst(27).prefix(3) == "###" && map[21].dropFirst(27).prefix(3) == "###")
        #expect(map.joined().filter { $0 == "#" }.count == 9)
    }

    // MARK: Volunteers

    /// Volunteers whose true body temperature is `body`, read by a kiosk that is `bias(d)` too low at distance d.
    static func readings(distances: [Double], perDistance: Int, bias: (Double) -> Double, noise: Double, seed: UInt64) -> [VolunteerCalibration.Reading] {
        var rng = SplitMix(seed: seed)
        return distances.flatMap { d in
            (0..<perDistance).map { _ in
                let body = rng.double(in: 36.2...37.4)
                return .init(distanceM: d + rng.double(in: -0.02...0.02), kioskC: body - bias(d) + rng.double(in: -noise...noise), clinicalC: body)
            }
        }
    }

    @Test(arguments: 0..<10) func skinToBodyRecoversTheOffsetWithAnHonestUncertainty(seed: Int) throws {
        let truth = 0.6
        let r = Self.readings(distances: [0.5], perDistance: 20, bias: { _ in truth }, noise: 0.2, seed: UInt64(seed))
        let fit = try VolunteerCalibration.skinToBody(r, current: 1.0)
        #expect(fit.previousC == 1.0 && fit.offset.count == 20)
        #expect(abs(fit.offset.value - 1.6) <= fit.offset.ci95C + 0.02, "seed \(seed): \(fit.offset)")
        #expect(fit.offset.standardErrorC > 0 && fit.offset.standardErrorC < 0.1)
        #expect(abs(fit.offset.ci95C / fit.offset.standardErrorC - 2.093) < 0.001)
    }

    @Test func distanceFitFlattensTheErrorAcrossDistances() throws {
        // The kiosk reads 0.1 °C low per 10 cm beyond 0.5 m, and 0.3 °C low overall.
        let bias = { (d: Double) in 0.3 + (d - 0.5) }
        let r = Self.readings(distances: [0.3, 0.5, 0.8, 1.0], perDistance: 12, bias: bias, noise: 0.05, seed: 7)
        let current = try DistanceTable([.init(distanceM: 0.5, offsetC: 0)])
        let fit = try VolunteerCalibration.distance(r, table: current, referenceDistanceM: 0.5)
        #expect(fit.referenceDistanceM == 0.5)
        #expect(fit.groups.map(\.distanceM) == [0.3, 0.5, 0.8, 1.0])
        for g in fit.groups {
            #expect(abs(g.offset.value - (g.distanceM - 0.5)) < 0.05, "\(g)")
            #expect(g.offset.count == 12 && g.offset.ci95C > 0)
        }
        // Applying the new table leaves only the overall 0.3 °C, the skin-to-body fit's job.
        let table = try DistanceTable(fit.table.map { .init(distanceM: $0.distanceM, offsetC: $0.offsetC) })
        let corrected = r.map { VolunteerCalibration.Reading(distanceM: $0.distanceM, kioskC: $0.kioskC + table.offset(at: $0.distanceM), clinicalC: $0.clinicalC) }
        let s2b = try VolunteerCalibration.skinToBody(corrected, current: 0)
        #expect(abs(s2b.offset.value - 0.3) < 0.05)
    }

    @Test func distanceFitRefusesTooLittleData() {
        let one = Self.readings(distances: [0.5], perDistance: 10, bias: { _ in 0 }, noise: 0.1, seed: 1)
        #expect(throws: CoreError.self) { try VolunteerCalibration.distance(one, table: .empty, referenceDistanceM: 0.5) }
        let thin = Self.readings(distances: [0.5, 0.9], perDistance: 2, bias: { _ in 0 }, noise: 0.1, seed: 1)
        #expect(throws: CoreError.self) { try VolunteerCalibration.distance(thin, table: .empty, referenceDistanceM: 0.5) }
        #expect(throws: CoreError.self) { try VolunteerCalibration.skinToBody(Array(one.prefix(4)), current: 0) }
        let absurd = [VolunteerCalibration.Reading(distanceM: 0.5, kioskC: 98.6, clinicalC: 37)] + one
        #expect(throws: CoreError.self) { try VolunteerCalibration.skinToBody(absurd, current: 0) }
    }

    @Test func theAuditHistoryRoundTripsThroughTheCalibrationFile() throws {
        let text = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/CheckpointCoreTests/TechnicianCalibrationTests.swift",
                                                                             with: "calibration/gy-mcu90640.toml"), encoding: .utf8)
        var file = try CalibrationFile.parse(text, file: "example.toml")
        #expect(file.history.isEmpty)
        file.history = ["2026-12-07T09:00:00+07:00 skin-to-body by tech-01: 1.00 → 1.32 °C ± 0.06 (95 %, n = 12)", "second \"quoted\" line"]
        let again = try CalibrationFile.parse(file.render(), file: "again.toml")
        #expect(again.history == file.history)
        #expect(again == file)
    }
}

/// The technician's live thermal view: the frame raw and calibrated, the face's eye band on it.
@Suite struct ThermalLiveViewTests {
    static func engine() throws -> ScreeningEngine {
        ScreeningEngine(calibration: try ThermalCalibration(id: "cal-test", gain: 1.03, offset: 0.5, skinToBodyOffsetC: 1.0),
                        registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                        sensor: SensorIdentity(model: "gy-mcu90640", serial: "T1"))
    }

    @Test func calibratedPixelsAndTheFaceEyeBand() throws {
        let frame = TechnicianCalibrationTests.scene(face: 35, noise: 0)
        // A face box around the scene's warm ellipse (thermal centre 14,12 → camera 280,240), at 0.5 m.
        let face = FaceObservation(box: PixelRect(x: 180, y: 100, width: 200, height: 260), cameraWidth: 640, cameraHeight: 480, distanceM: 0.5)
        let view = try Self.engine().liveView(frame, face: face, nowNanos: 2_000_000_000)
        #expect(view.width == 32 && view.height == 24 && view.rawC.count == 768 && view.calibratedC.count == 768)
        for (raw, cal) in zip(view.rawC, view.calibratedC) { #expect(abs(cal - (1.03 * raw + 0.5)) < 0.011) }
        #expect(view.calibrationId == "cal-test" && view.ageSeconds == 2)
        let f = try #require(view.face)
        #expect(f.facePixels > 50 && f.bandPixels > 10 && f.problem == nil)
        #expect(f.thermalBox.map { ($0 * 10).rounded() / 10 } == [9, 5, 10, 13])
        let stages = try #require(f.stages)
        #expect(abs(stages.correctedC - (1.03 * 35 + 0.5 + 1.0)) < 0.01)
    }

    @Test func aFaceTooFarIsNamedNotMeasured() throws {
        let frame = TechnicianCalibrationTests.scene(face: 35, noise: 0)
        let far = FaceObservation(box: PixelRect(x: 300, y: 220, width: 20, height: 26), cameraWidth: 640, cameraHeight: 480, distanceM: 1.1)
        let f = try #require(try Self.engine().liveView(frame, face: far, nowNanos: 0).face)
        #expect(f.stages == nil && f.statisticRawC == nil)
        #expect(f.problem?.hasPrefix("too far") == true)
        #expect(try Self.engine().liveView(frame, face: nil, nowNanos: 0).face == nil)
    }
}

/// The technician's annotated camera snapshot.
@Suite struct TechnicianSnapshotTests {
    static func gray(_ w: Int = 640, _ h: Int = 480) -> Frame {
        Frame(width: w, height: h, layout: .bgr24, pixels: .init(repeating: 128, count: w * h * 3), sequence: 1, monotonicNanos: 0)
    }
    static func pixel(_ f: Frame, _ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        let o = (y * f.width + x) * 3
        return (f.pixels[o], f.pixels[o + 1], f.pixels[o + 2])
    }

    @Test func theFontDrawsEachGlyphsBits() {
        var f = Self.gray(64, 16)
        f.pixels = .init(repeating: 0, count: f.pixels.count)
        BitmapFont.draw("I1", on: &f, x: 0, y: 0, scale: 2, color: (255, 255, 255))
        let lit = stride(from: 0, to: f.pixels.count, by: 3).filter { f.pixels[$0] == 255 }.count
        let bits = (BitmapFont.glyph("I") + BitmapFont.glyph("1")).map { $0.nonzeroBitCount }.reduce(0, +)
        #expect(lit == bits * 4)
        #expect(BitmapFont.glyph("a") == BitmapFont.glyph("A") && BitmapFont.glyph("ư") == BitmapFont.glyph("?"))
        #expect(BitmapFont.width("REASONS", scale: 2) == 84)
    }

    @Test func facesLandmarksOverlayAndText() throws {
        // A warm 38 °C blob in thermal pixels 10..<20 × 8..<16 of a 25 °C scene; registration: shared field of view.
        var px = [Float](repeating: 25, count: 32 * 24)
        for y in 8..<16 { for x in 10..<20 { px[y * 32 + x] = 38 } }
        let thermal = TechnicianSnapshot.Thermal(frame: ThermalFrame(width: 32, height: 24, pixels: px, ambientC: 25),
                                                 registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                                 calibration: .uncalibrated, distanceM: 0.5)
        let measured = TechnicianSnapshot.Face(box: FaceBox(x: 200, y: 150, width: 200, height: 200),
                                               landmarks: FaceLandmarks(rightEye: .init(x: 260, y: 220), leftEye: .init(x: 340, y: 220),
                                                                        nose: .init(x: 300, y: 260), rightMouth: .init(x: 270, y: 300),
                                                                        leftMouth: .init(x: 330, y: 300)),
                                               score: 0.93, measured: true)
        let other = TechnicianSnapshot.Face(box: FaceBox(x: 500, y: 300, width: 60, height: 60), landmarks: nil, score: 0.81, measured: false)
        let out = TechnicianSnapshot.render(Self.gray(), faces: [measured, other], thermal: thermal, lines: ["STATE MEASURING", "REASONS -"])
        #expect(out.width == 640 && out.height == 480)
        // Box colours: green for the measured face, amber for the other.
        #expect(Self.pixel(out, 300, 150) == PreviewRendering.readyColor)
        #expect(Self.pixel(out, 530, 300) == PreviewRendering.otherColor)
        // Landmarks in magenta.
        #expect(Self.pixel(out, 260, 220) == TechnicianSnapshot.landmarkColor)
        // The warm thermal block (camera 200..<400 × 160..<320) is tinted red; the cold scene is not.
        let warm = Self.pixel(out, 380, 200), cold = Self.pixel(out, 100, 400)
        #expect(warm.2 > 180 && warm.0 < 70)  // 55 % red over the grey
        #expect(cold == (128, 128, 128))
        // The text band at the top: darkened, with white letters.
        let band = (0..<640).map { Self.pixel(out, $0, 10) }
        #expect(band.contains { $0 == (255, 255, 255) } && band.contains { $0 == (32, 32, 32) })
    }
}

@Suite struct TechnicianSnapshotWrapTests {
    @Test func longLinesWrapAtSpacesAndNeverExceedTheWidth() {
        let lines = TechnicianSnapshot.wrap(["SENSOR AMBIENT 33.0°C  FACE RAW 36.62 = 38.99°C", "SHORT", "X" + String(repeating: "Y", count: 30)], columns: 20)
        #expect(lines.allSatisfy { $0.count <= 20 })
        #expect(lines.first == "SENSOR AMBIENT" && lines.contains("SHORT"))
        #expect(lines.joined().filter { $0 == "Y" }.count == 30)
    }
}

@Suite struct CalibrationReportTests {
    @Test func onePageWithEverySection() throws {
        let text = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/CheckpointCoreTests/TechnicianCalibrationTests.swift",
                                                                             with: "calibration/gy-mcu90640.toml"), encoding: .utf8)
        var file = try CalibrationFile.parse(text, file: "example.toml")
        let plain = CalibrationReport.render(file)
        #expect(plain.width == 1240 && plain.height == 1754)
        file.history = (1...5).map { "2026-12-07T0\($0):00:00Z validate by tech-0\($0): bias +0.01 °C" }
        let withHistory = CalibrationReport.render(file)
        func ink(_ f: Frame, rows: Range<Int>) -> Int {
            rows.reduce(0) { acc, y in acc + (0..<f.width).filter { x in let o = (y * f.width + x) * 3; return f.pixels[o] < 60 && f.pixels[o + 1] < 60 }.count }
        }
        // The history section grows by five lines of text; the rest of the page is the same.
        #expect(ink(withHistory, rows: 1300..<1754) > ink(plain, rows: 1300..<1754) + 500)
        #expect(Array(withHistory.pixels.prefix(1240 * 3 * 1200)) == Array(plain.pixels.prefix(1240 * 3 * 1200)))
        // The fit's two points are plotted in red.
        let red = stride(from: 0, to: plain.pixels.count, by: 3).filter { plain.pixels[$0 + 2] == 220 && plain.pixels[$0] == 0 }.count
        #expect(red >= 2 * 100)
    }
}

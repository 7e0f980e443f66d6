import Foundation
import Testing
@testable import CheckpointCore

/// `calibrate registration --auto` finds the heated target in both images against the empty scene. Scenes are built
/// here: a disc rendered with its true pixel coverage (so sub-pixel positions are real), seeded noise.
@Suite struct RegistrationTargetTests {
    /// A 32×24 thermal scene: ambient, an optional static warm face, and heated discs (centre in continuous pixels).
    static func thermal(discs: [(x: Double, y: Double, r: Double, c: Double)] = [], face: Bool = true, ambient: Double = 25,
                        noise: Double = 0.05, seed: UInt64 = 3) -> [Double] {
        var rng = SplitMix(seed: seed)
        var out = [Double](repeating: ambient, count: 32 * 24)
        for y in 0..<24 {
            for x in 0..<32 {
                var v = ambient
                let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
                if face, dx * dx + dy * dy <= 1 { v = 35.5 }
                for d in discs {
                    let cover = coverage(x: x, y: y, cx: d.x, cy: d.y, r: d.r)
                    v = v * (1 - cover) + d.c * cover
                }
                out[y * 32 + x] = v + rng.double(in: -noise...noise)
            }
        }
        return out
    }

    /// The share of pixel [x, x+1)×[y, y+1) inside the disc, by 8×8 supersampling.
    static func coverage(x: Int, y: Int, cx: Double, cy: Double, r: Double) -> Double {
        var n = 0
        for sy in 0..<8 {
            for sx in 0..<8 {
                let px = Double(x) + (Double(sx) + 0.5) / 8 - cx, py = Double(y) + (Double(sy) + 0.5) / 8 - cy
                if px * px + py * py <= r * r { n += 1 }
            }
        }
        return Double(n) / 64
    }

    /// A 640×480 BGR camera scene: a textured grey booth, with dark discs (the target's face) and optional stand lines.
    static func camera(discs: [(x: Double, y: Double, r: Double)] = [], stand: Bool = true, seed: UInt64 = 5) -> [UInt8] {
        var rng = SplitMix(seed: seed)
        let w = 640, h = 480
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                var v = 150.0 + 20 * sin(Double(x) / 37) + 15 * cos(Double(y) / 23) + rng.double(in: -6...6)
                for d in discs {
                    let dx = Double(x) + 0.5 - d.x, dy = Double(y) + 0.5 - d.y
                    if dx * dx + dy * dy <= d.r * d.r { v = 30 + rng.double(in: -4...4) }
                    // A 4 px stand from the disc down to the floor.
                    if stand, abs(Double(x) + 0.5 - d.x) < 2, Double(y) > d.y { v = 60 }
                }
                let b = UInt8(max(0, min(255, v)))
                px[(y * w + x) * 3] = b; px[(y * w + x) * 3 + 1] = b; px[(y * w + x) * 3 + 2] = b
            }
        }
        return px
    }

    @Test(arguments: [(10.3, 7.8), (3.0, 3.0), (28.6, 20.1), (16.5, 12.5), (1.7, 21.9)])
    func findsTheHeatedDiscInTheThermalFrameToATenthOfAPixel(x: Double, y: Double) throws {
        let found = try RegistrationTargetLocator().locateThermal(
            empty: Self.thermal(seed: 1), target: Self.thermal(discs: [(x, y, 1.3, 55)], seed: 2), width: 32, height: 24).get()
        #expect(abs(found.x - x) < 0.1 && abs(found.y - y) < 0.1, "found \(found.x), \(found.y) for \(x), \(y)")
        #expect(found.contrast > 15)
    }

    @Test func noWarmingIsNoTargetAndSaysSo() {
        let r = RegistrationTargetLocator().locateThermal(empty: Self.thermal(seed: 1), target: Self.thermal(discs: [(8, 8, 1.3, 26)], seed: 2),
                                                          width: 32, height: 24)
        guard case .failure(.noThermalRise(let best)) = r else { Issue.record("expected no rise, got \(r)"); return }
        #expect(best < 3)
        #expect("\(RegistrationTargetLocator.Problem.noThermalRise(bestC: best))".contains("no heated target in the thermal frame"))
    }

    @Test func twoWarmBlocksAreAmbiguousNotAveraged() {
        let r = RegistrationTargetLocator().locateThermal(
            empty: Self.thermal(seed: 1), target: Self.thermal(discs: [(5, 5, 1.3, 55), (25, 18, 1.3, 50)], seed: 2), width: 32, height: 24)
        guard case .failure(.ambiguous) = r else { Issue.record("expected ambiguous, got \(r)"); return }
    }

    @Test func aPersonWalkingInIsTooLargeToBeTheTarget() {
        let r = RegistrationTargetLocator().locateThermal(
            empty: Self.thermal(face: false, seed: 1), target: Self.thermal(discs: [(16, 12, 6, 34)], face: false, seed: 2), width: 32, height: 24)
        guard case .failure(.tooLarge(_, let p)) = r else { Issue.record("expected too large, got \(r)"); return }
        #expect(p > 15)
    }

    @Test(arguments: [(100.0, 80.0), (320.0, 240.0), (560.5, 410.25), (45.0, 300.0)])
    func findsTheDiscInTheCameraImageAndIgnoresItsStand(x: Double, y: Double) throws {
        let found = try RegistrationTargetLocator().locateCamera(
            empty: Self.camera(seed: 1), target: Self.camera(discs: [(x, y, 22)], seed: 2), width: 640, height: 480, channels: 3).get()
        #expect(abs(found.x - x) < 1.5 && abs(found.y - y) < 1.5, "found \(found.x), \(found.y) for \(x), \(y)")
    }

    @Test func anUnchangedCameraImageHasNoTarget() {
        let r = RegistrationTargetLocator().locateCamera(empty: Self.camera(seed: 1), target: Self.camera(seed: 2), width: 640, height: 480, channels: 3)
        #expect(r == .failure(.noCameraChange))
    }

    @Test func twoSimilarDiscsInTheCameraAreAmbiguousAndALightChangeIsTooLarge() {
        let two = RegistrationTargetLocator().locateCamera(
            empty: Self.camera(seed: 1), target: Self.camera(discs: [(100, 100, 20), (500, 350, 20)], seed: 2), width: 640, height: 480, channels: 3)
        guard case .failure(.ambiguous) = two else { Issue.record("expected ambiguous, got \(two)"); return }
        let dark = [UInt8](repeating: 20, count: 640 * 480 * 3)
        let light = RegistrationTargetLocator().locateCamera(empty: Self.camera(seed: 1), target: dark, width: 640, height: 480, channels: 3)
        guard case .failure(.tooLarge(_, let p)) = light else { Issue.record("expected too large, got \(light)"); return }
        #expect(p > 90)
    }

    @Test func differentSizesAreRefused() {
        let r = RegistrationTargetLocator().locateCamera(empty: [0, 0, 0], target: [0, 0, 0, 0, 0, 0], width: 2, height: 1, channels: 3)
        guard case .failure(.sizeMismatch) = r else { Issue.record("expected a size mismatch, got \(r)"); return }
    }

    /// The whole scheme: six target positions found in both images fit a homography that maps the camera onto the
    /// thermal frame as the true one does, to well under a thermal pixel.
    @Test func pairsFoundInBothImagesFitTheTrueRegistration() throws {
        // Truth: the thermal sensor sees the camera's view scaled, shifted and slightly rotated.
        let truth = try Homography.fit([
            .init(cameraX: 0, cameraY: 0, thermalX: 1.2, thermalY: 0.4), .init(cameraX: 640, cameraY: 0, thermalX: 31.0, thermalY: 1.3),
            .init(cameraX: 0, cameraY: 480, thermalX: 0.6, thermalY: 23.1), .init(cameraX: 640, cameraY: 480, thermalX: 30.5, thermalY: 23.8),
        ])
        let locator = RegistrationTargetLocator()
        let emptyCam = Self.camera(seed: 1), emptyThermal = Self.thermal(face: false, seed: 1)
        var pairs: [Homography.Pair] = []
        for (i, (cx, cy)) in [(90.0, 70.0), (550.0, 80.0), (320.0, 250.0), (100.0, 400.0), (540.0, 410.0), (300.0, 120.0)].enumerated() {
            let t = truth.apply(x: cx, y: cy)
            let cam = try locator.locateCamera(empty: emptyCam, target: Self.camera(discs: [(cx, cy, 20)], seed: UInt64(10 + i)),
                                               width: 640, height: 480, channels: 3).get()
            let th = try locator.locateThermal(empty: emptyThermal, target: Self.thermal(discs: [(t.x, t.y, 1.3, 55)], face: false, seed: UInt64(20 + i)),
                                               width: 32, height: 24).get()
            pairs.append(.init(cameraX: cam.x, cameraY: cam.y, thermalX: th.x, thermalY: th.y))
        }
        let fitted = try Homography.fit(pairs)
        for (x, y) in [(0.0, 0.0), (320.0, 240.0), (640.0, 480.0), (200.0, 400.0)] {
            let a = fitted.apply(x: x, y: y), b = truth.apply(x: x, y: y)
            #expect(abs(a.x - b.x) < 0.25 && abs(a.y - b.y) < 0.25, "at \(x),\(y): fitted \(a), true \(b)")
        }
    }
}

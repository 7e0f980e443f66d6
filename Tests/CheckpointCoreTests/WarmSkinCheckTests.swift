import Foundation
import Testing
@testable import CheckpointCore

/// A face whose registered thermal region is at room temperature (a poster, a phone photo) is not a person; the
/// check says "cold" only when it is sure. Scenes: 32×24 frames, the shared field of view of a 640×480 camera.
@Suite struct WarmSkinCheckTests {
    let registration = Registration.sharedFieldOfView(cameraWidth: 640, cameraHeight: 480)
    let identity = try! ThermalCalibration(id: "t", gain: 1)

    /// Ambient everywhere, a warm face ellipse in the middle of the view (thermal x 10…22, y 5…20).
    func frame(ambient: Double = 25, face: Double? = 34, at nanos: UInt64 = 1_000) -> ThermalFrame {
        var px = [Float](repeating: Float(ambient), count: 32 * 24)
        if let face {
            for y in 0..<24 {
                for x in 0..<32 {
                    let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
                    if dx * dx + dy * dy <= 1 { px[y * 32 + x] = Float(face) }
                }
            }
        }
        return ThermalFrame(width: 32, height: 24, pixels: px, ambientC: ambient, monotonicNanos: nanos)
    }

    let centre = PixelRect(x: 270, y: 190, width: 100, height: 120)   // over the warm ellipse
    let side = PixelRect(x: 20, y: 150, width: 100, height: 120)      // a poster on the booth's wall, left

    func check(_ box: PixelRect, _ frame: ThermalFrame, now: UInt64 = 2_000) -> Bool? {
        WarmSkinCheck().warmSkin(face: box, distanceM: 0.7, frame: frame, registration: registration, calibration: identity, nowNanos: now)
    }

    @Test func aPersonsFaceIsWarmAndAPosterBesideItIsCold() {
        #expect(check(centre, frame()) == true)
        #expect(check(side, frame()) == false)
    }

    @Test func aFarFaceOfAFewMixedPixelsStillReadsWarm() {
        // At 1.5 m a face covers 2–3 thermal pixels and mixes with the background: 31 °C is skin, not a poster.
        #expect(check(PixelRect(x: 300, y: 220, width: 40, height: 48), frame(face: 31)) == true)
    }

    @Test func onAHotDayNothingIsCalledCold() {
        // The room is as warm as skin: the check cannot tell and must not remove a face from the people count.
        #expect(check(side, frame(ambient: 33, face: 35)) != false)
        // A room at 29 °C with the poster at 29: below 30 but a real face would stand out; the poster does not.
        #expect(check(side, frame(ambient: 29, face: 34)) == false)
    }

    @Test func withoutAFreshArrayFrameItDoesNotKnow() {
        #expect(check(side, frame(at: 1_000), now: 1_000 + 1_500_000_000) == nil)      // 1.5 s old
        let single = ThermalFrame(width: 1, height: 1, pixels: [25], ambientC: 25, monotonicNanos: 1_000)
        #expect(check(side, single) == nil)
        #expect(check(PixelRect(x: 700, y: 500, width: 50, height: 50), frame()) == nil)  // outside the thermal view
    }

    @Test func theCalibrationIsApplied() throws {
        // A sensor reading 4 °C low (gain 1, offset +4): the raw 27 °C skin is 31 °C: warm.
        let offset = try ThermalCalibration(id: "t", gain: 1, offset: 4)
        let f = frame(ambient: 22, face: 27)
        #expect(WarmSkinCheck().warmSkin(face: centre, distanceM: 0.7, frame: f, registration: registration, calibration: offset, nowNanos: 2_000) == true)
    }
}

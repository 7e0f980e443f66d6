/// Whether a face's registered thermal region holds warm skin. The camera cannot tell a printed or on-screen face
/// (a poster on the booth's wall, a photo on a phone) from a person; the thermal sensor can: such a face is at the
/// temperature of the room. A face whose region is cold is not a person at the kiosk, so it never makes the kiosk
/// say "one person at a time" to someone standing alone beside a poster.
///
/// The check only ever removes a face from the people count, so it is built to say "cold" only when it is sure:
/// the hottest calibrated pixel of the region is below `minSkinC` *and* no more than `minContrastC` above the
/// frame's median (on a hot day, when the room is as warm as skin, nothing is called cold). Without a fresh frame,
/// with a single-point sensor, or when the region falls outside the frame, it does not know (nil): the face counts.
public struct WarmSkinCheck: Sendable, Equatable {
    /// A region whose hottest pixel reaches this (calibrated, before distance and skin-to-body) holds skin, °C.
    /// Skin reads 31–35 °C on an MLX90640 at the kiosk's range; a face of 2–3 thermal pixels at 1.5 m, mixed with
    /// the background, still reads above 30 °C.
    public var minSkinC: Double
    /// … or stands this far above the frame's median, °C.
    public var minContrastC: Double
    /// A thermal frame older than this says nothing about the face in this camera frame, ns.
    public var maxFrameAgeNanos: UInt64

    public init(minSkinC: Double = 30, minContrastC: Double = 2, maxFrameAgeNanos: UInt64 = 1_000_000_000) {
        self.minSkinC = minSkinC
        self.minContrastC = minContrastC
        self.maxFrameAgeNanos = maxFrameAgeNanos
    }

    /// True: warm skin in the face's region; false: the region is at room temperature; nil: cannot tell.
    public func warmSkin(face box: PixelRect, distanceM: Double, frame: ThermalFrame, registration: Registration,
                         calibration: ThermalCalibration, nowNanos: UInt64) -> Bool? {
        guard !frame.isSinglePoint, frame.width > 0, frame.height > 0, frame.pixels.count == frame.width * frame.height,
              frame.monotonicNanos &+ maxFrameAgeNanos >= nowNanos else { return nil }
        let r = registration.map(box, distanceM: distanceM)
        let x0 = max(0, Int((r.x).rounded(.down))), x1 = min(frame.width - 1, Int((r.maxX).rounded(.up)) - 1)
        let y0 = max(0, Int((r.y).rounded(.down))), y1 = min(frame.height - 1, Int((r.maxY).rounded(.up)) - 1)
        guard x0 <= x1, y0 <= y1 else { return nil }
        func calibrated(_ raw: Float) -> Double {
            let s = calibration.correct(rawC: Double(raw), ambientC: frame.ambientC, distanceM: 0)
            return s.fittedC + s.ambientTermC
        }
        var hottest = -Double.infinity
        for y in y0...y1 {
            for x in x0...x1 { hottest = max(hottest, calibrated(frame.pixels[y * frame.width + x])) }
        }
        if hottest >= minSkinC { return true }
        let sorted = frame.pixels.sorted()
        let median = calibrated(sorted[sorted.count / 2])
        return hottest > median + minContrastC
    }
}

/// A camera frame as a technician checks a running kiosk (`GET /v1/camera/snapshot.png`, `checkpointctl camera live`):
/// every detected face with its box (green: the face being measured; amber: any other) and 5 landmarks, the
/// thermal frame laid over it through the registration (so a misregistered sensor shows at a glance: the warm
/// blob beside the face), and a band of text with the readiness reasons, distance and the face's temperature.
/// For a technician's eyes only: never stored by the daemon, never uploaded.
public enum TechnicianSnapshot {
    public struct Face: Sendable, Equatable {
        public var box: FaceBox
        public var landmarks: FaceLandmarks?
        public var score: Double
        public var measured: Bool
        public init(box: FaceBox, landmarks: FaceLandmarks?, score: Double, measured: Bool) {
            self.box = box
            self.landmarks = landmarks
            self.score = score
            self.measured = measured
        }
    }

    /// The thermal side: the newest frame, how it registers onto the camera, and how it is calibrated.
    public struct Thermal: Sendable {
        public var frame: ThermalFrame
        public var registration: Registration
        public var calibration: ThermalCalibration
        /// The distance the overlay is registered at (the measured face's, else the nominal one).
        public var distanceM: Double
        public init(frame: ThermalFrame, registration: Registration, calibration: ThermalCalibration, distanceM: Double) {
            self.frame = frame
            self.registration = registration
            self.calibration = calibration
            self.distanceM = distanceM
        }
    }

    /// What the screening side adds to a snapshot (`ScreeningHub.snapshotContext()`).
    public struct Context: Sendable {
        public var thermal: Thermal?
        public var lines: [String]
        public init(thermal: Thermal?, lines: [String]) {
            self.thermal = thermal
            self.lines = lines
        }
    }

    public static let landmarkColor: (UInt8, UInt8, UInt8) = (255, 0, 255)
    /// Thermal overlay range: below `overlayFromC` nothing is tinted, at `overlayToC` fully red.
    public static let overlayFromC = 30.0, overlayToC = 38.0

    /// Draws on a copy of `frame` (BGR); gray frames are drawn on as they are, without the thermal tint.
    public static func render(_ frame: Frame, faces: [Face], thermal: Thermal?, lines: [String]) -> Frame {
        var out = frame
        if let thermal, out.layout == .bgr24, !thermal.frame.isSinglePoint { overlay(&out, thermal) }
        let thickness = max(2, out.width / 320)
        for f in faces.sorted(by: { !$0.measured && $1.measured }) {
            FrameDrawing.drawRectangle(&out, x: Int(f.box.x.rounded()), y: Int(f.box.y.rounded()), width: Int(f.box.width.rounded()),
                                       height: Int(f.box.height.rounded()), thickness: thickness,
                                       color: f.measured ? PreviewRendering.readyColor : PreviewRendering.otherColor)
            for p in f.landmarks?.points ?? [] {
                let r = max(2, out.width / 213)
                FrameDrawing.drawRectangle(&out, x: Int(p.x.rounded()) - r, y: Int(p.y.rounded()) - r, width: 2 * r + 1, height: 2 * r + 1,
                                           thickness: r + 1, color: landmarkColor)
            }
            BitmapFont.draw(String(format: "%.2f", f.score), on: &out, x: Int(f.box.x.rounded()), y: Int(f.box.maxY.rounded()) + 4, scale: 2,
                            color: f.measured ? PreviewRendering.readyColor : PreviewRendering.otherColor)
        }
        // The text band: dark, so the letters read on any scene.
        let scale = out.width >= 480 ? 2 : 1
        let lineHeight = (BitmapFont.glyphHeight + 3) * scale
        let lines = wrap(lines, columns: max(8, (out.width - 8 * scale) / ((BitmapFont.glyphWidth + 1) * scale)))
        let band = min(out.height, lines.count * lineHeight + 4 * scale)
        darken(&out, rows: band)
        for (i, line) in lines.enumerated() {
            BitmapFont.draw(line, on: &out, x: 4 * scale, y: 2 * scale + i * lineHeight, scale: scale, color: (255, 255, 255))
        }
        return out
    }

    /// Tints each camera pixel by the calibrated temperature of the thermal pixel it registers to (red = warm).
    static func overlay(_ out: inout Frame, _ t: Thermal) {
        let w = out.width, h = out.height
        let tw = t.frame.width, th = t.frame.height
        let span = overlayToC - overlayFromC
        // Camera → thermal for each pixel, through the homography (with the parallax at the overlay's distance).
        let calibrated = t.frame.pixels.map { px -> Double in
            let s = t.calibration.correct(rawC: Double(px), ambientC: t.frame.ambientC, distanceM: 0)
            return s.fittedC + s.ambientTermC
        }
        out.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0..<h {
                for x in 0..<w {
                    let m = t.registration.map(x: Double(x) + 0.5, y: Double(y) + 0.5, distanceM: t.distanceM)
                    let tx = Int(m.x.rounded(.down)), ty = Int(m.y.rounded(.down))
                    guard tx >= 0, tx < tw, ty >= 0, ty < th else { continue }
                    let a = min(max((calibrated[ty * tw + tx] - overlayFromC) / span, 0), 1) * 0.55
                    guard a > 0 else { continue }
                    let o = (y * w + x) * 3
                    px[o] = UInt8(Double(px[o]) * (1 - a))
                    px[o + 1] = UInt8(Double(px[o + 1]) * (1 - a))
                    px[o + 2] = UInt8(Double(px[o + 2]) * (1 - a) + 255 * a)
                }
            }
        }
    }

    /// Lines broken at spaces (or hard, for a word too long) to fit `columns` characters.
    static func wrap(_ lines: [String], columns: Int) -> [String] {
        lines.flatMap { line -> [String] in
            var out: [String] = [], current = ""
            for word in line.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
                let candidate = current.isEmpty ? word : current + " " + word
                if candidate.count <= columns { current = candidate; continue }
                if !current.isEmpty { out.append(current) }
                var rest = word
                while rest.count > columns { out.append(String(rest.prefix(columns))); rest = String(rest.dropFirst(columns)) }
                current = rest
            }
            if !current.isEmpty || out.isEmpty { out.append(current) }
            return out
        }
    }

    static func darken(_ out: inout Frame, rows: Int) {
        let n = rows * out.width * out.layout.bytesPerPixel
        out.pixels.withUnsafeMutableBufferPointer { px in
            for i in 0..<min(n, px.count) { px[i] = px[i] / 4 }
        }
    }
}

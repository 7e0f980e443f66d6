/// One page a province can file for a kiosk's calibration (`checkpointctl calibrate report`): who calibrated what
/// and when, the blackbody fit with its points and residuals (table and plot), the distance table (plot), the
/// camera→thermal registration (the thermal pixel grid laid over the camera's field of view) and the audit history.
/// A4 portrait at 150 dpi by default; white paper, black text.
public enum CalibrationReport {
    public static let ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
    public static let accent: (UInt8, UInt8, UInt8) = (200, 90, 0)      // BGR: blue
    public static let mark: (UInt8, UInt8, UInt8) = (0, 0, 220)         // BGR: red

    public static func render(_ file: CalibrationFile, width: Int = 1240, height: Int = 1754) -> Frame {
        var page = Frame(width: width, height: height, layout: .bgr24, pixels: .init(repeating: 255, count: width * height * 3),
                         sequence: 0, monotonicNanos: 0)
        let margin = width / 16
        var y = margin
        func text(_ s: String, scale: Int = 2, color: (UInt8, UInt8, UInt8) = ink) {
            for line in TechnicianSnapshot.wrap([s], columns: (width - 2 * margin) / ((BitmapFont.glyphWidth + 1) * scale)) {
                BitmapFont.draw(line, on: &page, x: margin, y: y, scale: scale, color: color)
                y += (BitmapFont.glyphHeight + 4) * scale
            }
        }
        text("CHECKPOINTD THERMAL CALIBRATION", scale: 4)
        y += 10
        text("SENSOR \(file.sensor.model)  SERIAL \(file.sensor.serial)  EMISSIVITY \(f(file.sensor.emissivity, 2))")
        text("CALIBRATION \(file.record.id)  \(file.record.method.rawValue)")
        text("BY \(file.record.calibratedBy)  AT \(file.record.calibratedAt)")
        y += 16
        text("1. BLACKBODY FIT: CORRECTED = \(f(file.fit.gain, 5)) X RAW \(file.fit.offset < 0 ? "-" : "+") \(f(abs(file.fit.offset), 4)) °C", scale: 3)
        text("RESIDUAL RMS \(f(file.fit.residualRMSC, 3)) °C, MAX \(f(file.fit.maxResidualC, 3)) °C")
        for p in file.fit.points {
            let r = p.referenceC - (file.fit.gain * p.rawC + file.fit.offset)
            text("  RAW \(f(p.rawC, 2)) °C  REFERENCE \(f(p.referenceC, 2)) °C  RESIDUAL \(f(r, 3)) °C")
        }
        let plotH = height / 7
        let fitPlot = (x: margin, y: y + 8, w: (width - 3 * margin) / 2, h: plotH)
        let points = file.fit.points.map { ($0.rawC, $0.referenceC) }
        if let lo = points.map(\.0).min(), let hi = points.map(\.0).max() {
            let xs = (lo - 1)...(hi + 1)
            let yvals = points.map(\.1) + [xs.lowerBound, xs.upperBound].map { file.fit.gain * $0 + file.fit.offset }
            plot(&page, frame: fitPlot, xRange: xs, yRange: (yvals.min()! - 0.5)...(yvals.max()! + 0.5),
                 line: [(xs.lowerBound, file.fit.gain * xs.lowerBound + file.fit.offset), (xs.upperBound, file.fit.gain * xs.upperBound + file.fit.offset)],
                 points: points, xLabel: "RAW °C", yLabel: "REFERENCE °C")
        }
        let distPlot = (x: 2 * margin + fitPlot.w, y: y + 8, w: fitPlot.w, h: plotH)
        let table = file.distance.map { ($0.distanceM, $0.offsetC) }
        if !table.isEmpty {
            let offsets = table.map(\.1)
            plot(&page, frame: distPlot, xRange: 0...max(1.2, table.map(\.0).max()! + 0.1),
                 yRange: (min(offsets.min()!, 0) - 0.3)...(max(offsets.max()!, 0) + 0.3),
                 line: table, points: table, xLabel: "DISTANCE M", yLabel: "OFFSET °C")
        }
        y += plotH + 60
        text("2. DISTANCE TABLE: " + (table.isEmpty ? "NONE" : table.map { "\(f($0.0, 2)) M \(f($0.1, 2))" }.joined(separator: ", ")), scale: 3)
        text("AMBIENT COEFFICIENT \(f(file.ambient.coefficient, 3)) PER °C FROM \(f(file.ambient.referenceC, 1)) °C.  SKIN TO BODY +\(f(file.skinToBodyOffsetC, 2)) °C")
        y += 10
        text("3. REGISTRATION AT \(f(file.registration.nominalDistanceM, 2)) M (THERMAL PIXELS OVER THE CAMERA VIEW)", scale: 3)
        if let registration = try? Registration(homography: Homography(file.registration.homography),
                                                nominalDistanceM: file.registration.nominalDistanceM,
                                                baselineM: file.registration.baselineM, parallaxPxM: file.registration.parallaxPxM) {
            let box = (x: margin, y: y + 8, w: (width - 2 * margin) / 2, h: (width - 2 * margin) * 3 / 8)
            registrationGrid(&page, frame: box, registration: registration)
            y += box.h + 30
        }
        text("4. HISTORY", scale: 3)
        for h in file.history.suffix(12) { text(h) }
        if file.history.isEmpty { text("NO RECORDED CHANGES") }
        return page
    }

    static func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// Axes, a polyline and points in a box.
    static func plot(_ page: inout Frame, frame b: (x: Int, y: Int, w: Int, h: Int), xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                     line: [(Double, Double)], points: [(Double, Double)], xLabel: String, yLabel: String) {
        FrameDrawing.drawRectangle(&page, x: b.x, y: b.y, width: b.w, height: b.h, thickness: 2, color: ink)
        func px(_ p: (Double, Double)) -> (Int, Int) {
            let fx = (p.0 - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
            let fy = (p.1 - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
            return (b.x + Int(fx * Double(b.w)), b.y + b.h - Int(fy * Double(b.h)))
        }
        for (a, c) in zip(line, line.dropFirst()) { drawLine(&page, px(a), px(c), color: accent) }
        for p in points {
            let (x, y) = px(p)
            FrameDrawing.drawRectangle(&page, x: x - 5, y: y - 5, width: 11, height: 11, thickness: 6, color: mark)
        }
        BitmapFont.draw(xLabel + " " + String(format: "%.1f-%.1f", xRange.lowerBound, xRange.upperBound), on: &page, x: b.x, y: b.y + b.h + 8, scale: 2, color: ink)
        BitmapFont.draw(yLabel + " " + String(format: "%.1f-%.1f", yRange.lowerBound, yRange.upperBound), on: &page, x: b.x + 6, y: b.y + 6, scale: 2, color: ink)
    }

    /// The camera's 640×480 field of view in a box, each camera point shaded by the thermal pixel it registers to (a
    /// checkerboard), so a rotated, shifted or too small thermal field is seen at once.
    static func registrationGrid(_ page: inout Frame, frame b: (x: Int, y: Int, w: Int, h: Int), registration: Registration) {
        let camW = 640.0, camH = 480.0
        page.pixels.withUnsafeMutableBufferPointer { px in
            for yy in 0..<b.h {
                for xx in 0..<b.w {
                    let m = registration.map(x: Double(xx) / Double(b.w) * camW, y: Double(yy) / Double(b.h) * camH,
                                             distanceM: registration.nominalDistanceM)
                    let tx = Int(m.x.rounded(.down)), ty = Int(m.y.rounded(.down))
                    let inside = tx >= 0 && tx < 32 && ty >= 0 && ty < 24
                    let shade: UInt8 = inside ? ((tx + ty) % 2 == 0 ? 150 : 200) : 245
                    let o = ((b.y + yy) * page.width + b.x + xx) * 3
                    guard o + 2 < px.count else { continue }
                    px[o] = shade; px[o + 1] = shade; px[o + 2] = inside ? 255 : shade
                }
            }
        }
        FrameDrawing.drawRectangle(&page, x: b.x, y: b.y, width: b.w, height: b.h, thickness: 2, color: ink)
    }

    static func drawLine(_ page: inout Frame, _ a: (Int, Int), _ c: (Int, Int), color: (UInt8, UInt8, UInt8)) {
        let steps = max(abs(c.0 - a.0), abs(c.1 - a.1), 1)
        for i in 0...steps {
            let x = a.0 + (c.0 - a.0) * i / steps, y = a.1 + (c.1 - a.1) * i / steps
            FrameDrawing.drawRectangle(&page, x: x - 1, y: y - 1, width: 3, height: 3, thickness: 2, color: color)
        }
    }
}

/// An axis-aligned rectangle in pixels (camera or thermal coordinates).
public struct PixelRect: Sendable, Equatable, Codable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    public var centreX: Double { x + width / 2 }
    public var centreY: Double { y + height / 2 }
}

/// A 3×3 projective transform, row-major, mapping camera pixels to thermal pixels.
public struct Homography: Sendable, Equatable {
    public var m: [Double]

    public init(_ m: [Double]) throws(CoreError) {
        guard m.count == 9, m.allSatisfy(\.isFinite) else {
            throw CoreError(.invalidCalibration, "a homography needs 9 finite numbers (row-major), got \(m.count)")
        }
        guard abs(Self.determinant(m)) > 1e-12 else {
            throw CoreError(.invalidCalibration, "the homography is singular (determinant 0)")
        }
        self.m = m
    }

    /// A pure scaling: the camera and the sensor share their field of view (the uncalibrated default).
    public static func scaling(fromWidth cw: Double, height ch: Double, toWidth tw: Double, height th: Double) -> Homography {
        try! Homography([tw / cw, 0, 0, 0, th / ch, 0, 0, 0, 1])
    }

    public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
        let w = m[6] * x + m[7] * y + m[8]
        return ((m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w)
    }

    static func determinant(_ a: [Double]) -> Double {
        a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
    }

    static func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { out[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c] } } }
        return out
    }

    /// A point seen by the camera and by the sensor (a heated target).
    public struct Pair: Sendable, Equatable {
        public var cameraX: Double, cameraY: Double, thermalX: Double, thermalY: Double
        public init(cameraX: Double, cameraY: Double, thermalX: Double, thermalY: Double) {
            self.cameraX = cameraX; self.cameraY = cameraY; self.thermalX = thermalX; self.thermalY = thermalY
        }
    }

    /// Least-squares DLT fit (h33 = 1) on Hartley-normalised points; needs ≥ 4 pairs, not all on one line.
    public static func fit(_ pairs: [Pair]) throws(CoreError) -> Homography {
        guard pairs.count >= 4 else {
            throw CoreError(.fitFailed, "a homography needs at least 4 point pairs, got \(pairs.count)")
        }
        func normaliser(_ pts: [(Double, Double)]) -> [Double] {
            let n = Double(pts.count)
            let cx = pts.reduce(0) { $0 + $1.0 } / n, cy = pts.reduce(0) { $0 + $1.1 } / n
            let meanDist = pts.reduce(0) { $0 + ((($1.0 - cx) * ($1.0 - cx) + ($1.1 - cy) * ($1.1 - cy)).squareRoot()) } / n
            let s = meanDist > 1e-12 ? 2.0.squareRoot() / meanDist : 1
            return [s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1]
        }
        let t1 = normaliser(pairs.map { ($0.cameraX, $0.cameraY) })
        let t2 = normaliser(pairs.map { ($0.thermalX, $0.thermalY) })
        var ata = [Double](repeating: 0, count: 64)
        var atb = [Double](repeating: 0, count: 8)
        func addRow(_ row: [Double], _ rhs: Double) {
            for i in 0..<8 {
                atb[i] += row[i] * rhs
                for j in 0..<8 { ata[i * 8 + j] += row[i] * row[j] }
            }
        }
        for p in pairs {
            let x = t1[0] * p.cameraX + t1[2], y = t1[4] * p.cameraY + t1[5]
            let u = t2[0] * p.thermalX + t2[2], v = t2[4] * p.thermalY + t2[5]
            addRow([x, y, 1, 0, 0, 0, -u * x, -u * y], u)
            addRow([0, 0, 0, x, y, 1, -v * x, -v * y], v)
        }
        guard let h = solve(ata, atb, n: 8) else {
            throw CoreError(.fitFailed, "the point pairs do not determine a homography (are they all on one line?)")
        }
        let hn = h + [1]
        // H = T2⁻¹ · Hn · T1
        let s2 = t2[0]
        let t2inv = [1 / s2, 0, -t2[2] / s2, 0, 1 / s2, -t2[5] / s2, 0, 0, 1]
        var out = multiply(t2inv, multiply(hn, t1))
        let scale = out[8]
        guard abs(scale) > 1e-15 else { throw CoreError(.fitFailed, "the fitted homography is degenerate") }
        out = out.map { $0 / scale }
        return try Homography(out)
    }

    /// Gaussian elimination with partial pivoting; nil when singular.
    static func solve(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
        var a = a, b = b
        for col in 0..<n {
            var pivot = col
            for r in (col + 1)..<n where abs(a[r * n + col]) > abs(a[pivot * n + col]) { pivot = r }
            guard abs(a[pivot * n + col]) > 1e-10 else { return nil }
            if pivot != col {
                for k in 0..<n { a.swapAt(col * n + k, pivot * n + k) }
                b.swapAt(col, pivot)
            }
            for r in (col + 1)..<n {
                let f = a[r * n + col] / a[col * n + col]
                if f == 0 { continue }
                for k in col..<n { a[r * n + k] -= f * a[col * n + k] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for k in (r + 1)..<n { s -= a[r * n + k] * x[k] }
            x[r] = s / a[r * n + r]
        }
        return x
    }
}

/// Camera → thermal registration: a homography fitted at the nominal distance, plus a parallax shift
/// along the camera–sensor baseline, `Δx = parallaxPxM · (1/Z − 1/Z₀)` (thermal px).
public struct Registration: Sendable, Equatable {
    public var homography: Homography
    public var nominalDistanceM: Double
    public var baselineM: Double
    /// Focal length (thermal px) × baseline (m): the disparity at 1 m.
    public var parallaxPxM: Double

    public init(homography: Homography, nominalDistanceM: Double = 0.5, baselineM: Double = 0, parallaxPxM: Double = 0) throws(CoreError) {
        guard nominalDistanceM > 0, nominalDistanceM.isFinite else {
            throw CoreError(.invalidCalibration, "registration nominal distance must be > 0 m, not \(nominalDistanceM)")
        }
        guard parallaxPxM.isFinite, baselineM.isFinite else { throw CoreError(.invalidCalibration, "registration parallax is not a number") }
        self.homography = homography
        self.nominalDistanceM = nominalDistanceM
        self.baselineM = baselineM
        self.parallaxPxM = parallaxPxM
    }

    public static func sharedFieldOfView(cameraWidth: Int, cameraHeight: Int, thermalWidth: Int = 32, thermalHeight: Int = 24) -> Registration {
        try! Registration(homography: .scaling(fromWidth: Double(cameraWidth), height: Double(cameraHeight),
                                               toWidth: Double(thermalWidth), height: Double(thermalHeight)))
    }

    public func parallaxShift(distanceM: Double) -> Double {
        guard distanceM > 0, distanceM.isFinite else { return 0 }
        return parallaxPxM * (1 / distanceM - 1 / nominalDistanceM)
    }

    public func map(x: Double, y: Double, distanceM: Double) -> (x: Double, y: Double) {
        let p = homography.apply(x: x, y: y)
        return (p.x + parallaxShift(distanceM: distanceM), p.y)
    }

    /// Maps a camera box to the bounding box of its four mapped corners, in thermal pixels.
    public func map(_ box: PixelRect, distanceM: Double) -> PixelRect {
        let corners = [(box.x, box.y), (box.maxX, box.y), (box.x, box.maxY), (box.maxX, box.maxY)].map { map(x: $0.0, y: $0.1, distanceM: distanceM) }
        let xs = corners.map(\.x), ys = corners.map(\.y)
        let minX = xs.min()!, minY = ys.min()!
        return PixelRect(x: minX, y: minY, width: xs.max()! - minX, height: ys.max()! - minY)
    }

    /// Fits the parallax term from pairs taken at other distances than the nominal one: least squares on
    /// the residual horizontal shift against (1/Z − 1/Z₀).
    public static func fitParallax(homography: Homography, pairs: [(pair: Homography.Pair, distanceM: Double)], nominalDistanceM: Double) -> Double {
        var num = 0.0, den = 0.0
        for (p, z) in pairs where z > 0 {
            let u = 1 / z - 1 / nominalDistanceM
            let predicted = homography.apply(x: p.cameraX, y: p.cameraY)
            num += (p.thermalX - predicted.x) * u
            den += u * u
        }
        return den > 1e-12 ? num / den : 0
    }
}

/// Finds the calibration blackbody in a thermal frame, so a technician does not have to read pixel coordinates off
/// a thermal map: the compact block that stands out most from its surroundings.
///
/// A blackbody's aperture is a small, uniform patch far from the scene's temperature; a face is a large warm area
/// (a window inside it has no contrast with its ring), a lamp or a hot edge is not uniform. So every `size × size`
/// window is scored by its mean minus the mean of the one-pixel ring around it, among windows whose own spread is
/// small and that stand out from each side of the ring; the best one wins if its contrast is clear.
public struct BlackbodyLocator: Sendable, Equatable {
    /// Window side, in thermal pixels (the simulator's and a typical 5 cm aperture at 0.5 m: 3).
    public var size: Int
    /// Least |window − ring| to accept, °C.
    public var minContrastC: Double
    /// Largest standard deviation inside the window, °C (uniform aperture).
    public var maxSpreadC: Double

    public init(size: Int = 3, minContrastC: Double = 3, maxSpreadC: Double = 0.6) {
        self.size = size
        self.minContrastC = minContrastC
        self.maxSpreadC = maxSpreadC
    }

    public struct Found: Sendable, Equatable {
        public var x: Int, y: Int, width: Int, height: Int
        public var meanC: Double
        /// Window mean − ring mean, °C (negative for a blackbody colder than the scene).
        public var contrastC: Double
        public var spreadC: Double
        /// The second-best window's contrast outside this one's ring, °C: close to `contrastC` means two candidates.
        public var runnerUpContrastC: Double?
    }

    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case singlePoint
        case frameTooSmall(width: Int, height: Int)
        case noBlackbody(bestContrastC: Double)
        case ambiguous(first: Found, second: Found)

        public var description: String {
            switch self {
            case .singlePoint: return "a single-point sensor has no image to search: aim it at the blackbody"
            case .frameTooSmall(let w, let h): return "a \(w)×\(h) frame is too small to find a blackbody in"
            case .noBlackbody(let c):
                return "no blackbody found: no compact uniform block differs from its surroundings by 3 °C or more (best \(fmt(c)) °C); "
                    + "aim the sensor at it, or give --region"
            case .ambiguous(let a, let b):
                return "two candidate blackbodies, at (\(a.x),\(a.y)) and (\(b.x),\(b.y)), contrast \(fmt(a.contrastC)) and \(fmt(b.contrastC)) °C: "
                    + "cover one, or give --region"
            }
        }
    }

    /// The blackbody in `frame`, or why there is none.
    public func locate(in frame: ThermalFrame) -> Result<Found, Problem> {
        if frame.isSinglePoint { return .failure(.singlePoint) }
        let n = size
        guard frame.width >= n + 2, frame.height >= n + 2 else { return .failure(.frameTooSmall(width: frame.width, height: frame.height)) }
        var candidates: [Found] = []
        var best = 0.0
        // Windows whose ring fits inside the frame.
        for y in 1...(frame.height - n - 1) {
            for x in 1...(frame.width - n - 1) {
                var sum = 0.0, sumSq = 0.0
                for yy in y..<(y + n) { for xx in x..<(x + n) { let v = Double(frame[xx, yy]); sum += v; sumSq += v * v } }
                let count = Double(n * n)
                let mean = sum / count
                let spread = max(0, sumSq / count - mean * mean).squareRoot()
                // The ring's four sides: a compact object stands out from every side; the edge of a large warm area
                // (a face, a wall heater) does not stand out from its inner side.
                var sides = [0.0, 0.0, 0.0, 0.0]
                for i in 0..<n {
                    sides[0] += Double(frame[x + i, y - 1]); sides[1] += Double(frame[x + i, y + n])
                    sides[2] += Double(frame[x - 1, y + i]); sides[3] += Double(frame[x + n, y + i])
                }
                let sideContrasts = sides.map { mean - $0 / Double(n) }
                let contrast = sideContrasts.reduce(0, +) / 4
                let weakestSide = contrast >= 0 ? sideContrasts.min()! : -sideContrasts.max()!
                best = max(best, abs(contrast))
                if spread <= maxSpreadC, abs(contrast) >= minContrastC, weakestSide >= minContrastC / 2 {
                    candidates.append(Found(x: x, y: y, width: n, height: n, meanC: mean, contrastC: contrast, spreadC: spread))
                }
            }
        }
        candidates.sort { abs($0.contrastC) > abs($1.contrastC) }
        guard var first = candidates.first else { return .failure(.noBlackbody(bestContrastC: best)) }
        // Windows overlapping the winner or its ring are the same object; any other is a second candidate.
        let others = candidates.dropFirst().filter { c in
            c.x + c.width < first.x - 1 || c.x > first.x + first.width || c.y + c.height < first.y - 1 || c.y > first.y + first.height
        }
        if let second = others.first {
            if abs(second.contrastC) > 0.8 * abs(first.contrastC) { return .failure(.ambiguous(first: first, second: second)) }
            first.runnerUpContrastC = second.contrastC
        }
        return .success(first)
    }

    /// The frame as text, one character per pixel from cold (`.`) to hot (`@`), the found block as `#`: for a technician's
    /// terminal, to see that the tool found what they aimed at.
    public static func map(_ frame: ThermalFrame, marking found: Found?) -> [String] {
        ThermalMap.lines(frame.pixels.map(Double.init), width: frame.width, height: frame.height) { x, y in
            guard let f = found, x >= f.x, x < f.x + f.width, y >= f.y, y < f.y + f.height else { return nil }
            return "#"
        }
    }
}

private func fmt(_ v: Double) -> String {
    let r = (v * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) + ".0" : String(r)
}

/// Finds a heated registration target in the camera image and in the thermal frame, so `calibrate registration
/// --auto` needs no pixel coordinates typed: each position of the target gives one camera↔thermal point pair.
///
/// The target is whatever appeared since the empty scene was captured (background subtraction), because a kiosk's
/// booth is static while the technician calibrates and a heated disc on a stand is the usual target: in the thermal
/// frame it is the compact block that warmed by several degrees; in the camera it is the compact region that changed,
/// after a morphological opening that removes thin parts such as the stand or a cable. Positions are sub-pixel
/// centroids in continuous coordinates (pixel i spans [i, i+1), its centre is i + 0.5), as `Registration` maps them.
public struct RegistrationTargetLocator: Sendable, Equatable {
    /// Least warming of the target's hottest thermal pixel over the empty scene, °C.
    public var minThermalRiseC: Double
    /// Least change of a camera pixel's grey level (0…255) to count as the target.
    public var minCameraChange: Int
    /// Opening radius in the camera image, in working pixels (the image is worked on at ≤ 320 px wide): parts of the
    /// change thinner than 2·radius+1 are not the target.
    public var openingRadius: Int
    /// Largest share of either image the target may cover; more means the scene changed (a person, the light).
    public var maxAreaFraction: Double

    public init(minThermalRiseC: Double = 3, minCameraChange: Int = 40, openingRadius: Int = 2, maxAreaFraction: Double = 0.15) {
        self.minThermalRiseC = minThermalRiseC
        self.minCameraChange = minCameraChange
        self.openingRadius = openingRadius
        self.maxAreaFraction = maxAreaFraction
    }

    /// Where the target is in one image.
    public struct Found: Sendable, Equatable {
        /// Centroid, continuous pixel coordinates of the image it was found in.
        public var x: Double
        public var y: Double
        /// Pixels of the image that are the target.
        public var pixels: Int
        /// Thermal: the hottest pixel's rise, °C; camera: the mean grey-level change of the target's pixels.
        public var contrast: Double
    }

    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case sizeMismatch(String)
        case noThermalRise(bestC: Double)
        case noCameraChange
        case tooLarge(image: String, percent: Int)
        case ambiguous(image: String, first: (Double, Double), second: (Double, Double))

        public static func == (a: Problem, b: Problem) -> Bool { a.description == b.description }

        public var description: String {
            switch self {
            case .sizeMismatch(let what): return "the empty-scene and target images differ in size (\(what)): capture the empty scene again"
            case .noThermalRise(let c):
                return "no heated target in the thermal frame: nothing warmed by 3 °C or more over the empty scene (most \(fmt(c)) °C); "
                    + "is the target hot and in the sensor's view?"
            case .noCameraChange:
                return "no target in the camera image: nothing compact changed since the empty scene; is the target in the camera's view?"
            case .tooLarge(let image, let p):
                return "the change in the \(image) covers \(p) % of it: someone is in view or the scene changed; step aside, or capture the empty scene again"
            case .ambiguous(let image, let a, let b):
                return "two candidate targets in the \(image), at (\(fmt(a.0)), \(fmt(a.1))) and (\(fmt(b.0)), \(fmt(b.1))): remove the other warm or moved object"
            }
        }

        private func fmt(_ v: Double) -> String {
            let r = (v * 10).rounded() / 10
            return r == r.rounded() ? String(Int(r)) : String(r)
        }
    }

    // MARK: thermal

    /// The target in a thermal frame (row-major °C), against the empty scene's frame.
    public func locateThermal(empty: [Double], target: [Double], width: Int, height: Int) -> Result<Found, Problem> {
        guard empty.count == width * height, target.count == width * height, width > 0, height > 0 else {
            return .failure(.sizeMismatch("thermal \(empty.count) and \(target.count) values for \(width)×\(height)"))
        }
        let rise = zip(target, empty).map { $0 - $1 }
        guard let peak = rise.indices.max(by: { rise[$0] < rise[$1] }), rise[peak] >= minThermalRiseC else {
            return .failure(.noThermalRise(bestC: rise.max() ?? 0))
        }
        let top = rise[peak]
        // The target: pixels connected to the peak that rose by at least a tenth of it (the disc's partly covered rim
        // pixels included, so the centroid is sub-pixel); a second block rising by half the peak elsewhere is ambiguous.
        let member = rise.map { $0 >= max(0.1 * top, minThermalRiseC / 4) }
        let blob = Self.component(of: peak, in: member, width: width, height: height)
        if Double(blob.count) > maxAreaFraction * Double(width * height) {
            return .failure(.tooLarge(image: "thermal frame", percent: Int((100 * Double(blob.count) / Double(width * height)).rounded())))
        }
        let inBlob = Set(blob)
        if let other = rise.indices.filter({ !inBlob.contains($0) && rise[$0] >= 0.5 * top && rise[$0] >= minThermalRiseC })
            .max(by: { rise[$0] < rise[$1] }) {
            return .failure(.ambiguous(image: "thermal frame", first: Self.centre(peak, width), second: Self.centre(other, width)))
        }
        var sw = 0.0, sx = 0.0, sy = 0.0
        for i in blob {
            let w = max(rise[i], 0)
            sw += w
            sx += w * (Double(i % width) + 0.5)
            sy += w * (Double(i / width) + 0.5)
        }
        return .success(Found(x: sx / sw, y: sy / sw, pixels: blob.count, contrast: top))
    }

    // MARK: camera

    /// The target in a camera image (packed, `channels` 1 or 3 bytes per pixel), against the empty scene's image.
    public func locateCamera(empty: [UInt8], target: [UInt8], width: Int, height: Int, channels: Int) -> Result<Found, Problem> {
        let n = width * height * channels
        guard width > 0, height > 0, channels == 1 || channels == 3, empty.count == n, target.count == n else {
            return .failure(.sizeMismatch("camera \(empty.count) and \(target.count) bytes for \(width)×\(height)×\(channels)"))
        }
        // Work at ≤ 320 px wide: each working pixel is the mean change of a step×step cell.
        let step = max(1, (width + 319) / 320)
        let w = width / step, h = height / step
        var change = [Double](repeating: 0, count: w * h)
        for y in 0..<(h * step) {
            for x in 0..<(w * step) {
                var d = 0
                let p = (y * width + x) * channels
                for c in 0..<channels { d += abs(Int(target[p + c]) - Int(empty[p + c])) }
                change[(y / step) * w + x / step] += Double(d) / Double(channels * step * step)
            }
        }
        let changed = change.map { $0 >= Double(minCameraChange) }
        let opened = Self.dilate(Self.erode(changed, w, h, openingRadius), w, h, openingRadius)
        var seen = [Bool](repeating: false, count: w * h)
        var blobs: [[Int]] = []
        for i in 0..<(w * h) where opened[i] && !seen[i] {
            let blob = Self.component(of: i, in: opened, width: w, height: h)
            for j in blob { seen[j] = true }
            blobs.append(blob)
        }
        blobs.sort { $0.count > $1.count }
        guard let first = blobs.first else { return .failure(.noCameraChange) }
        if Double(first.count) > maxAreaFraction * Double(w * h) {
            return .failure(.tooLarge(image: "camera image", percent: Int((100 * Double(first.count) / Double(w * h)).rounded())))
        }
        let s = Double(step)
        func centroid(_ blob: [Int]) -> (Double, Double) {
            let n = Double(blob.count)
            return (blob.reduce(0.0) { $0 + Double($1 % w) + 0.5 } / n * s, blob.reduce(0.0) { $0 + Double($1 / w) + 0.5 } / n * s)
        }
        if blobs.count > 1, blobs[1].count * 2 >= first.count {
            return .failure(.ambiguous(image: "camera image", first: centroid(first), second: centroid(blobs[1])))
        }
        let (cx, cy) = centroid(first)
        let mean = first.reduce(0.0) { $0 + change[$1] } / Double(first.count)
        return .success(Found(x: cx, y: cy, pixels: first.count * step * step, contrast: mean))
    }

    // MARK: helpers

    private static func centre(_ i: Int, _ width: Int) -> (Double, Double) { (Double(i % width) + 0.5, Double(i / width) + 0.5) }

    /// The 8-connected set of `mask` pixels that holds `start`.
    static func component(of start: Int, in mask: [Bool], width: Int, height: Int) -> [Int] {
        guard mask[start] else { return [] }
        var out: [Int] = []
        var visited = Set([start])
        var stack = [start]
        while let i = stack.popLast() {
            out.append(i)
            let x = i % width, y = i / width
            for dy in -1...1 {
                for dx in -1...1 where dx != 0 || dy != 0 {
                    let nx = x + dx, ny = y + dy
                    guard nx >= 0, ny >= 0, nx < width, ny < height else { continue }
                    let j = ny * width + nx
                    if mask[j], visited.insert(j).inserted { stack.append(j) }
                }
            }
        }
        return out
    }

    /// Square erosion / dilation of radius r (separable: a row pass, then a column pass).
    static func erode(_ m: [Bool], _ w: Int, _ h: Int, _ r: Int) -> [Bool] { morph(m, w, h, r, all: true) }
    static func dilate(_ m: [Bool], _ w: Int, _ h: Int, _ r: Int) -> [Bool] { morph(m, w, h, r, all: false) }

    private static func morph(_ m: [Bool], _ w: Int, _ h: Int, _ r: Int, all: Bool) -> [Bool] {
        guard r > 0 else { return m }
        var rows = m
        for y in 0..<h {
            for x in 0..<w {
                var v = all
                for k in max(0, x - r)...min(w - 1, x + r) {
                    if all { if !m[y * w + k] { v = false; break } } else if m[y * w + k] { v = true; break }
                }
                // Outside the image counts as "not target" for erosion, so a blob on the edge shrinks from it too.
                if all, x - r < 0 || x + r >= w { v = false }
                rows[y * w + x] = v
            }
        }
        var out = rows
        for y in 0..<h {
            for x in 0..<w {
                var v = all
                for k in max(0, y - r)...min(h - 1, y + r) {
                    if all { if !rows[k * w + x] { v = false; break } } else if rows[k * w + x] { v = true; break }
                }
                if all, y - r < 0 || y + r >= h { v = false }
                out[y * w + x] = v
            }
        }
        return out
    }
}

/// A thermal frame as text for a technician's terminal: one character per pixel from cold (`.`) to hot (`@`),
/// scaled between the frame's own minimum and maximum; `mark` may put another character on a pixel (a found
/// blackbody, a face box's edges).
public enum ThermalMap {
    public static let ramp = Array(".:-=+*%@")

    public static func lines(_ values: [Double], width: Int, height: Int, mark: (_ x: Int, _ y: Int) -> Character? = { _, _ in nil }) -> [String] {
        let lo = values.min() ?? 0, hi = values.max() ?? 1
        let span = max(hi - lo, 1e-6)
        return (0..<height).map { y in
            String((0..<width).map { x -> Character in
                if let m = mark(x, y) { return m }
                let i = Int((values[y * width + x] - lo) / span * Double(ramp.count - 1) + 0.5)
                return ramp[min(max(i, 0), ramp.count - 1)]
            })
        }
    }
}

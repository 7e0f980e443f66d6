import Foundation
import Testing
@testable import CheckpointAdapters
import CheckpointCore

/// Paths and image helpers shared by the face tests. Real photos come from `<repo>/../shared`.
enum FaceFixtures {
    static let shared: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared")
    static let modelPath = shared.appendingPathComponent("models/face_detection_yunet_2022mar.onnx").path
    static var available: Bool { FileManager.default.fileExists(atPath: modelPath) }

    static func images(_ folder: String) throws -> [URL] {
        let dir = shared.appendingPathComponent("fixtures/faces/\(folder)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
        return names.map { dir.appendingPathComponent($0) }
    }

    static func frame(_ url: URL, sequence: UInt64 = 0) throws -> Frame {
        let data = try Data(contentsOf: url)
        let img = try ImageCodec.decode([UInt8](data))
        return Frame(width: img.width, height: img.height, layout: .bgr24, pixels: img.pixels, sequence: sequence, monotonicNanos: sequence * 33_000_000)
    }

    static func frame(named name: String, in folder: String) throws -> Frame {
        try frame(shared.appendingPathComponent("fixtures/faces/\(folder)/\(name)"))
    }

    static func config(width: Int = 320, height: Int = 240) -> FaceDetectorConfig {
        var c = FaceDetectorConfig(modelPath: modelPath)
        c.allowFallback = false
        c.detectionWidth = width
        c.detectionHeight = height
        return c
    }

    /// A 640×480 camera-like frame (mid-grey background) with each photo scaled by `scale` (bilinear)
    /// and placed with its top-left corner at the given offset; parts outside the canvas are cut.
    static func compose(_ parts: [(photo: Frame, scale: Double, x: Int, y: Int)], width: Int = 640, height: Int = 480, sequence: UInt64 = 0) -> Frame {
        var px = [UInt8](repeating: 118, count: width * height * 3)
        for part in parts {
            let p = part.photo
            let w = Int(Double(p.width) * part.scale), h = Int(Double(p.height) * part.scale)
            for y in 0..<h {
                let ty = part.y + y
                guard ty >= 0, ty < height else { continue }
                let sy = min(Double(p.height - 1), (Double(y) + 0.5) / part.scale - 0.5)
                let y0 = max(0, Int(sy)), y1 = min(p.height - 1, y0 + 1), fy = max(0, sy - Double(y0))
                for x in 0..<w {
                    let tx = part.x + x
                    guard tx >= 0, tx < width else { continue }
                    let sx = min(Double(p.width - 1), (Double(x) + 0.5) / part.scale - 0.5)
                    let x0 = max(0, Int(sx)), x1 = min(p.width - 1, x0 + 1), fx = max(0, sx - Double(x0))
                    for c in 0..<3 {
                        let a = Double(p.pixels[(y0 * p.width + x0) * 3 + c]), b = Double(p.pixels[(y0 * p.width + x1) * 3 + c])
                        let d = Double(p.pixels[(y1 * p.width + x0) * 3 + c]), e = Double(p.pixels[(y1 * p.width + x1) * 3 + c])
                        let v = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy
                        px[(ty * width + tx) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                    }
                }
            }
        }
        return Frame(width: width, height: height, layout: .bgr24, pixels: px, sequence: sequence, monotonicNanos: sequence * 33_000_000)
    }

    /// Box blur with the given radius, repeated three times (close to a Gaussian): an out-of-focus camera.
    static func blurred(_ f: Frame, radius: Int) -> Frame {
        var cur = f.pixels
        let w = f.width, h = f.height
        for _ in 0..<3 {
            var tmp = cur
            for y in 0..<h { for x in 0..<w { for c in 0..<3 {
                var acc = 0, n = 0
                for dx in -radius...radius { let xx = x + dx; if xx >= 0 && xx < w { acc += Int(cur[(y * w + xx) * 3 + c]); n += 1 } }
                tmp[(y * w + x) * 3 + c] = UInt8(acc / n)
            } } }
            for y in 0..<h { for x in 0..<w { for c in 0..<3 {
                var acc = 0, n = 0
                for dy in -radius...radius { let yy = y + dy; if yy >= 0 && yy < h { acc += Int(tmp[(yy * w + x) * 3 + c]); n += 1 } }
                cur[(y * w + x) * 3 + c] = UInt8(acc / n)
            } } }
        }
        return Frame(width: w, height: h, layout: .bgr24, pixels: cur, sequence: f.sequence, monotonicNanos: f.monotonicNanos)
    }

    /// The frame rotated by `degrees` about its centre (bilinear, grey outside).
    static func rotated(_ f: Frame, degrees: Double) -> Frame {
        let r = degrees * .pi / 180, cs = cos(r), sn = sin(r)
        let cx = Double(f.width) / 2, cy = Double(f.height) / 2
        var px = [UInt8](repeating: 118, count: f.pixels.count)
        for y in 0..<f.height { for x in 0..<f.width {
            let dx = Double(x) - cx, dy = Double(y) - cy
            let sx = cx + dx * cs + dy * sn, sy = cy - dx * sn + dy * cs
            let ix = Int(sx.rounded()), iy = Int(sy.rounded())
            guard ix >= 0, ix < f.width, iy >= 0, iy < f.height else { continue }
            for c in 0..<3 { px[(y * f.width + x) * 3 + c] = f.pixels[(iy * f.width + ix) * 3 + c] }
        } }
        return Frame(width: f.width, height: f.height, layout: .bgr24, pixels: px, sequence: f.sequence, monotonicNanos: f.monotonicNanos)
    }
}

/// Snapshot settings: how much context around the face and how the JPEG is bounded.
public struct FaceSnapshotConfig: Sendable, Equatable {
    /// Extra border on every side, as a fraction of the face box (0.25 = a quarter of its width/height).
    public var margin: Double
    /// JPEG quality to start from (1–100).
    public var jpegQuality: Int
    /// Upper bound on the encoded size; quality, then resolution, is reduced until it fits.
    public var maxBytes: Int

    /// The schema's defaults for `[snapshot]`.
    public init() { self.init(CheckpointConfig.Snapshot.defaults) }

    /// The snapshot settings from the daemon's `[snapshot]` table.
    public init(_ snapshot: CheckpointConfig.Snapshot) {
        jpegQuality = snapshot.jpegQuality
        maxBytes = snapshot.maxBytes
        margin = snapshot.margin
    }
}

/// The frame chosen for a track's snapshot.
public struct SnapshotCandidate: Sendable {
    public var trackID: UInt64
    public var frame: Frame
    public var face: DetectedFace
    public var quality: Double
}

/// Keeps, per track, the best frame seen so far.
///
/// Quality = detector score × frontality (1 − |asymmetry|, floored at 0) × sharpness (saturating at
/// twice the readiness minimum) × face size (saturating at 160 px wide). Larger, sharper, more frontal wins.
public struct BestFrameSelector: Sendable {
    public var minSharpness: Double
    private var best: [UInt64: SnapshotCandidate] = [:]

    public init(minSharpness: Double = FaceReadinessConfig().minSharpness) { self.minSharpness = minSharpness }

    public static func quality(face: DetectedFace, sharpness: Double, minSharpness: Double) -> Double {
        let frontal = face.landmarks.flatMap(FacePose.init).map { max(0, 1 - abs($0.asymmetry)) } ?? 0.5
        let sharp = min(1, sharpness / max(1, 2 * minSharpness))
        let size = min(1, face.box.width / 160)
        return face.score * frontal * sharp * size
    }

    /// Offers a frame for a track; returns true when it became that track's best.
    @discardableResult
    public mutating func offer(_ track: TrackedFace, frame: Frame, sharpness: Double) -> Bool {
        let q = Self.quality(face: track.face, sharpness: sharpness, minSharpness: minSharpness)
        if let current = best[track.id], current.quality >= q { return false }
        best[track.id] = SnapshotCandidate(trackID: track.id, frame: frame, face: track.face, quality: q)
        return true
    }

    public func best(for id: UInt64) -> SnapshotCandidate? { best[id] }

    /// Drops tracks that are no longer alive (call with the tracker's live ids).
    public mutating func retain(ids: Set<UInt64>) { best = best.filter { ids.contains($0.key) } }
}

/// Cropping a face out of a frame.
public enum FaceCrop {
    /// The face box grown by `margin`, clipped to the frame, as a new frame of the same layout.
    public static func crop(_ frame: Frame, box: FaceBox, margin: Double) throws(CoreError) -> Frame {
        let (x0, y0, x1, y1) = box.expanded(by: margin).pixelBounds(width: frame.width, height: frame.height)
        guard x1 - x0 >= 2, y1 - y0 >= 2 else {
            throw CoreError(.invalidInput, "face box \(box) lies outside the \(frame.width)×\(frame.height) frame")
        }
        let bpp = frame.layout.bytesPerPixel
        let w = x1 - x0, h = y1 - y0
        var out = [UInt8](repeating: 0, count: w * h * bpp)
        frame.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let s = ((y0 + y) * frame.width + x0) * bpp
                    let d = y * w * bpp
                    for i in 0..<(w * bpp) { dst[d + i] = src[s + i] }
                }
            }
        }
        return Frame(width: w, height: h, layout: frame.layout, pixels: out, sequence: frame.sequence, monotonicNanos: frame.monotonicNanos)
    }

    /// Halves-or-so a frame by box averaging to `factor` (0 < factor < 1) of its size.
    public static func downscale(_ frame: Frame, factor: Double) -> Frame {
        let w = max(2, Int(Double(frame.width) * factor)), h = max(2, Int(Double(frame.height) * factor))
        let bpp = frame.layout.bytesPerPixel
        var out = [UInt8](repeating: 0, count: w * h * bpp)
        for y in 0..<h {
            let sy0 = y * frame.height / h, sy1 = max(sy0 + 1, (y + 1) * frame.height / h)
            for x in 0..<w {
                let sx0 = x * frame.width / w, sx1 = max(sx0 + 1, (x + 1) * frame.width / w)
                for c in 0..<bpp {
                    var acc = 0
                    for sy in sy0..<sy1 { for sx in sx0..<sx1 { acc += Int(frame.pixels[(sy * frame.width + sx) * bpp + c]) } }
                    out[(y * w + x) * bpp + c] = UInt8(acc / ((sy1 - sy0) * (sx1 - sx0)))
                }
            }
        }
        return Frame(width: w, height: h, layout: frame.layout, pixels: out, sequence: frame.sequence, monotonicNanos: frame.monotonicNanos)
    }
}

/// A face outline on the kiosk's live camera preview.
public struct PreviewBox: Sendable, Equatable {
    /// In the camera frame's pixels.
    public var box: FaceBox
    /// The tracked face, ready to measure (drawn green); any other face is drawn amber.
    public var ready: Bool
    public init(box: FaceBox, ready: Bool) {
        self.box = box
        self.ready = ready
    }

    /// The detector's boxes, the one of the face that is ready to measure marked. The tracker smooths its box, so
    /// that face is the detection overlapping the tracked box most (IoU above 0.3), not one equal to it.
    public static func marking(_ detections: [FaceBox], readyFace tracked: FaceBox?) -> [PreviewBox] {
        let ready = tracked.flatMap { t in
            detections.indices.max { detections[$0].iou(t) < detections[$1].iou(t) }.flatMap { detections[$0].iou(t) > 0.3 ? $0 : nil }
        }
        return detections.indices.map { PreviewBox(box: detections[$0], ready: $0 == ready) }
    }
}

/// Turns a camera frame into the kiosk's preview: scaled down (aspect kept), mirrored so people see
/// themselves as in a mirror, with the face boxes drawn. For the screen only: never stored.
public enum PreviewRendering {
    /// BGR colours of the outlines.
    public static let readyColor: (UInt8, UInt8, UInt8) = (0, 200, 0)
    public static let otherColor: (UInt8, UInt8, UInt8) = (0, 176, 255)

    /// The preview size for a frame: at most `maxWidth` wide (never wider than the frame), same aspect.
    public static func size(width: Int, height: Int, maxWidth: Int) -> (width: Int, height: Int) {
        let w = max(1, min(maxWidth, width))
        let h = max(1, Int((Double(height) * Double(w) / Double(width)).rounded()))
        return (w, h)
    }

    public static func render(_ frame: Frame, boxes: [PreviewBox], maxWidth: Int) -> Frame {
        let (w, h) = size(width: frame.width, height: frame.height, maxWidth: maxWidth)
        let bpp = frame.layout.bytesPerPixel
        var out = [UInt8](repeating: 0, count: w * h * bpp)
        let sw = frame.width, sh = frame.height
        frame.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let sy = min(sh - 1, y * sh / h)
                    let srow = sy * sw * bpp
                    let drow = y * w * bpp
                    for x in 0..<w {
                        // Mirrored: the left of the preview is the right of the camera image.
                        let sx = sw - 1 - min(sw - 1, x * sw / w)
                        let s = srow + sx * bpp, d = drow + x * bpp
                        for c in 0..<bpp { dst[d + c] = src[s + c] }
                    }
                }
            }
        }
        var preview = Frame(width: w, height: h, layout: frame.layout, pixels: out, sequence: frame.sequence,
                            monotonicNanos: frame.monotonicNanos)
        let scale = Double(w) / Double(sw)
        let thickness = max(2, w / 160)
        // Amber first, so the ready face's green outline is on top where boxes overlap.
        for b in boxes.sorted(by: { !$0.ready && $1.ready }) {
            let x = Int(((Double(sw) - (b.box.x + b.box.width)) * scale).rounded())
            FrameDrawing.drawRectangle(&preview, x: x, y: Int((b.box.y * scale).rounded()),
                                       width: Int((b.box.width * scale).rounded()), height: Int((b.box.height * scale).rounded()),
                                       thickness: thickness, color: b.ready ? readyColor : otherColor)
        }
        return preview
    }
}

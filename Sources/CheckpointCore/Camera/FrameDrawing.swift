/// Draws outlines on a frame for technician snapshots (never for stored data).
public enum FrameDrawing {
    /// Outlines the rectangle (frame pixels, clipped to the frame) with `thickness`-pixel lines.
    /// `color` is B, G, R for BGR frames; gray frames use its first component.
    public static func drawRectangle(_ frame: inout Frame, x: Int, y: Int, width: Int, height: Int, thickness: Int = 2, color: (UInt8, UInt8, UInt8) = (0, 255, 0)) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(frame.width - 1, x + width - 1), y1 = min(frame.height - 1, y + height - 1)
        guard x0 <= x1, y0 <= y1, thickness > 0 else { return }
        let bpp = frame.layout.bytesPerPixel
        let rowBytes = frame.width * bpp
        let w = frame.width
        frame.pixels.withUnsafeMutableBufferPointer { px in
            func put(_ px: UnsafeMutableBufferPointer<UInt8>, _ cx: Int, _ cy: Int) {
                let o = cy * rowBytes + cx * bpp
                if bpp == 3 {
                    px[o] = color.0
                    px[o + 1] = color.1
                    px[o + 2] = color.2
                } else {
                    px[o] = color.0 == 0 && color.1 > 0 ? 255 : color.0
                }
            }
            for t in 0..<thickness {
                for cx in x0...x1 {
                    if y0 + t <= y1 { put(px, cx, y0 + t) }
                    if y1 - t >= y0 { put(px, cx, y1 - t) }
                }
                for cy in y0...y1 {
                    if x0 + t <= x1, x0 + t < w { put(px, x0 + t, cy) }
                    if x1 - t >= x0 { put(px, x1 - t, cy) }
                }
            }
        }
    }
}

/// Focus measure: variance of the 4-neighbour Laplacian on the gray face crop.
///
/// The crop is first resampled (box average) to a fixed `side` × `side` grid so the figure does not
/// depend on how large the face is in the frame: a near face and a far face of equal focus score alike.
public enum Sharpness {
    public static let defaultSide = 96

    /// Variance of the Laplacian of `box` in `frame` (bgr24 or gray8). 0 for an empty box.
    public static func laplacianVariance(of frame: Frame, in box: FaceBox, side: Int = defaultSide) -> Double {
        let clip = box.clipped(width: frame.width, height: frame.height)
        guard clip.width >= 3, clip.height >= 3, side >= 3 else { return 0 }
        let gray = resampledGray(frame, clip, side: side)
        return laplacianVariance(gray: gray, width: side, height: side)
    }

    /// Variance of the 4-neighbour Laplacian over the interior of a gray image.
    public static func laplacianVariance(gray: [Double], width: Int, height: Int) -> Double {
        guard width >= 3, height >= 3, gray.count == width * height else { return 0 }
        var sum = 0.0, sumSq = 0.0
        var n = 0.0
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                let i = y * width + x
                let l = gray[i - 1] + gray[i + 1] + gray[i - width] + gray[i + width] - 4 * gray[i]
                sum += l
                sumSq += l * l
                n += 1
            }
        }
        let mean = sum / n
        return max(0, sumSq / n - mean * mean)
    }

    /// Box-averaged gray (BT.601 weights) of `box` on a side × side grid.
    static func resampledGray(_ frame: Frame, _ box: FaceBox, side: Int) -> [Double] {
        let bpp = frame.layout.bytesPerPixel
        let rowBytes = frame.width * bpp
        var out = [Double](repeating: 0, count: side * side)
        frame.pixels.withUnsafeBufferPointer { px in
            for gy in 0..<side {
                let y0 = Int(box.y + box.height * Double(gy) / Double(side))
                let y1 = max(y0 + 1, min(frame.height, Int(box.y + box.height * Double(gy + 1) / Double(side))))
                for gx in 0..<side {
                    let x0 = Int(box.x + box.width * Double(gx) / Double(side))
                    let x1 = max(x0 + 1, min(frame.width, Int(box.x + box.width * Double(gx + 1) / Double(side))))
                    var acc = 0.0
                    for y in y0..<y1 {
                        let row = y * rowBytes
                        for x in x0..<x1 {
                            let p = row + x * bpp
                            if bpp == 3 {
                                acc += 0.114 * Double(px[p]) + 0.587 * Double(px[p + 1]) + 0.299 * Double(px[p + 2])
                            } else {
                                acc += Double(px[p])
                            }
                        }
                    }
                    out[gy * side + gx] = acc / Double((y1 - y0) * (x1 - x0))
                }
            }
        }
        return out
    }
}

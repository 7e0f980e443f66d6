import Testing
@testable import CheckpointCore

@Suite struct PreviewRenderingTests {
    /// A BGR frame whose blue channel is the column index and green the row index.
    static func gradient(width: Int, height: Int) -> Frame {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                p[(y * width + x) * 3] = UInt8(x % 256)
                p[(y * width + x) * 3 + 1] = UInt8(y % 256)
            }
        }
        return Frame(width: width, height: height, layout: .bgr24, pixels: p, sequence: 1, monotonicNanos: 1)
    }

    func pixel(_ f: Frame, _ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        let o = (y * f.width + x) * 3
        return (f.pixels[o], f.pixels[o + 1], f.pixels[o + 2])
    }

    @Test func sizeKeepsTheAspectAndNeverUpscales() {
        #expect(PreviewRendering.size(width: 640, height: 480, maxWidth: 480) == (480, 360))
        #expect(PreviewRendering.size(width: 1280, height: 720, maxWidth: 320) == (320, 180))
        #expect(PreviewRendering.size(width: 200, height: 100, maxWidth: 640) == (200, 100))
    }

    @Test func theImageIsMirroredAndScaled() {
        let out = PreviewRendering.render(Self.gradient(width: 200, height: 100), boxes: [], maxWidth: 100)
        #expect(out.width == 100 && out.height == 50)
        #expect(pixel(out, 0, 0).0 == 199, "the preview's left is the camera's right")
        #expect(pixel(out, 99, 0).0 == 1)
        #expect(pixel(out, 0, 49).1 == 98)
    }

    @Test func theReadyFaceIsGreenOthersAmberBothMirrored() {
        let frame = Frame(width: 200, height: 100, layout: .bgr24, pixels: [UInt8](repeating: 0, count: 200 * 100 * 3), sequence: 1, monotonicNanos: 1)
        let out = PreviewRendering.render(frame, boxes: [
            PreviewBox(box: FaceBox(x: 10, y: 10, width: 40, height: 40), ready: true),      // camera left → preview right
            PreviewBox(box: FaceBox(x: 150, y: 10, width: 40, height: 40), ready: false),    // camera right → preview left
        ], maxWidth: 200)
        #expect(pixel(out, 189, 30) == PreviewRendering.readyColor, "right edge of the mirrored ready box")
        #expect(pixel(out, 150, 10) == PreviewRendering.readyColor)
        #expect(pixel(out, 10, 30) == PreviewRendering.otherColor)
        #expect(pixel(out, 100, 50) == (0, 0, 0), "nothing drawn elsewhere")
    }
}

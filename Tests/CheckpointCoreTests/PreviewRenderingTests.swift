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

    /// The tracker's box is smoothed: the ready face is still found among the detections (it was drawn amber when
    /// only an equal box counted), a far-off or absent tracked box marks nothing.
    @Test func theReadyFaceIsTheDetectionOverlappingTheTrackedBoxMost() {
        let person = FaceBox(x: 200, y: 100, width: 120, height: 150)
        let other = FaceBox(x: 20, y: 30, width: 40, height: 50)
        let smoothed = FaceBox(x: 204, y: 97, width: 118, height: 153)
        #expect(PreviewBox.marking([other, person], readyFace: smoothed).map(\.ready) == [false, true])
        #expect(PreviewBox.marking([other, person], readyFace: nil).map(\.ready) == [false, false])
        #expect(PreviewBox.marking([other], readyFace: smoothed).map(\.ready) == [false])
        #expect(PreviewBox.marking([], readyFace: smoothed).isEmpty)
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

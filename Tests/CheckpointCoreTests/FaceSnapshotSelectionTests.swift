import Testing
@testable import CheckpointCore

private func frame(_ w: Int, _ h: Int, seq: UInt64) -> Frame {
    var px = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h { for x in 0..<w { px[(y * w + x) * 3] = UInt8(x % 256); px[(y * w + x) * 3 + 1] = UInt8(y % 256); px[(y * w + x) * 3 + 2] = 7 } }
    return Frame(width: w, height: h, layout: .bgr24, pixels: px, sequence: seq, monotonicNanos: seq)
}

@Suite struct FaceSnapshotSelectionTests {
    @Test func cropAddsTheMarginAndClipsToTheFrame() throws {
        let f = frame(200, 100, seq: 1)
        let c = try FaceCrop.crop(f, box: FaceBox(x: 50, y: 20, width: 40, height: 40), margin: 0.25)
        #expect(c.width == 60 && c.height == 60)
        // Top-left pixel of the crop is the frame's (40, 10).
        #expect(c.pixels[0] == 40 && c.pixels[1] == 10 && c.pixels[2] == 7)
        let edge = try FaceCrop.crop(f, box: FaceBox(x: 180, y: 80, width: 40, height: 40), margin: 0.25)
        #expect(edge.width == 30 && edge.height == 30, "clipped at the frame's right and bottom edges")
        #expect(throws: CoreError.self) { try FaceCrop.crop(f, box: FaceBox(x: 500, y: 500, width: 10, height: 10), margin: 0) }
    }

    @Test func theSharperLargerMoreFrontalFrameWins() {
        var sel = BestFrameSelector(minSharpness: 25)
        let lm = FaceLandmarks(rightEye: .init(x: 80, y: 90), leftEye: .init(x: 120, y: 90), nose: .init(x: 100, y: 110),
                               rightMouth: .init(x: 85, y: 130), leftMouth: .init(x: 115, y: 130))
        let good = DetectedFace(box: FaceBox(x: 50, y: 50, width: 100, height: 120), score: 0.9, landmarks: lm)
        var turned = good
        turned.landmarks?.nose = .init(x: 116, y: 110)
        let t1 = TrackedFace(id: 1, face: good, frames: 1, stableFrames: 1, missed: 0)
        let first = sel.offer(t1, frame: frame(200, 200, seq: 1), sharpness: 10)
        #expect(first)
        let sharper = sel.offer(t1, frame: frame(200, 200, seq: 2), sharpness: 60)
        #expect(sharper, "sharper replaces blurrier")
        var t2 = t1
        t2.face = turned
        let turnedWins = sel.offer(t2, frame: frame(200, 200, seq: 3), sharpness: 60)
        #expect(!turnedWins, "a turned head does not replace a frontal one")
        #expect(sel.best(for: 1)?.frame.sequence == 2)
        sel.retain(ids: [])
        #expect(sel.best(for: 1) == nil)
    }

    /// The snapshot settings have one definition: the schema's `[snapshot]` (its validation, its defaults).
    @Test func snapshotDefaultsAreTheSchemas() {
        let c = FaceSnapshotConfig()
        #expect(ConfigValue.integer(c.maxBytes) == CheckpointConfigSchema.defaultValue(table: "snapshot", key: "max_bytes"))
        #expect(ConfigValue.integer(c.jpegQuality) == CheckpointConfigSchema.defaultValue(table: "snapshot", key: "jpeg_quality"))
        #expect(ConfigValue.float(c.margin) == CheckpointConfigSchema.defaultValue(table: "snapshot", key: "margin"))
    }
}

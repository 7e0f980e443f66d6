import Foundation
import Testing
@testable import CheckpointCore

/// Monitoring stills (#20): the face blur a still gets before it leaves the kiosk, and what a kiosk does with a request.
@Suite struct MonitoringStillTests {
    /// A frame full of fine detail: deterministic noise over a coarse pattern (what a face's texture, edges and
    /// features give a recogniser, at worst).
    static func detailedFrame(width: Int = 320, height: Int = 240, layout: PixelLayout = .bgr24) -> Frame {
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        var pixels = [UInt8](repeating: 0, count: width * height * layout.bytesPerPixel)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<layout.bytesPerPixel {
                    rng = rng &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Int(rng >> 57)   // 0..127
                    let base = ((x / 7 + y / 5) % 2 == 0) ? 40 : 150
                    pixels[(y * width + x) * layout.bytesPerPixel + c] = UInt8(clamping: base + noise - 30 + c * 10)
                }
            }
        }
        return Frame(width: width, height: height, layout: layout, pixels: pixels, sequence: 1, monotonicNanos: 0)
    }

    static func inside(_ x: Int, _ y: Int, _ r: (x0: Int, y0: Int, x1: Int, y1: Int)) -> Bool { x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1 }

    @Test(arguments: [PixelLayout.bgr24, .gray8])
    func aBlurredFaceKeepsNoDetailAndNothingElseChanges(layout: PixelLayout) throws {
        let frame = Self.detailedFrame(layout: layout)
        let box = FaceBox(x: 100, y: 60, width: 80, height: 96)
        let blurred = MonitoringStill.blurFaces(frame, boxes: [box])
        let region = try #require(MonitoringStill.region(box, width: frame.width, height: frame.height))

        // Sharpness (Laplacian variance) in the face box: far below the original (below 1 %).
        let before = Sharpness.laplacianVariance(of: frame, in: box)
        let after = Sharpness.laplacianVariance(of: blurred, in: box)
        #expect(before > 1000, "the test frame has detail to lose (\(before))")
        #expect(after < before * 0.01, "sharpness in the face box \(before) → \(after)")

        // No detail between neighbouring pixels anywhere in the box: the largest step is a small fraction of the original's.
        let bpp = layout.bytesPerPixel
        func maxStep(_ f: Frame) -> Int {
            var m = 0
            for y in Int(box.y)..<Int(box.y + box.height) {
                for x in Int(box.x)..<Int(box.x + box.width - 1) {
                    for c in 0..<bpp {
                        let a = Int(f.pixels[(y * f.width + x) * bpp + c]), b = Int(f.pixels[(y * f.width + x + 1) * bpp + c])
                        m = max(m, abs(a - b))
                    }
                }
            }
            return m
        }
        #expect(maxStep(frame) > 150)
        #expect(maxStep(blurred) <= 12, "largest step between neighbours in the blurred box: \(maxStep(blurred))")

        // Every pixel outside the grown box is exactly as it was; the margin (30 % each side) is blurred too.
        #expect(region.x0 == 76 && region.y0 == 31 && region.x1 == 204 && region.y1 == 185)
        var changedOutside = 0, changedInside = 0, insideCount = 0
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                let o = (y * frame.width + x) * bpp
                let same = frame.pixels[o..<(o + bpp)] == blurred.pixels[o..<(o + bpp)]
                if Self.inside(x, y, region) {
                    insideCount += 1
                    if !same { changedInside += 1 }
                } else if !same {
                    changedOutside += 1
                }
            }
        }
        #expect(changedOutside == 0)
        #expect(Double(changedInside) > 0.9 * Double(insideCount), "\(changedInside) of \(insideCount) pixels in the region changed")
    }

    @Test func everyFaceIsBlurredAndABoxAtTheEdgeIsClipped() throws {
        let frame = Self.detailedFrame()
        let boxes = [FaceBox(x: 10, y: 10, width: 60, height: 70), FaceBox(x: 280, y: 200, width: 80, height: 80)]   // the second leaves the frame
        let blurred = MonitoringStill.blurFaces(frame, boxes: boxes)
        for box in boxes {
            let clip = box.clipped(width: frame.width, height: frame.height)
            let before = Sharpness.laplacianVariance(of: frame, in: clip), after = Sharpness.laplacianVariance(of: blurred, in: clip)
            #expect(after < before * 0.01, "box \(box): \(before) → \(after)")
        }
        #expect(blurred.pixels.count == frame.pixels.count)
    }

    @Test func noFacesOrABoxOutsideTheFrameChangeNothing() {
        let frame = Self.detailedFrame()
        #expect(MonitoringStill.blurFaces(frame, boxes: []).pixels == frame.pixels)
        #expect(MonitoringStill.blurFaces(frame, boxes: [FaceBox(x: 500, y: 400, width: 50, height: 50)]).pixels == frame.pixels)
        #expect(MonitoringStill.region(FaceBox(x: -200, y: 10, width: 50, height: 50), width: 320, height: 240) == nil)
    }

    @Test func aRequestIsAnsweredByTheConfig() {
        var off = StillRequestPolicy(stillEnabled: false, blurFaces: true)
        #expect(off.action(for: StillRequest(id: "5f0c6a2e-1b7d-4e1a-9a55-0c1d2e3f4a5b")) == .refuse(.disabled))
        var on = StillRequestPolicy(stillEnabled: true, blurFaces: true)
        #expect(on.action(for: StillRequest(id: "r-1")) == .capture(blurFaces: true))
        var raw = StillRequestPolicy(stillEnabled: true, blurFaces: false)
        #expect(raw.action(for: StillRequest(id: "r-1")) == .capture(blurFaces: false))
    }

    @Test func aRepeatedOrMalformedRequestIsNotAnswered() {
        var p = StillRequestPolicy(stillEnabled: true, blurFaces: true)
        #expect(p.action(for: StillRequest(id: "r-1")) == .capture(blurFaces: true))
        #expect(p.action(for: StillRequest(id: "r-1")) == .ignore(why: "already answered"))
        #expect(p.action(for: StillRequest(id: "../../etc/passwd")) == .ignore(why: "malformed request id"))
        #expect(p.action(for: StillRequest(id: "")) == .ignore(why: "malformed request id"))
        #expect(p.action(for: StillRequest(id: String(repeating: "a", count: 65))) == .ignore(why: "malformed request id"))
        // Only the last few ids are remembered: an old one is answered again, a recent one is not.
        for i in 2...20 { _ = p.action(for: StillRequest(id: "r-\(i)")) }
        #expect(p.answered.count == StillRequestPolicy.remembered)
        #expect(p.action(for: StillRequest(id: "r-20")) == .ignore(why: "already answered"))
        #expect(p.action(for: StillRequest(id: "r-1")) == .capture(blurFaces: true))
    }

    @Test func stillsGoBesideTheRecordsEndpoint() {
        #expect(MonitoringStill.endpoint(forUpload: "https://up.example/v1/records") == "https://up.example/v1/monitoring/stills")
        #expect(MonitoringStill.refusalEndpoint(forUpload: "https://up.example:8443/api/v1/records/") == "https://up.example:8443/api/v1/monitoring/still-refusals")
        #expect(Heartbeat.endpoint(forUpload: "https://up.example/v1/records") == "https://up.example/v1/heartbeats")
        let q = MonitoringStill.query(deviceId: "TN K1", requestId: "r-1", facesBlurred: true, faces: 2)
        #expect(q == "deviceId=TN%20K1&requestId=r-1&facesBlurred=true&faces=2")
    }

    @Test func theHeartbeatReplyCarriesARequestOrNot() throws {
        let with = HeartbeatReceipt.decode(Array(#"{"deviceId":"K1","receivedAt":"2026-12-07T10:00:00.000Z","stillRequest":{"id":"r-9"}}"#.utf8))
        #expect(with?.stillRequest == StillRequest(id: "r-9"))
        let without = HeartbeatReceipt.decode(Array(#"{"deviceId":"K1","receivedAt":"2026-12-07T10:00:00.000Z"}"#.utf8))
        #expect(without != nil && without?.stillRequest == nil)
        #expect(HeartbeatReceipt.decode(Array("<html>maintenance</html>".utf8)) == nil)
        let refusal = String(decoding: try StillRefusal(deviceId: "K1", requestId: "r-9", reason: .noCameraFrame).encoded(), as: UTF8.self)
        #expect(refusal == #"{"deviceId":"K1","reason":"no-camera-frame","requestId":"r-9"}"#)
    }

    @Test func stillsAreOffAndBlurredByDefault() throws {
        let c = try ConfigLoader.load(path: ConfigFixtures.installLayout(config: ConfigFixtures.minimal).config)
        #expect(c.monitoring == CheckpointConfig.Monitoring(stillEnabled: false, blurFaces: true))
        #expect(c.summary.contains("monitoring: stills off"))
        let on = try ConfigLoader.load(path: ConfigFixtures.installLayout(config: ConfigFixtures.minimal + "\n[monitoring]\nstill_enabled = true\nblur_faces = false\n").config)
        #expect(on.monitoring == CheckpointConfig.Monitoring(stillEnabled: true, blurFaces: false))
        #expect(on.summary.contains("monitoring: stills on request, faces NOT blurred"))
    }
}

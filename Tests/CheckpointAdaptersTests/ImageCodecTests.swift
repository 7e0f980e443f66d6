import Testing
@testable import CheckpointAdapters

@Suite struct ImageCodecTests {
    @Test func jpegRoundTripKeepsSizeAndApproximateColour() throws {
        let w = 64, h = 48
        var bgr = [UInt8](repeating: 0, count: w * h * 3)
        for i in stride(from: 0, to: bgr.count, by: 3) { bgr[i] = 200; bgr[i + 1] = 100; bgr[i + 2] = 50 }
        let jpeg = try ImageCodec.encode(bgr, width: w, height: h, channels: 3, quality: 90)
        #expect(jpeg.prefix(2) == [0xFF, 0xD8], "JPEG starts with SOI")
        let back = try ImageCodec.decode(jpeg)
        #expect(back.width == w && back.height == h && back.channels == 3)
        #expect(abs(Int(back.pixels[0]) - 200) < 6 && abs(Int(back.pixels[1]) - 100) < 6 && abs(Int(back.pixels[2]) - 50) < 6)
    }

    @Test func pngIsLossless() throws {
        let gray: [UInt8] = (0..<(16 * 8)).map { UInt8($0 % 256) }
        let png = try ImageCodec.encode(gray, width: 16, height: 8, channels: 1, png: true)
        #expect(png.prefix(4) == [0x89, 0x50, 0x4E, 0x47])
        #expect(try ImageCodec.decode(png, gray: true).pixels == gray)
    }

    @Test func truncatedJpegIsAnErrorNotACrash() throws {
        #expect(throws: AdapterError.self) { try ImageCodec.decode([0xFF, 0xD8, 0xFF, 0xE0, 0, 16]) }
        #expect(throws: AdapterError.self) { try ImageCodec.decode([]) }
    }
}

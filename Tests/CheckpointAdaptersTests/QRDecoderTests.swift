import Foundation
import Testing
@testable import CheckpointAdapters
import CheckpointCore

/// QR symbols made with segno (error level M), one string per row, "#" = dark module. Invented content only.
enum QRSymbols {
    /// "checkpointd QR test", version 2-M.
    static let ascii = [
        "#######.###.##.##.#######", "#.....#.......#.#.#.....#", "#.###.#..#.#..##..#.###.#", "#.###.#.#..######.#.###.#",
        "#.###.#.###..#.##.#.###.#", "#.....#.##...#....#.....#", "#######.#.#.#.#.#.#######", "........####...#.........",
        "#...#.######.##.######..#", "##.###.###...#####..##...", ".##.#.#...#.#..##...#.#..", "..#..#.##......###.##.##.",
        "##.#..####.#.##..###..#..", "###.#..#.#..#.##....#....", "......###########..#.....", "..####.....#.#..##..#.#.#",
        "####..#..##.##..#####.#.#", "........##...####...#.#..", "#######.###....##.#.#....", "#.....#.....#.#.#...#.#.#",
        "#.###.#.#.##.##.#######.#", "#.###.#..##.#..#..##...##", "#.###.#..#.#########.###.", "#.....#..#.#.#..##.##.##.",
        "#######.#...##.#..#...###",
    ]
    static let asciiText = "checkpointd QR test"

    /// "Nguyễn Văn An|Thái Nguyên" in UTF-8 (byte mode, no ECI), version 3-M.
    static let vietnamese = [
        "#######.......#...###.#######", "#.....#...###...##..#.#.....#", "#.###.#.....#.##.##...#.###.#",
        "#.###.#....###..###...#.###.#", "#.###.#...#......##...#.###.#", "#.....#.####...#####..#.....#",
        "#######.#.#.#.#.#.#.#.#######", "...........###.###...........", "#..#.##.###.#.#.#....#.#.....",
        "###....#.#####.###...##..##.#", "#.#.#######.####.#...###..##.", ".###.#..###..#..#.#.###......",
        "...##.##....#.##.#..#.#.#..##", "#..#...#..#.#######.##.##....", "#.#...#.##.#.##..#.#..####.##",
        "#..##...#...#..#.###.#...##.#", ".#######..####...#..##..#..#.", "...#.#.###..#######..#.###.##",
        "#...#.#..##.#.###.#.#.#..#.##", "..##.#..##.##.#...#.#.#...##.", "#..#.##.###.#..###..#####..#.",
        "........###.#.##.#..#...#..#.", "#######..........####.#.#.##.", "#.....#.##.#..##.##.#...#.###",
        "#.###.#...###...###.#####..#.", "#.###.#.##.###.##.....#..##.#", "#.###.#.....#.#.#.###...#.#.#",
        "#.....#...#...#.##..#.##.#.#.", "#######.##.##..#.#..#.#.##.#.",
    ]
    static let vietnameseText = "Nguyễn Văn An|Thái Nguyên"

    /// A 640×480 gray frame: mid-grey scene, the symbol at `module` px per module with a 4-module white quiet zone,
    /// its top-left corner at (x, y).
    static func frame(_ rows: [String], module: Int = 4, x: Int = 200, y: Int = 120, width: Int = 640, height: Int = 480) -> Frame {
        var px = [UInt8](repeating: 128, count: width * height)
        let n = rows.count, quiet = 4
        let side = (n + 2 * quiet) * module
        for yy in 0..<side where y + yy < height {
            for xx in 0..<side where x + xx < width {
                let my = yy / module - quiet, mx = xx / module - quiet
                let dark = my >= 0 && my < n && mx >= 0 && mx < n && Array(rows[my])[mx] == "#"
                px[(y + yy) * width + x + xx] = dark ? 30 : 235
            }
        }
        return Frame(width: width, height: height, layout: .gray8, pixels: px, sequence: 0, monotonicNanos: 0)
    }
}

struct QRDecoderTests {
    @Test func decodesACodeInAGrayFrame() throws {
        let decoder = try QRDecoder()
        let codes = try decoder.decode(QRSymbols.frame(QRSymbols.ascii))
        #expect(codes.count == 1)
        let code = try #require(codes.first)
        #expect(code.format == "QRCode")
        #expect(code.bytes == Array(QRSymbols.asciiText.utf8))
        #expect(code.text == QRSymbols.asciiText && code.textRefusal == nil)
    }

    @Test func vietnameseDiacriticsComeThroughExactly() throws {
        let code = try #require(try QRDecoder().decode(QRSymbols.frame(QRSymbols.vietnamese, module: 3)).first)
        #expect(code.text == QRSymbols.vietnameseText)
        #expect(code.bytes == Array(QRSymbols.vietnameseText.utf8))
    }

    @Test func aBGRFrameDecodesThroughItsLuma() throws {
        let gray = QRSymbols.frame(QRSymbols.ascii)
        let bgr = Frame(width: gray.width, height: gray.height, layout: .bgr24,
                        pixels: gray.pixels.flatMap { [$0, $0, $0] }, sequence: 0, monotonicNanos: 0)
        #expect(try QRDecoder().decode(bgr).map(\.text) == [QRSymbols.asciiText])
    }

    @Test func paddedRowsAreReadThroughTheStride() throws {
        let f = QRSymbols.frame(QRSymbols.ascii)
        let stride = f.width + 64
        var padded = [UInt8](repeating: 0, count: stride * f.height)
        for y in 0..<f.height { padded.replaceSubrange(y * stride..<y * stride + f.width, with: f.pixels[y * f.width..<(y + 1) * f.width]) }
        let codes = try QRDecoder().decode(gray: padded, width: f.width, height: f.height, stride: stride)
        #expect(codes.map(\.text) == [QRSymbols.asciiText])
    }

    @Test func twoCodesInOneFrameAreBothReported() throws {
        var f = QRSymbols.frame(QRSymbols.ascii, x: 20, y: 20)
        let other = QRSymbols.frame(QRSymbols.vietnamese, module: 3, x: 340, y: 200)
        for y in 200..<480 { for x in 340..<640 { f.pixels[y * 640 + x] = other.pixels[y * 640 + x] } }
        let texts = Set(try QRDecoder().decode(f).compactMap(\.text))
        #expect(texts == [QRSymbols.asciiText, QRSymbols.vietnameseText])
    }

    @Test func framesWithoutACodeYieldNothing() throws {
        let decoder = try QRDecoder()
        let blank = Frame(width: 640, height: 480, layout: .gray8, pixels: [UInt8](repeating: 128, count: 640 * 480), sequence: 0, monotonicNanos: 0)
        #expect(try decoder.decode(blank).isEmpty)
        var noise = SystemRandomNumberGenerator()
        let random = (0..<(640 * 480)).map { _ in UInt8.random(in: 0...255, using: &noise) }
        #expect(try decoder.decode(gray: random, width: 640, height: 480).isEmpty)
    }

    @Test func textOnlyForValidUTF8() {
        #expect(DecodedQR(bytes: Array("Số 3 Quang Trung".utf8), format: "QRCode").text == "Số 3 Quang Trung")
        #expect(DecodedQR(bytes: [], format: "QRCode").text == "")
        let cases: [([UInt8], String)] = [
            ([0x41, 0xFF], "byte 1 of 2"),             // never valid in UTF-8
            ([0x53, 0xE1, 0xBB], "byte 1 of 3"),       // "ố" cut off
            ([0xC0, 0x80], "byte 0 of 2"),             // overlong NUL
            ([0xED, 0xA0, 0x80], "byte 0 of 3"),       // a UTF-16 surrogate
            ([0x4E, 0x67, 0xE9], "byte 2 of 3"),       // Latin-1 "é"
        ]
        for (bytes, at) in cases {
            let code = DecodedQR(bytes: bytes, format: "QRCode")
            #expect(code.text == nil, "\(bytes)")
            let reason = code.textRefusal ?? ""
            #expect(reason.hasPrefix("not UTF-8") && reason.contains(at), "\(bytes): \(reason)")
        }
    }

    @Test func aTooSmallBufferIsAnAdapterError() throws {
        let decoder = try QRDecoder()
        #expect(throws: AdapterError.self) { try decoder.decode(gray: [0, 0, 0], width: 640, height: 480) }
        do {
            _ = try decoder.decode(gray: [UInt8](repeating: 0, count: 100), width: 10, height: 10, stride: 5)
            Issue.record("a stride below the width was accepted")
        } catch {
            #expect(error.code == .qrDecoder)
        }
        #expect(throws: AdapterError.self) { var c = QRDecoderConfig(); c.maxCodes = 0; _ = try QRDecoder(config: c) }
    }

    @Test func libraryIsNamed() {
        #expect(QRDecoder.library.hasPrefix("ZXing-C++ "))
    }

    /// The intended use: created and called on a dedicated thread, held in a box only that thread touches.
    @Test func runsOnADedicatedThread() async throws {
        final class Box: @unchecked Sendable { var decoder: QRDecoder? }
        let thread = DedicatedThread(name: "qr-test")
        defer { thread.stop() }
        let box = Box()
        try await thread.run { box.decoder = try QRDecoder() }
        let frame = QRSymbols.frame(QRSymbols.vietnamese, module: 3)
        for _ in 0..<3 {
            let texts = try await thread.run { () throws -> [String?] in
                guard let decoder = box.decoder else { throw AdapterError(.closed, "no decoder") }
                return try decoder.decode(frame).map(\.text)
            }
            #expect(texts == [QRSymbols.vietnameseText])
        }
        try await thread.run { box.decoder = nil }
    }
}

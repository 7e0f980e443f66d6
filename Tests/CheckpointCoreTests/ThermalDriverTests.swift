import Testing
@testable import CheckpointCore

/// Byte-stream fixtures for every driver: split reads, 5A5A inside the payload, corrupted bytes, wrong-baud noise.
@Suite struct ThermalDriverTests {
    static func scene(_ base: Float = 25, hotAt: (Int, Int) = (3, 2), hot: Float = 36.6) -> [Float] {
        var p = [Float](repeating: base, count: 768)
        for i in 0..<768 { p[i] = base + Float(i % 7) * 0.01 }
        p[hotAt.1 * 32 + hotAt.0] = hot
        return p
    }

    static func frames(_ events: [ThermalEvent]) -> [ThermalFrame] {
        events.compactMap { if case .frame(let f) = $0 { return f }; return nil }
    }

    @Test func decodesAFrameFedOneByteAtATime() {
        let pixels = Self.scene()
        let wire = GYMCU90640Driver.encode(pixels: pixels, ambientC: 31.25)
        #expect(wire.count == 1544)
        #expect(Array(wire[0..<4]) == [0x5A, 0x5A, 0x02, 0x06])
        var d = GYMCU90640Driver()
        var got: [ThermalFrame] = []
        for b in wire { got += Self.frames(d.feed([b])) }
        #expect(got.count == 1)
        #expect(got.first?.ambientC == 31.25)
        #expect(got.first?.pixels == pixels.map { Float((Double($0) * 100).rounded()) / 100 })
        #expect(got.first?[3, 2] == 36.6)
        #expect(d.counters.framesOK == 1 && d.counters.badChecksum == 0 && d.counters.resyncs == 0)
    }

    @Test func wireOrderIsMirroredAndLittleEndian() {
        // The manual's (col 1,row 1) is the upper-right corner: the first wire pixel is x = 31 of the image.
        var pixels = [Float](repeating: 20, count: 768)
        pixels[31] = -12.34
        let wire = GYMCU90640Driver.encode(pixels: pixels, ambientC: 25)
        let v = Int16(bitPattern: UInt16(wire[4]) | UInt16(wire[5]) << 8)
        #expect(v == -1234)
        // Checksum: 16-bit sum of the first 771 LE words.
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 1542, by: 2) { sum &+= UInt32(wire[i]) | UInt32(wire[i + 1]) << 8 }
        #expect(UInt16(wire[1542]) | UInt16(wire[1543]) << 8 == UInt16(truncatingIfNeeded: sum))
    }

    @Test func splitReadsOfEverySize() {
        let a = GYMCU90640Driver.encode(pixels: Self.scene(25), ambientC: 30)
        let b = GYMCU90640Driver.encode(pixels: Self.scene(26), ambientC: 30.5)
        let stream = a + b + a
        for chunk in [1, 2, 3, 7, 100, 1543, 1545, 4000] {
            var d = GYMCU90640Driver()
            var got: [ThermalFrame] = []
            var i = 0
            while i < stream.count {
                got += Self.frames(d.feed(Array(stream[i..<min(stream.count, i + chunk)])))
                i += chunk
            }
            #expect(got.map(\.ambientC) == [30, 30.5, 30], "chunk size \(chunk)")
            #expect(got.map(\.sequence) == [1, 2, 3])
        }
    }

    @Test func fiveAFiveAInsidePayloadIsNotAHeader() {
        // 231.30 °C encodes as 0x5A5A; put the full false header 5A 5A 02 06 inside the pixels too.
        var pixels = Self.scene()
        pixels[11] = 231.30
        pixels[10] = 15.38  // 0x0602 = 1538: mirrored on the wire, x=11 then x=10 gives 5A 5A 02 06
        pixels[40] = 231.30
        let wire = GYMCU90640Driver.encode(pixels: pixels, ambientC: 25)
        var falseHeaders = 0
        for i in 4..<(1540 - 3) where Array(wire[i..<(i + 4)]) == [0x5A, 0x5A, 0x02, 0x06] { falseHeaders += 1 }
        #expect(falseHeaders >= 1, "the fixture must really contain a false header")
        // Start mid-frame (at the false header) then a full frame: the false one fails its checksum, the real one decodes.
        let firstFalse = (4..<1537).first { Array(wire[$0..<($0 + 4)]) == [0x5A, 0x5A, 0x02, 0x06] }!
        var d = GYMCU90640Driver()
        let got = Self.frames(d.feed(Array(wire[firstFalse...]) + wire + wire))
        #expect(got.count == 2)
        #expect(got.first?.pixels[11] == 231.30)
        #expect(d.counters.framesOK == 2)
    }

    @Test func corruptedBytesAreCountedAndTheNextFrameDecodes() {
        let good = GYMCU90640Driver.encode(pixels: Self.scene(), ambientC: 27)
        var bad = good
        bad[700] ^= 0x10
        var d = GYMCU90640Driver()
        let got = Self.frames(d.feed(bad + good))
        #expect(got.count == 1)
        #expect(d.counters.badChecksum == 1)
        #expect(d.counters.resyncs == 1)
        #expect(d.counters.bytesDropped == 1544)
        #expect(d.counters.framesOK == 1)
    }

    @Test func wrongBaudNoiseThenRealFrames() {
        // At a wrong baud rate the UART delivers bytes that look random; the stream must recover at once.
        var rng = SplitMix(seed: 7)
        let noise = (0..<5000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let frame = GYMCU90640Driver.encode(pixels: Self.scene(), ambientC: 28)
        var d = GYMCU90640Driver()
        let none = Self.frames(d.feed(noise))
        #expect(none.isEmpty)
        #expect(d.counters.bytesDropped > 0)
        let got = Self.frames(d.feed(frame + frame))
        #expect(got.count == 2)
    }

    @Test func commandChecksumsAreComputed() throws {
        #expect(GYMCU90640Driver.command(0x45, 0x5F) == [0xA5, 0x45, 0x5F, 0x49])  // ε 0.95, manual's example
        #expect(try GYMCU90640Driver.baudCommand(9600) == [0xA5, 0x15, 0x01, 0xBB])
        #expect(try GYMCU90640Driver.baudCommand(460_800) == [0xA5, 0x15, 0x03, 0xBD])
        #expect(try GYMCU90640Driver.rateCommand(4) == [0xA5, 0x25, 0x03, 0xCD])
        #expect(try GYMCU90640Driver.rateCommand(2) == [0xA5, 0x25, 0x02, 0xCC])  // TemperatureDemo's table has CB: wrong
        #expect(GYMCU90640Driver.autoOutputCommand == [0xA5, 0x35, 0x02, 0xDC])
        #expect(GYMCU90640Driver.emissivityQueryCommand == [0xA5, 0x55, 0x01, 0xFB])
        #expect(GYMCU90640Driver.saveToFlashCommand == [0xA5, 0x65, 0x01, 0x0B])
        #expect(throws: CoreError.self) { try GYMCU90640Driver.rateCommand(3) }
        #expect(throws: CoreError.self) { try GYMCU90640Driver.emissivityCommand(1.2) }
        let d = GYMCU90640Driver()
        #expect(throws: CoreError.self) { try d.initCommands(.init(rateHz: 8, baud: 115_200)) }
        let cmds = try d.initCommands(.init(rateHz: 4, baud: 115_200, emissivity: 0.98))
        #expect(cmds == [[0xA5, 0x25, 0x03, 0xCD], [0xA5, 0x45, 0x62, 0x4C], [0xA5, 0x35, 0x02, 0xDC]])
        #expect(!cmds.contains(GYMCU90640Driver.saveToFlashCommand), "flash save only on explicit command")
    }

    @Test func emissivityReplyBetweenFrames() {
        var d = GYMCU90640Driver()
        _ = d.emissivityQuery()
        let frame = GYMCU90640Driver.encode(pixels: Self.scene(), ambientC: 25)
        #expect(GYMCU90640Driver.emissivityReply(0.95) == [0x5A, 0x5A, 0x5F, 0x13])  // the manual's example
        let events = d.feed(frame + GYMCU90640Driver.emissivityReply(0.98) + frame)
        #expect(events.count == 3)
        #expect(events[1] == .emissivity(0.98))
        #expect(d.counters.resyncs == 0)
    }

    @Test func singlePointNineByteFrames() {
        let f = GYMCU906x5Driver.encode(objectC: 36.45, ambientC: 27.5)
        #expect(f.count == 9 && f[0] == 0x5A && f[1] == 0x5A)
        #expect(f[4] == 0x0E && f[5] == 0x3D)  // big-endian 3645
        var bad = f
        bad[5] ^= 1
        var d = GYMCU906x5Driver()
        var got: [ThermalFrame] = []
        let stream = [0x5A, 0x5A, 0x00] + bad + f + f
        for b in stream { got += Self.frames(d.feed([b])) }
        #expect(got.count == 2)
        #expect(got.first?.pixels == [36.45])
        #expect(got.first?.ambientC == 27.5)
        #expect(d.counters.badChecksum >= 1)
        #expect(GYMCU906x5Driver.continuousCommand == [0xA5, 0x45, 0xEA])
    }

    @Test func asciiLineDriverWithNamedGroups() throws {
        var d = try AsciiLineDriver(pattern: #"TA=(?<ambient>-?\d+\.\d+)\s+TO=(?<object>-?\d+\.\d+)"#)
        let text = "garbage\u{1}\u{2}\nTA=27.10 TO=36.80\r\nTA=27.2\nTA=27.15   TO=36.9"
        var got: [ThermalFrame] = []
        for chunk in Array(text.utf8).chunked(3) { got += Self.frames(d.feed(chunk)) }
        got += Self.frames(d.feed(Array("\n".utf8)))
        #expect(got.map(\.pixels) == [[36.8], [36.9]])
        #expect(got.map(\.ambientC) == [27.10, 27.15])
        #expect(d.counters.framesOK == 2)
        #expect(d.counters.resyncs == 2)  // "garbage…" and "TA=27.2"
        #expect(throws: CoreError.self) { try AsciiLineDriver(pattern: #"(?<object>\d+)"#) }
        #expect(throws: CoreError.self) { try AsciiLineDriver(pattern: #"(?<object>\d+"#) }
        // Overlong lines are dropped, not buffered forever.
        _ = d.feed([UInt8](repeating: 0x41, count: 10_000))
        got = Self.frames(d.feed(Array("\nTA=1.00 TO=2.00\n".utf8)))
        #expect(got.map(\.pixels) == [[2.0]])
        // Values no thermometer reports (one beyond Float's range, found by the fuzzer) are noise, not readings.
        let resyncs = d.counters.resyncs
        got = Self.frames(d.feed(Array("TA=25.00 TO=1999999999999999999999999999999999999999999999.0\nTA=25.00 TO=-300.00\nTA=25.00 TO=36.60\n".utf8)))
        #expect(got.map(\.pixels) == [[36.6]])
        #expect(got.allSatisfy { $0.pixels.allSatisfy(\.isFinite) })
        #expect(d.counters.resyncs == resyncs + 2)
    }

    @Test func modelNames() throws {
        #expect(try ThermalModel(name: "gy-mcu90640") == .gyMCU90640)
        #expect(try ThermalModel(name: "GY-MCU90615") == .gyMCU906x5)
        #expect(throws: CoreError.self) { try ThermalModel(name: "flir-one") }
    }
}

/// Framers fuzzed with random input: no crash, and resync within one frame.
@Suite struct ThermalFramerFuzzTests {
    @Test(arguments: 0..<40) func randomGarbageThenFramesResyncs(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed) &* 7919 &+ 1)
        let garbageCount = Int(rng.next() % 6000)
        var garbage = (0..<garbageCount).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Salt the garbage with header fragments, the worst case for a framer.
        for _ in 0..<(garbageCount / 200) {
            let at = Int(rng.next() % UInt64(max(1, garbage.count)))
            if at + 4 <= garbage.count { garbage.replaceSubrange(at..<(at + 4), with: [0x5A, 0x5A, 0x02, 0x06]) }
        }
        let a = GYMCU90640Driver.encode(pixels: ThermalDriverTests.scene(24), ambientC: 26)
        let b = GYMCU90640Driver.encode(pixels: ThermalDriverTests.scene(25), ambientC: 27)
        var d = GYMCU90640Driver()
        var got: [ThermalFrame] = []
        let stream = garbage + a + b
        var i = 0
        while i < stream.count {
            let n = Int(rng.next() % 900) + 1
            got += ThermalDriverTests.frames(d.feed(Array(stream[i..<min(stream.count, i + n)])))
            i += n
        }
        // Resync within one frame: the first complete frame after the garbage is already decoded.
        #expect(got.map(\.ambientC).suffix(2) == [26, 27], "seed \(seed)")

        var s = GYMCU906x5Driver()
        let sp = GYMCU906x5Driver.encode(objectC: 36, ambientC: 25)
        let spGot = ThermalDriverTests.frames(s.feed(garbage + sp + sp))
        #expect(spGot.count >= 2, "single-point seed \(seed)")

        var t = try AsciiLineDriver()
        _ = t.feed(garbage)
        let line = ThermalDriverTests.frames(t.feed(Array("\nAmbient: 25.0 Object: 36.5\n".utf8)))
        #expect(line.map(\.pixels) == [[36.5]], "ascii seed \(seed)")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func double(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + Double(next() >> 11) / Double(1 << 53) * (range.upperBound - range.lowerBound)
    }
}

extension Array {
    func chunked(_ n: Int) -> [[Element]] {
        stride(from: 0, to: count, by: n).map { Array(self[$0..<Swift.min(count, $0 + n)]) }
    }
}

@Suite struct ThermalCounterDeltaTests {
    private func counters(_ bad: UInt64, _ timeouts: UInt64, resyncs: UInt64 = 0) -> ThermalCounters {
        var c = ThermalCounters()
        c.badChecksum = bad
        c.timeouts = timeouts
        c.resyncs = resyncs
        return c
    }

    @Test func errorsAreBadChecksumsAndTimeoutsSinceThePreviousFrame() {
        #expect(counters(7, 4).errors(since: counters(5, 1)) == 5)
        #expect(counters(5, 1).errors(since: counters(5, 1)) == 0)
        // Resyncs and dropped bytes are not lost frames.
        #expect(counters(5, 1, resyncs: 9).errors(since: counters(5, 1)) == 0)
    }

    @Test func aNewDriverCountsFromZero() {
        #expect(counters(2, 0).errors(since: counters(40, 3)) == 2)
    }
}

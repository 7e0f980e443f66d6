// Serial framers: the bytes a thermal sensor (or a broken cable, or a wrong baud rate) sends.
//
// Invariants, for every input:
//  - chunking does not matter: the input fed in one piece and in input-chosen chunks gives the same events and
//    the same counters;
//  - every frame has the driver's size and in-range, finite values; sequences count 1, 2, 3…; framesOK counts the
//    frames; no more bytes are counted as dropped than were fed;
//  - resync: after the input (as garbage) the driver is fed two copies of a known-good frame, and the last event out
//    is exactly that frame.
import CheckpointCore
import Foundation

enum ThermalTargets {
    /// Feeds `stream` in pieces whose sizes come from `rng` (1…max bytes, sometimes empty).
    static func feedChunked<D: ThermalDriver>(_ driver: inout D, _ stream: [UInt8], _ rng: inout SplitMix, max: Int) -> [ThermalEvent] {
        var events: [ThermalEvent] = []
        var i = 0
        while i < stream.count {
            let n = rng.below(8) == 0 ? 0 : 1 + rng.below(max)
            let end = Swift.min(stream.count, i + n)
            events += driver.feed(Array(stream[i..<end]))
            i = end
        }
        return events
    }

    /// Shared checks for one driver.
    static func check<D: ThermalDriver>(
        _ name: String, make: () -> D, stream: [UInt8], rng: inout SplitMix, maxChunk: Int, tail: [UInt8], tailFrame: ThermalFrame,
        width: Int, height: Int, valueRange: ClosedRange<Double>, queryEmissivity: Bool
    ) {
        var whole = make()
        var chunked = make()
        if queryEmissivity {
            _ = whole.emissivityQuery()
            _ = chunked.emissivityQuery()
        }
        let a = whole.feed(stream)
        let b = feedChunked(&chunked, stream, &rng, max: maxChunk)
        require(a == b, "\(name).chunking", "one-piece and chunked feeding differ: \(a.count) vs \(b.count) events")
        // Counters agree too, except for the last < 4 bytes: fed whole they may already be skipped as garbage, while
        // a chunked feed still holds them, too few to decide (and so not yet counted as a resync).
        let cw = whole.counters, cc = chunked.counters
        require(cw.framesOK == cc.framesOK && cw.badChecksum == cc.badChecksum
                && (cw.bytesDropped >= cc.bytesDropped ? cw.bytesDropped - cc.bytesDropped : cc.bytesDropped - cw.bytesDropped) <= 3
                && (cw.resyncs >= cc.resyncs ? cw.resyncs - cc.resyncs : cc.resyncs - cw.resyncs) <= 1,
                "\(name).chunking-counters", "counters differ: \(cw) vs \(cc)")

        var frames = 0
        var emissivityReplies = 0
        for event in a {
            switch event {
            case .frame(let f):
                frames += 1
                require(f.width == width && f.height == height && f.pixels.count == width * height, "\(name).frame-size",
                        "frame \(f.width)×\(f.height) with \(f.pixels.count) pixels")
                for (i, p) in f.pixels.enumerated() {
                    require(p.isFinite && valueRange.contains(Double(p)), "\(name).pixel-range",
                            "pixel \(i) is \(p), outside \(valueRange) (or not finite)")
                }
                require(f.ambientC.isFinite && valueRange.contains(f.ambientC), "\(name).ambient-range",
                        "ambient \(f.ambientC) outside \(valueRange) (or not finite)")
                require(f.sequence == UInt64(frames), "\(name).sequence", "frame \(frames) has sequence \(f.sequence)")
            case .emissivity(let e):
                emissivityReplies += 1
                require(queryEmissivity, "\(name).emissivity-unasked", "emissivity reply \(e) without a query")
                require(e >= 0 && e <= 1, "\(name).emissivity-range", "emissivity \(e) outside 0…1")
            }
        }
        require(emissivityReplies <= 1, "\(name).emissivity-once", "\(emissivityReplies) emissivity replies to one query")
        let c = whole.counters
        require(c.framesOK == UInt64(frames), "\(name).framesOK", "framesOK \(c.framesOK) but \(frames) frames emitted")
        require(c.bytesDropped <= UInt64(stream.count), "\(name).bytes-dropped",
                "\(c.bytesDropped) bytes dropped of \(stream.count) fed")

        // Resync: garbage, then two good frames in input-chosen chunks. The last event must be the good frame.
        let after = feedChunked(&chunked, tail + tail, &rng, max: maxChunk)
        guard case .frame(let last)? = after.last else {
            fail("\(name).resync", "no frame came out after the input and two good frames (\(after.count) events)")
        }
        require(last.pixels == tailFrame.pixels && last.ambientC == tailFrame.ambientC, "\(name).resync",
                "the last frame after the input and two good frames is not the good frame")
    }

    /// What an int16 of °C×100 can hold (−327.68…327.67 °C), with room for the Float rounding of the pixels.
    static let int16Centi: ClosedRange<Double> = -327.685...327.675

    // MARK: GY-MCU90640

    /// A good frame whose bytes hold 0x5A only in the header, so no false header can start inside it.
    static let gyFrame: (bytes: [UInt8], frame: ThermalFrame) = {
        var pixels = [Float](repeating: 0, count: 768)
        for y in 0..<24 {
            for x in 0..<32 {
                let dx = Double(x) - 16, dy = Double(y) - 10
                pixels[y * 32 + x] = Float((24 + 12.5 * exp(-(dx * dx + dy * dy) / 40)) * 100).rounded() / 100
            }
        }
        var ambient = 26.0
        while true {
            let bytes = GYMCU90640Driver.encode(pixels: pixels, ambientC: ambient)
            // Nudge any pixel whose encoding contains 0x5A by 0.01 °C until none does, then the ambient for the checksum.
            var changed = false
            for k in 0..<768 where bytes[4 + 2 * k] == 0x5A || bytes[5 + 2 * k] == 0x5A {
                let col = 31 - k % 32, row = k / 32  // encode mirrors columns
                pixels[row * 32 + col] += 0.01
                changed = true
            }
            if changed { continue }
            if bytes[1540...].contains(0x5A) { ambient += 0.01; continue }
            var decoder = GYMCU90640Driver()
            let events = decoder.feed(bytes)
            guard case .frame(let f)? = events.first, events.count == 1 else { fatalError("fixture frame does not decode") }
            return (bytes, f)
        }
    }()

    static let gymcu90640: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        var rng = SplitMix(data)
        let stream = Array(data)
        check("gymcu90640", make: { GYMCU90640Driver() }, stream: stream, rng: &rng, maxChunk: 2000, tail: gyFrame.bytes,
              tailFrame: gyFrame.frame, width: 32, height: 24, valueRange: int16Centi,
              queryEmissivity: stream.first.map { $0 & 1 == 1 } ?? false)
        return 0
    }

    // MARK: GY-MCU90614/90615

    static let spFrame: (bytes: [UInt8], frame: ThermalFrame) = {
        let bytes = GYMCU906x5Driver.encode(objectC: 36.61, ambientC: 24.33)
        precondition(!bytes[2...].contains(0x5A), "fixture single-point frame holds 0x5A")
        var decoder = GYMCU906x5Driver()
        guard case .frame(let f)? = decoder.feed(bytes).first else { fatalError("fixture frame does not decode") }
        return (bytes, f)
    }()

    static let singlePoint: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        var rng = SplitMix(data)
        check("singlepoint", make: { GYMCU906x5Driver() }, stream: Array(data), rng: &rng, maxChunk: 24, tail: spFrame.bytes,
              tailFrame: spFrame.frame, width: 1, height: 1, valueRange: int16Centi, queryEmissivity: false)
        return 0
    }

    // MARK: ASCII lines

    static let asciiTail = Array("\nAmbient: 24.5 Object: 36.25\r\n".utf8)
    static let asciiFrame = ThermalFrame(width: 1, height: 1, pixels: [36.25], ambientC: 24.5)

    static let asciiLine: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        var rng = SplitMix(data)
        check("asciiline", make: { try! AsciiLineDriver() }, stream: Array(data), rng: &rng, maxChunk: 300, tail: asciiTail,
              tailFrame: asciiFrame, width: 1, height: 1, valueRange: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
              queryEmissivity: false)
        return 0
    }
}

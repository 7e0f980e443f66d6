/// GY-MCU90640 (MLX90640 32×24 behind an STM32), per the vendor manual "GY_MCU9064 user manual v1".
///
/// Frame, 1544 bytes, little-endian: `5A 5A 02 06` · 768 × int16 pixels (°C×100) · int16 Ta (°C×100) ·
/// uint16 checksum = sum of the first 771 LE words kept to 16 bits. Pixel (col 1, row 1) is the upper-right
/// corner, so rows are mirrored by default. `0x5A5A` is a legal pixel value (231.30 °C): the framer matches the
/// full 4-byte header, checks the checksum, and on a mismatch rescans from the header's next byte.
/// Commands: `A5 cmd data sum` with sum = (0xA5 + cmd + data) & 0xFF, always computed here.
public struct GYMCU90640Driver: ThermalDriver {
    public static let width = 32
    public static let height = 24
    public static let frameLength = 1544
    public static let header: [UInt8] = [0x5A, 0x5A, 0x02, 0x06]

    public var model: ThermalModel { .gyMCU90640 }
    public private(set) var counters = ThermalCounters()
    /// Mirror columns so that x grows to the right as seen from the sensor (the manual's col 1 is upper-right).
    public var mirrorHorizontally: Bool
    public var flipVertically: Bool

    private var buffer: [UInt8] = []
    private var start = 0
    private var sequence: UInt64 = 0
    private var inSync = true
    private var awaitingEmissivity = false

    public init(mirrorHorizontally: Bool = true, flipVertically: Bool = false) {
        self.mirrorHorizontally = mirrorHorizontally
        self.flipVertically = flipVertically
        buffer.reserveCapacity(4 * Self.frameLength)
    }

    // MARK: Commands

    public static func command(_ cmd: UInt8, _ data: UInt8) -> [UInt8] {
        [0xA5, cmd, data, UInt8((0xA5 + Int(cmd) + Int(data)) & 0xFF)]
    }

    public static func baudCommand(_ baud: Int) throws(CoreError) -> [UInt8] {
        switch baud {
        case 9600: return command(0x15, 0x01)
        case 115_200: return command(0x15, 0x02)
        case 460_800: return command(0x15, 0x03)
        default: throw CoreError(.invalidInput, "GY-MCU90640 supports 9600, 115200 or 460800 baud, not \(baud)")
        }
    }

    public static func rateCommand(_ hz: Double) throws(CoreError) -> [UInt8] {
        let table: [(Double, UInt8)] = [(0.5, 0), (1, 1), (2, 2), (4, 3), (8, 4)]
        guard let code = table.first(where: { abs($0.0 - hz) < 1e-9 })?.1 else {
            throw CoreError(.invalidInput, "GY-MCU90640 rate must be 0.5, 1, 2, 4 or 8 Hz, not \(hz)")
        }
        return command(0x25, code)
    }

    public static func emissivityCommand(_ epsilon: Double) throws(CoreError) -> [UInt8] {
        let code = Int((epsilon * 100).rounded())
        guard epsilon.isFinite, code >= 1, code <= 0x64 else {
            throw CoreError(.invalidInput, "emissivity must be within 0.01…1.00, not \(epsilon)")
        }
        return command(0x45, UInt8(code))
    }

    public static let autoOutputCommand = command(0x35, 0x02)
    public static let queryOutputCommand = command(0x35, 0x01)
    public static let emissivityQueryCommand = command(0x55, 0x01)
    public static let saveToFlashCommand = command(0x65, 0x01)

    public func initCommands(_ settings: ThermalInitSettings) throws(CoreError) -> [[UInt8]] {
        if settings.rateHz > 4, settings.baud < 460_800 {
            throw CoreError(.invalidInput, "GY-MCU90640 above 4 Hz needs 460800 baud (a frame is 15,440 bits); asked \(settings.rateHz) Hz at \(settings.baud)")
        }
        var cmds = [try Self.rateCommand(settings.rateHz)]
        if let e = settings.emissivity { cmds.append(try Self.emissivityCommand(e)) }
        cmds.append(Self.autoOutputCommand)
        return cmds
    }

    public mutating func emissivityQuery() -> [UInt8]? {
        awaitingEmissivity = true
        return Self.emissivityQueryCommand
    }

    public func saveCommand() -> [UInt8]? { Self.saveToFlashCommand }

    // MARK: Framing

    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        start = 0
        inSync = true
    }

    public mutating func noteTimeout() { counters.timeouts += 1 }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, at nanos: UInt64) -> [ThermalEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ThermalEvent] = []
        scan: while buffer.count - start >= 4 {
            let b0 = buffer[start], b1 = buffer[start + 1], b2 = buffer[start + 2], b3 = buffer[start + 3]
            if b0 == 0x5A, b1 == 0x5A, b2 == 0x02, b3 == 0x06 {
                guard buffer.count - start >= Self.frameLength else { break scan }
                if let frame = decode(at: start, nanos: nanos) {
                    events.append(.frame(frame))
                    start += Self.frameLength
                    inSync = true
                    continue scan
                }
                counters.badChecksum += 1
                drop(1)
                continue scan
            }
            if awaitingEmissivity, b0 == 0x5A, b1 == 0x5A, b2 <= 0x64, b3 == UInt8((0xB4 + Int(b2)) & 0xFF) {
                awaitingEmissivity = false
                events.append(.emissivity(Double(b2) / 100))
                start += 4
                continue scan
            }
            // Not at a header: skip to the next 0x5A.
            var next = start + 1
            while next < buffer.count, buffer[next] != 0x5A { next += 1 }
            drop(next - start)
        }
        compact()
        return events
    }

    private mutating func drop(_ n: Int) {
        if inSync {
            counters.resyncs += 1
            inSync = false
        }
        counters.bytesDropped += UInt64(n)
        start += n
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 2 * Self.frameLength {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    private mutating func decode(at offset: Int, nanos: UInt64) -> ThermalFrame? {
        buffer.withUnsafeBufferPointer { p -> ThermalFrame? in
            var sum: UInt32 = 0
            var i = offset
            let end = offset + 1542
            while i < end {
                sum &+= UInt32(p[i]) | (UInt32(p[i + 1]) << 8)
                i += 2
            }
            let expected = UInt16(p[end]) | (UInt16(p[end + 1]) << 8)
            guard UInt16(truncatingIfNeeded: sum) == expected else { return nil }
            let w = Self.width, h = Self.height
            var pixels = [Float](repeating: 0, count: w * h)
            for k in 0..<(w * h) {
                let lo = UInt16(p[offset + 4 + 2 * k]), hi = UInt16(p[offset + 5 + 2 * k])
                let raw = Int16(bitPattern: lo | (hi << 8))
                let row = k / w, col = k % w
                let x = mirrorHorizontally ? (w - 1 - col) : col
                let y = flipVertically ? (h - 1 - row) : row
                pixels[y * w + x] = Float(raw) / 100
            }
            let taRaw = Int16(bitPattern: UInt16(p[offset + 1540]) | (UInt16(p[offset + 1541]) << 8))
            return ThermalFrame(width: w, height: h, pixels: pixels, ambientC: Double(taRaw) / 100, sequence: 0, monotonicNanos: nanos)
        }.map { frame in
            var frame = frame
            sequence += 1
            counters.framesOK += 1
            frame.sequence = sequence
            return frame
        }
    }

    /// Encodes a frame the way the module sends it (used by the simulator and the fixtures).
    /// `pixels` are row-major as seen from the sensor; they are mirrored on the wire like the real module.
    public static func encode(pixels: [Float], ambientC: Double, mirrorHorizontally: Bool = true) -> [UInt8] {
        precondition(pixels.count == width * height)
        var out = [UInt8](repeating: 0, count: frameLength)
        out[0] = 0x5A; out[1] = 0x5A; out[2] = 0x02; out[3] = 0x06
        func put(_ value: Double, at index: Int) {
            let v = Int16(clamping: Int((value * 100).rounded()))
            let u = UInt16(bitPattern: v)
            out[index] = UInt8(u & 0xFF)
            out[index + 1] = UInt8(u >> 8)
        }
        for k in 0..<(width * height) {
            let row = k / width, col = k % width
            let x = mirrorHorizontally ? (width - 1 - col) : col
            put(Double(pixels[row * width + x]), at: 4 + 2 * k)
        }
        put(ambientC, at: 1540)
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 1542, by: 2) { sum &+= UInt32(out[i]) | (UInt32(out[i + 1]) << 8) }
        out[1542] = UInt8(sum & 0xFF)
        out[1543] = UInt8((sum >> 8) & 0xFF)
        return out
    }

    /// The module's 4-byte answer to an emissivity query: `5A 5A XX sum`.
    public static func emissivityReply(_ epsilon: Double) -> [UInt8] {
        let code = UInt8(max(1, min(100, Int((epsilon * 100).rounded()))))
        return [0x5A, 0x5A, code, UInt8((0xB4 + Int(code)) & 0xFF)]
    }
}

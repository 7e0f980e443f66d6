import Foundation

/// GY-MCU90614 / GY-MCU90615 single-point modules: 9-byte frames
/// `5A 5A type 04 TO_H TO_L TA_H TA_L sum`, values big-endian °C×100, sum = low byte of bytes 0…7.
/// Commands are 3 bytes `A5 cmd sum`, sum = (0xA5 + cmd) & 0xFF.
public struct GYMCU906x5Driver: ThermalDriver {
    public static let frameLength = 9
    public var model: ThermalModel { .gyMCU906x5 }
    public private(set) var counters = ThermalCounters()
    private var buffer: [UInt8] = []
    private var start = 0
    private var sequence: UInt64 = 0
    private var inSync = true

    public init() {}

    public static func command(_ cmd: UInt8) -> [UInt8] { [0xA5, cmd, UInt8((0xA5 + Int(cmd)) & 0xFF)] }
    public static let continuousCommand = command(0x45)

    public func initCommands(_ settings: ThermalInitSettings) throws(CoreError) -> [[UInt8]] {
        var cmds: [[UInt8]] = []
        switch settings.baud {
        case 9600: cmds.append(Self.command(0xAE))
        case 115_200: cmds.append(Self.command(0xAF))
        default: throw CoreError(.invalidInput, "GY-MCU90614/90615 supports 9600 or 115200 baud, not \(settings.baud)")
        }
        cmds.append(Self.continuousCommand)
        return cmds
    }

    public mutating func emissivityQuery() -> [UInt8]? { nil }
    public func saveCommand() -> [UInt8]? { nil }
    public mutating func reset() { buffer.removeAll(); start = 0; inSync = true }
    public mutating func noteTimeout() { counters.timeouts += 1 }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, at nanos: UInt64) -> [ThermalEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ThermalEvent] = []
        while buffer.count - start >= 4 {
            if buffer[start] == 0x5A, buffer[start + 1] == 0x5A, buffer[start + 3] == 0x04 {
                guard buffer.count - start >= Self.frameLength else { break }
                var sum = 0
                for i in 0..<8 { sum += Int(buffer[start + i]) }
                if UInt8(sum & 0xFF) == buffer[start + 8] {
                    let to = Int16(bitPattern: UInt16(buffer[start + 4]) << 8 | UInt16(buffer[start + 5]))
                    let ta = Int16(bitPattern: UInt16(buffer[start + 6]) << 8 | UInt16(buffer[start + 7]))
                    sequence += 1
                    counters.framesOK += 1
                    events.append(.frame(ThermalFrame(width: 1, height: 1, pixels: [Float(to) / 100], ambientC: Double(ta) / 100,
                                                      sequence: sequence, monotonicNanos: nanos)))
                    start += Self.frameLength
                    inSync = true
                    continue
                }
                counters.badChecksum += 1
                drop(1)
                continue
            }
            var next = start + 1
            while next < buffer.count, buffer[next] != 0x5A { next += 1 }
            drop(next - start)
        }
        if start > 256 || start == buffer.count { buffer.removeSubrange(0..<start); start = 0 }
        return events
    }

    private mutating func drop(_ n: Int) {
        if inSync { counters.resyncs += 1; inSync = false }
        counters.bytesDropped += UInt64(n)
        start += n
    }

    /// Encodes a frame as the module sends it (simulator, fixtures).
    public static func encode(objectC: Double, ambientC: Double, type: UInt8 = 0x45) -> [UInt8] {
        let to = UInt16(bitPattern: Int16(clamping: Int((objectC * 100).rounded())))
        let ta = UInt16(bitPattern: Int16(clamping: Int((ambientC * 100).rounded())))
        var out: [UInt8] = [0x5A, 0x5A, type, 0x04, UInt8(to >> 8), UInt8(to & 0xFF), UInt8(ta >> 8), UInt8(ta & 0xFF)]
        out.append(UInt8(out.reduce(0) { $0 + Int($1) } & 0xFF))
        return out
    }
}

/// A configurable driver for single-point modules that print text lines: a regular expression with the named
/// groups `object` and `ambient` (°C). Lines that do not match are dropped and counted.
public struct AsciiLineDriver: ThermalDriver, @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable after creation and documented thread-safe.
    public static let defaultPattern = #"(?i)ambient\s*[:=]?\s*(?<ambient>[+-]?\d+(?:\.\d+)?).*?object\s*[:=]?\s*(?<object>[+-]?\d+(?:\.\d+)?)"#
    public static let maxLineLength = 256

    public let pattern: String
    public var model: ThermalModel { .asciiLine(pattern: pattern) }
    public private(set) var counters = ThermalCounters()
    private let regex: NSRegularExpression
    private var line: [UInt8] = []
    private var overlong = false
    private var sequence: UInt64 = 0

    public init(pattern: String = AsciiLineDriver.defaultPattern) throws(CoreError) {
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            throw CoreError(.invalidInput, "the ASCII-line pattern '\(pattern)' is not a valid regular expression", cause: error)
        }
        for group in ["object", "ambient"] where !pattern.contains("(?<\(group)>") {
            throw CoreError(.invalidInput, "the ASCII-line pattern must have a named group (?<\(group)>…); '\(pattern)' has none")
        }
        self.pattern = pattern
    }

    public func initCommands(_ settings: ThermalInitSettings) throws(CoreError) -> [[UInt8]] { [] }
    public mutating func emissivityQuery() -> [UInt8]? { nil }
    public func saveCommand() -> [UInt8]? { nil }
    public mutating func reset() { line.removeAll(); overlong = false }
    public mutating func noteTimeout() { counters.timeouts += 1 }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, at nanos: UInt64) -> [ThermalEvent] {
        var events: [ThermalEvent] = []
        for byte in bytes {
            if byte == 0x0A || byte == 0x0D {
                if overlong {
                    overlong = false
                } else if !line.isEmpty {
                    if let frame = parse(line, nanos: nanos) {
                        events.append(.frame(frame))
                    } else {
                        counters.resyncs += 1
                        counters.bytesDropped += UInt64(line.count)
                    }
                }
                line.removeAll(keepingCapacity: true)
                continue
            }
            if overlong { counters.bytesDropped += 1; continue }
            line.append(byte)
            if line.count > Self.maxLineLength {
                counters.resyncs += 1
                counters.bytesDropped += UInt64(line.count)
                line.removeAll(keepingCapacity: true)
                overlong = true
            }
        }
        return events
    }

    /// Readings outside this range (°C) are not temperatures an IR thermometer reports (MLX90614: −70…380).
    static let physicalRange = -100.0...1000.0

    private mutating func parse(_ bytes: [UInt8], nanos: UInt64) -> ThermalFrame? {
        let text = String(decoding: bytes, as: UTF8.self)
        let ns = text as NSString
        guard let m = regex.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else { return nil }
        func value(_ name: String) -> Double? {
            let r = m.range(withName: name)
            guard r.location != NSNotFound else { return nil }
            return Double(ns.substring(with: r))
        }
        // A value no IR thermometer reports (or one beyond Float's range, which would become ±inf) is line noise:
        // the line is dropped and counted as a resync, never passed on as a reading.
        guard let object = value("object"), let ambient = value("ambient"),
              Self.physicalRange.contains(object), Self.physicalRange.contains(ambient) else { return nil }
        sequence += 1
        counters.framesOK += 1
        return ThermalFrame(width: 1, height: 1, pixels: [Float(object)], ambientC: ambient, sequence: sequence, monotonicNanos: nanos)
    }
}

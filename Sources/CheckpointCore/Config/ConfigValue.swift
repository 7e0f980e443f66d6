import Foundation

/// A TOML date, time or date-time as written in a file (values come from TOMLKit; this is a Sendable copy).
public struct ConfigDateTime: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case offsetDateTime, localDateTime, localDate, localTime }

    public var kind: Kind
    public var year: Int, month: Int, day: Int
    public var hour: Int, minute: Int, second: Int, nanosecond: Int
    /// Offset from UTC in minutes (only for `.offsetDateTime`).
    public var offsetMinutes: Int?

    public init(
        kind: Kind, year: Int = 0, month: Int = 0, day: Int = 0, hour: Int = 0, minute: Int = 0, second: Int = 0,
        nanosecond: Int = 0, offsetMinutes: Int? = nil
    ) {
        self.kind = kind
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second; self.nanosecond = nanosecond
        self.offsetMinutes = kind == .offsetDateTime ? (offsetMinutes ?? 0) : nil
    }

    /// An offset date-time for `date` in UTC, to whole seconds.
    public init(utc date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        self.init(
            kind: .offsetDateTime, year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1, hour: c.hour ?? 0,
            minute: c.minute ?? 0, second: c.second ?? 0, offsetMinutes: 0)
    }

    /// The instant, for offset date-times (local ones have no instant).
    public var date: Date? {
        guard kind == .offsetDateTime, let offsetMinutes else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        guard let zone = TimeZone(secondsFromGMT: offsetMinutes * 60) else { return nil }
        calendar.timeZone = zone
        return calendar.date(
            from: DateComponents(
                year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanosecond))
    }

    /// TOML (RFC 3339) text, e.g. `2026-11-20T09:30:00+07:00`.
    public var description: String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let datePart = "\(String(format: "%04d", year))-\(two(month))-\(two(day))"
        var timePart = "\(two(hour)):\(two(minute)):\(two(second))"
        if nanosecond > 0 {
            var frac = String(format: "%09d", nanosecond)
            while frac.hasSuffix("0") { frac.removeLast() }
            timePart += "." + frac
        }
        switch kind {
        case .localDate: return datePart
        case .localTime: return timePart
        case .localDateTime: return datePart + "T" + timePart
        case .offsetDateTime:
            let off = offsetMinutes ?? 0
            if off == 0 { return datePart + "T" + timePart + "Z" }
            let sign = off < 0 ? "-" : "+"
            return datePart + "T" + timePart + sign + two(abs(off) / 60) + ":" + two(abs(off) % 60)
        }
    }
}

/// A TOML value, converted from TOMLKit's reference types into a Sendable tree.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case dateTime(ConfigDateTime)
    case array([ConfigValue])
    case table([String: ConfigValue])

    /// The TOML type name used in messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .dateTime(let d):
            switch d.kind {
            case .offsetDateTime: "offset date-time"
            case .localDateTime: "local date-time"
            case .localDate: "local date"
            case .localTime: "local time"
            }
        case .array: "array"
        case .table: "table"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int? { if case .integer(let i) = self { i } else { nil } }
    public var boolValue: Bool? { if case .boolean(let b) = self { b } else { nil } }
    /// Floats, and integers read as floats (TOML `35` is a fine temperature).
    public var doubleValue: Double? {
        switch self {
        case .float(let d): d
        case .integer(let i): Double(i)
        default: nil
        }
    }
    public var arrayValue: [ConfigValue]? { if case .array(let a) = self { a } else { nil } }
    public var tableValue: [String: ConfigValue]? { if case .table(let t) = self { t } else { nil } }
    public var dateTimeValue: ConfigDateTime? { if case .dateTime(let d) = self { d } else { nil } }

    /// The value as TOML text (for messages, defaults in docs and the calibration writer).
    public var tomlText: String {
        switch self {
        case .string(let s): return ConfigValue.quote(s)
        case .integer(let i): return String(i)
        case .float(let d): return ConfigValue.formatFloat(d)
        case .boolean(let b): return b ? "true" : "false"
        case .dateTime(let d): return d.description
        case .array(let a): return "[" + a.map(\.tomlText).joined(separator: ", ") + "]"
        case .table(let t):
            let body = t.keys.sorted().map { "\(TOMLKeyPath.quoteComponent($0)) = \(t[$0]!.tomlText)" }
            return "{ " + body.joined(separator: ", ") + " }"
        }
    }

    /// A TOML basic string with the escapes TOML requires.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Shortest text that reads back as the same Double, always with a decimal point (TOML float syntax).
    public static func formatFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        var s = "\(d)"
        if s.contains("e") || s.contains("E") {
            // Swift prints 1e-05; TOML needs a digit after the mantissa's point or none: 1e-05 is valid TOML.
            return s
        }
        if !s.contains(".") { s += ".0" }
        return s
    }
}

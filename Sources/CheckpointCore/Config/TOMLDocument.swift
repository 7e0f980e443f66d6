import Foundation
import TOMLKit

/// One file a document was read from, and where each key is written in it.
public struct TOMLSource: Sendable {
    public var file: String
    public var locator: TOMLKeyLocator
}

/// A parsed TOML file: its values (from TOMLKit) and where each key is written (from `TOMLKeyLocator`); or several
/// files merged in order (a main file and its drop-ins), each key remembered in the file that set it last.
public struct TOMLDocument: Sendable {
    /// The first (main) file.
    public var file: String
    public var root: [String: ConfigValue]
    /// Where each key is written in the main file.
    public var locator: TOMLKeyLocator
    /// Every file merged into `root`, in the order applied (the main file first).
    public var sources: [TOMLSource]

    public init(file: String, root: [String: ConfigValue], locator: TOMLKeyLocator) {
        self.file = file
        self.root = root
        self.locator = locator
        self.sources = [TOMLSource(file: file, locator: locator)]
    }

    /// This document with `other` applied over it: tables merge key by key, any other value written in `other`
    /// replaces this one's (as systemd drop-ins do).
    public func merged(with other: TOMLDocument) -> TOMLDocument {
        var out = self
        out.root = Self.merge(root, other.root)
        out.sources += other.sources
        return out
    }

    static func merge(_ base: [String: ConfigValue], _ over: [String: ConfigValue]) -> [String: ConfigValue] {
        var out = base
        for (key, value) in over {
            if case .table(let a)? = out[key], case .table(let b) = value {
                out[key] = .table(merge(a, b))
            } else {
                out[key] = value
            }
        }
        return out
    }

    /// The value written at `path`, if any.
    public func value(at path: [String]) -> ConfigValue? {
        guard let first = path.first else { return nil }
        var v = root[first]
        for name in path.dropFirst() { v = v?.tableValue?[name] }
        return v
    }

    /// The file and line where `path` is set (the last file that writes it), else where its nearest written
    /// ancestor is, else the main file's line 1.
    public func location(for path: [String]) -> (file: String, line: Int) {
        var p = path
        while !p.isEmpty {
            for s in sources.reversed() {
                if let l = s.locator.line(for: p) { return (s.file, l) }
            }
            p.removeLast()
        }
        return (file, 1)
    }

    /// The directory of the file that sets exactly `path` (relative paths there start at it); the main file's
    /// directory when no file writes it (a default).
    public func directory(for path: [String]) -> String {
        let f = sources.last { $0.locator.line(for: path) != nil }?.file ?? file
        return URL(fileURLWithPath: f).deletingLastPathComponent().path
    }

    /// Parses TOML text. A syntax error becomes one diagnostic with TOMLKit's line.
    public static func parse(_ text: String, file: String) -> Result<TOMLDocument, ConfigError> {
        if text.utf8.contains(0) {
            // Count newline bytes: "\r\n" is one Character, so counting Characters would miss CRLF lines.
            let line = text.utf8.prefix { $0 != 0 }.filter { $0 == 0x0A }.count + 1
            return .failure(
                ConfigError([
                    ConfigDiagnostic(file: file, line: line, keyPath: "", message: "TOML syntax error: NUL byte in file")
                ]))
        }
        if let bad = headerWithoutKey(in: text) {
            return .failure(
                ConfigError([
                    ConfigDiagnostic(
                        file: file, line: bad.line, keyPath: "",
                        message: "TOML syntax error at column \(bad.column): a table header must start with a key (a letter, digit, _, - or a quote)")
                ]))
        }
        do {
            let table = try TOMLTable(string: text)
            let root = convert(table: table)
            return .success(TOMLDocument(file: file, root: root, locator: TOMLKeyLocator(source: text)))
        } catch let error as TOMLParseError {
            let line = max(1, error.source.begin.line)
            return .failure(
                ConfigError([
                    ConfigDiagnostic(
                        file: file, line: line, keyPath: "",
                        message: "TOML syntax error at column \(error.source.begin.column): \(error.description)")
                ]))
        } catch {
            return .failure(
                ConfigError([ConfigDiagnostic(file: file, line: 1, keyPath: "", message: "TOML syntax error: \(error)")]))
        }
    }

    /// The first table header (`[…]` or `[[…]]`) whose key does not start with a key character, as (line, column).
    ///
    /// toml++ (inside TOMLKit) asserts on such a header instead of reporting it, which would abort the daemon
    /// on a two-byte file like `[=` (found by fuzzing). So they are found here first. Headers are only
    /// recognised where TOML allows them: at the start of a line, outside strings, comments and open arrays or
    /// inline tables.
    static func headerWithoutKey(in text: String) -> (line: Int, column: Int)? {
        let bytes = Array(text.utf8)
        let n = bytes.count
        var i = 0, line = 1, lineStart = 0
        var depth = 0                  // open [ and { of values
        var multiline: UInt8? = nil    // the quote character of an open multi-line string
        var atLineStart = true
        func isKeyStart(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
                || c == 0x22 || c == 0x27
        }
        func triple(_ q: UInt8, at j: Int) -> Bool { j + 2 < n && bytes[j] == q && bytes[j + 1] == q && bytes[j + 2] == q }
        while i < n {
            let c = bytes[i]
            if c == 0x0A {
                line += 1
                lineStart = i + 1
                atLineStart = true
                i += 1
                continue
            }
            if let q = multiline {
                if c == 0x5C && q == 0x22 { i += 2; continue }   // an escape in a basic string
                if triple(q, at: i) { multiline = nil; i += 3; atLineStart = false; continue }
                i += 1
                continue
            }
            if atLineStart && (c == 0x20 || c == 0x09 || c == 0x0D) { i += 1; continue }
            if atLineStart && depth == 0 && c == 0x5B {          // a table header
                var j = i + 1
                if j < n && bytes[j] == 0x5B { j += 1 }
                while j < n && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
                if j >= n || !isKeyStart(bytes[j]) { return (line, j - lineStart + 1) }
                while i < n && bytes[i] != 0x0A { i += 1 }       // the rest of the header line
                continue
            }
            atLineStart = false
            switch c {
            case 0x23:                                           // a comment, to the end of the line
                while i < n && bytes[i] != 0x0A { i += 1 }
                continue
            case 0x22, 0x27:
                if triple(c, at: i) { multiline = c; i += 3; continue }
                var j = i + 1                                    // a one-line string
                while j < n && bytes[j] != c && bytes[j] != 0x0A { j += (c == 0x22 && bytes[j] == 0x5C) ? 2 : 1 }
                i = j < n && bytes[j] == c ? j + 1 : min(j, n)   // unterminated: the parser reports it
                continue
            case 0x5B, 0x7B: depth += 1
            case 0x5D, 0x7D: depth = max(0, depth - 1)
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Reads and parses a file. An unreadable file becomes `FILE: cannot read: <strerror>`.
    public static func load(path: String) -> Result<TOMLDocument, ConfigError> {
        switch readText(path: path) {
        case .success(let text): return parse(text, file: path)
        case .failure(let e): return .failure(e)
        }
    }

    static func readText(path: String) -> Result<String, ConfigError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(cannotRead(path, errno)) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return .failure(cannotRead(path, EISDIR)) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(cannotRead(path, errno))
            }
            if n == 0 { break }
            data += buffer[0..<n]
            if data.count > 4 << 20 {
                return .failure(
                    ConfigError([
                        ConfigDiagnostic(file: path, line: nil, keyPath: "", message: "cannot read: larger than 4 MiB")
                    ]))
            }
        }
        guard let text = decodeStrict(data) else {
            return .failure(
                ConfigError([
                    ConfigDiagnostic(file: path, line: nil, keyPath: "", message: "cannot read: not valid UTF-8 text")
                ]))
        }
        return .success(text)
    }

    private static func decodeStrict(_ data: [UInt8]) -> String? {
        // Strict UTF-8 (no replacement characters); NULs are kept so the parser can point at their line.
        var it = data.makeIterator()
        var decoder = UTF8()
        var out = String.UnicodeScalarView()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): out.append(s)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        return String(out)
    }

    private static func cannotRead(_ path: String, _ code: Int32) -> ConfigError {
        ConfigError([
            ConfigDiagnostic(file: path, line: nil, keyPath: "", message: "cannot read: \(String(cString: strerror(code)))")
        ])
    }

    // MARK: TOMLKit → Sendable values

    static func convert(table: TOMLTable) -> [String: ConfigValue] {
        var out: [String: ConfigValue] = [:]
        for (key, value) in table { out[key] = convert(value) }
        return out
    }

    static func convert(_ value: any TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .table: return .table(value.table.map(convert(table:)) ?? [:])
        case .array: return .array(value.array.map { $0.map { convert($0) } } ?? [])
        case .string: return .string(value.string ?? "")
        case .int: return .integer(value.int ?? 0)
        case .double: return .float(value.double ?? .nan)
        case .bool: return .boolean(value.bool ?? false)
        case .date:
            let d = value.date
            return .dateTime(ConfigDateTime(kind: .localDate, year: d?.year ?? 0, month: d?.month ?? 0, day: d?.day ?? 0))
        case .time:
            let t = value.time
            return .dateTime(
                ConfigDateTime(
                    kind: .localTime, hour: t?.hour ?? 0, minute: t?.minute ?? 0, second: t?.second ?? 0,
                    nanosecond: t?.nanoSecond ?? 0))
        case .dateTime:
            guard let dt = value.dateTime else { return .string("") }
            return .dateTime(
                ConfigDateTime(
                    kind: dt.offset == nil ? .localDateTime : .offsetDateTime, year: dt.date.year, month: dt.date.month,
                    day: dt.date.day, hour: dt.time.hour, minute: dt.time.minute, second: dt.time.second,
                    nanosecond: dt.time.nanoSecond, offsetMinutes: dt.offset?.offset))
        }
    }
}

/// Key paths as printed in diagnostics: `camera.controls.gain`, `fit.points[1]`, `"odd key".x`.
public enum TOMLKeyPath {
    /// Joins components; array indices (`[n]`) attach without a dot.
    public static func render(_ components: [String]) -> String {
        var out = ""
        for c in components {
            if isIndex(c) { out += c; continue }
            if !out.isEmpty { out += "." }
            out += quoteComponent(c)
        }
        return out
    }

    /// An array index component, `[n]`. Only digits: a quoted key such as `"["` is a key, not an index (fuzzing).
    static func isIndex(_ c: String) -> Bool {
        c.count >= 3 && c.hasPrefix("[") && c.hasSuffix("]") && c.dropFirst().dropLast().allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// A key component, quoted when it is not a TOML bare key.
    public static func quoteComponent(_ c: String) -> String {
        let bare = !c.isEmpty && c.unicodeScalars.allSatisfy { s in
            (s >= "A" && s <= "Z") || (s >= "a" && s <= "z") || (s >= "0" && s <= "9") || s == "_" || s == "-"
        }
        return bare ? c : ConfigValue.quote(c)
    }
}

/// Maps key paths to the line where they are written in a TOML source text.
///
/// TOMLKit reports line numbers only for syntax errors, but a technician needs the line of an unknown key or an
/// out-of-range value too. This is deliberately NOT a TOML parser: it produces no values (TOMLKit does that) and
/// runs only on text TOMLKit has accepted. It tracks `[table]` and `[[array]]` headers, dotted keys, `key =` lines,
/// inline tables and array elements, and skips over strings (all four kinds), comments and multi-line arrays so
/// that a `[` or `=` inside them is never mistaken for structure.
public struct TOMLKeyLocator: Sendable {
    /// Rendered key path → 1-based line.
    public private(set) var lines: [String: Int] = [:]

    public init(source: String) {
        var bytes = Array(source.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // a UTF-8 byte-order mark is not a key
        var scanner = Scanner(bytes: bytes)
        scanner.run()
        lines = scanner.lines
    }

    /// The line where exactly this path is written, if it is.
    public func line(for path: [String]) -> Int? { lines[TOMLKeyPath.render(path)] }

    /// The line of the path, else of its nearest written ancestor (a table header), else 1.
    public func nearestLine(for path: [String]) -> Int {
        var p = path
        while !p.isEmpty {
            if let l = lines[TOMLKeyPath.render(p)] { return l }
            p.removeLast()
        }
        return 1
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var lines: [String: Int] = [:]
        var table: [String] = []
        var arrayTableCounts: [String: Int] = [:]

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        mutating func record(_ path: [String], at line: Int) {
            let key = TOMLKeyPath.render(path)
            if lines[key] == nil { lines[key] = line }
        }

        /// A header's key with the latest element's index after every array of tables it passes through:
        /// `[p.q]` after `[[p]]` is `p[0].q`.
        func resolve(_ key: [String]) -> [String] {
            var out: [String] = []
            for n in key.indices {
                out.append(key[n])
                if n < key.count - 1, let count = arrayTableCounts[TOMLKeyPath.render(Array(key[...n]))], count > 0 {
                    out.append("[\(count - 1)]")
                }
            }
            return out
        }

        /// Records a header's path and the tables it creates on the way (`[a.b]` creates `a`).
        mutating func recordWithParents(_ path: [String], at line: Int) {
            for n in 1..<max(1, path.count) where !TOMLKeyPath.isIndex(path[n - 1]) { record(Array(path[..<n]), at: line) }
            record(path, at: line)
        }

        mutating func advance() {
            if bytes[i] == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }

        mutating func skipSpaces() {
            while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
        }

        /// Skips spaces, newlines and comments (inside arrays).
        mutating func skipBlank() {
            while let c = peek() {
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") {
                    advance()
                } else if c == UInt8(ascii: "#") {
                    skipToEndOfLine()
                } else {
                    return
                }
            }
        }

        mutating func skipToEndOfLine() {
            while let c = peek(), c != UInt8(ascii: "\n") { i += 1 }
        }

        mutating func run() {
            while !atEnd {
                skipSpaces()
                guard let c = peek() else { break }
                switch c {
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    advance()
                case UInt8(ascii: "#"):
                    skipToEndOfLine()
                case UInt8(ascii: "["):
                    let headerLine = line
                    if peek(1) == UInt8(ascii: "[") {
                        i += 2
                        let plain = parseKey()
                        let key = resolve(plain)
                        let rendered = TOMLKeyPath.render(plain)
                        let n = arrayTableCounts[rendered, default: 0]
                        arrayTableCounts[rendered] = n + 1
                        recordWithParents(key, at: headerLine)
                        table = key + ["[\(n)]"]
                        record(table, at: headerLine)
                    } else {
                        i += 1
                        let key = resolve(parseKey())
                        table = key
                        recordWithParents(key, at: headerLine)
                    }
                    skipToEndOfLine()
                default:
                    let keyLine = line
                    let key = parseKey()
                    guard !key.isEmpty else { skipToEndOfLine(); continue }
                    let full = table + key
                    for n in (table.count + 1)..<full.count { record(Array(full[..<n]), at: keyLine) }
                    record(full, at: keyLine)
                    skipSpaces()
                    guard peek() == UInt8(ascii: "=") else { skipToEndOfLine(); continue }
                    i += 1
                    skipSpaces()
                    parseValue(full)
                    skipSpaces()
                    if peek() == UInt8(ascii: "#") { skipToEndOfLine() }
                    // Anything else up to the newline is not structure we understand; TOMLKit has validated it.
                    skipToEndOfLine()
                }
            }
        }

        /// A dotted key: bare, "basic" or 'literal' components separated by dots.
        mutating func parseKey() -> [String] {
            var components: [String] = []
            while !atEnd {
                skipSpaces()
                guard let c = peek() else { break }
                if c == UInt8(ascii: "\"") {
                    i += 1
                    components.append(readBasicStringContent())
                } else if c == UInt8(ascii: "'") {
                    i += 1
                    let start = i
                    while let d = peek(), d != UInt8(ascii: "'"), d != UInt8(ascii: "\n") { i += 1 }
                    components.append(String(decoding: bytes[start..<i], as: UTF8.self))
                    if peek() == UInt8(ascii: "'") { i += 1 }
                } else if isBareKeyByte(c) {
                    let start = i
                    while let d = peek(), isBareKeyByte(d) { i += 1 }
                    components.append(String(decoding: bytes[start..<i], as: UTF8.self))
                } else {
                    break
                }
                skipSpaces()
                if peek() == UInt8(ascii: ".") { i += 1 } else { break }
            }
            return components
        }

        func isBareKeyByte(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }

        /// After the opening quote of a single-line basic string; consumes the closing quote.
        mutating func readBasicStringContent() -> String {
            var out: [UInt8] = []
            while let c = peek(), c != UInt8(ascii: "\n") {
                i += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\"), let e = peek() {
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                    case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                    case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let count = e == UInt8(ascii: "u") ? 4 : 8
                        let end = min(i + count, bytes.count)
                        let hex = String(decoding: bytes[i..<end], as: UTF8.self)
                        i = end
                        if let v = UInt32(hex, radix: 16), let s = Unicode.Scalar(v) { out += Array(String(s).utf8) }
                    default: out.append(e)
                    }
                } else {
                    out.append(c)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        func startsWith(_ s: String) -> Bool {
            let u = Array(s.utf8)
            guard i + u.count <= bytes.count else { return false }
            return Array(bytes[i..<(i + u.count)]) == u
        }

        mutating func parseValue(_ path: [String]) {
            guard let c = peek() else { return }
            switch c {
            case UInt8(ascii: "\""):
                if startsWith("\"\"\"") {
                    i += 3
                    while !atEnd {
                        if bytes[i] == UInt8(ascii: "\\") { advance(); if !atEnd { advance() }; continue }
                        if startsWith("\"\"\"") {
                            i += 3
                            while peek() == UInt8(ascii: "\"") { i += 1 }  // up to two quotes end the content
                            return
                        }
                        advance()
                    }
                } else {
                    i += 1
                    _ = readBasicStringContent()
                }
            case UInt8(ascii: "'"):
                if startsWith("'''") {
                    i += 3
                    while !atEnd {
                        if startsWith("'''") {
                            i += 3
                            while peek() == UInt8(ascii: "'") { i += 1 }
                            return
                        }
                        advance()
                    }
                } else {
                    i += 1
                    while let d = peek(), d != UInt8(ascii: "'"), d != UInt8(ascii: "\n") { i += 1 }
                    if peek() == UInt8(ascii: "'") { i += 1 }
                }
            case UInt8(ascii: "["):
                i += 1
                var index = 0
                while !atEnd {
                    skipBlank()
                    guard let d = peek() else { return }
                    if d == UInt8(ascii: "]") { i += 1; return }
                    if d == UInt8(ascii: ",") { i += 1; index += 1; continue }
                    let element = path + ["[\(index)]"]
                    record(element, at: line)
                    let before = i
                    parseValue(element)
                    if i == before { i += 1 }  // never loop on text we do not understand
                }
            case UInt8(ascii: "{"):
                i += 1
                while !atEnd {
                    skipBlank()
                    guard let d = peek() else { return }
                    if d == UInt8(ascii: "}") { i += 1; return }
                    if d == UInt8(ascii: ",") { i += 1; continue }
                    let keyLine = line
                    let key = parseKey()
                    if key.isEmpty { i += 1; continue }
                    let full = path + key
                    for n in (path.count + 1)..<full.count { record(Array(full[..<n]), at: keyLine) }
                    record(full, at: keyLine)
                    skipSpaces()
                    if peek() == UInt8(ascii: "=") { i += 1 }
                    skipSpaces()
                    parseValue(full)
                }
            default:
                // Number, boolean, date-time (which may contain one space): up to a delimiter.
                while let d = peek(),
                    d != UInt8(ascii: ","), d != UInt8(ascii: "]"), d != UInt8(ascii: "}"),
                    d != UInt8(ascii: "\n"), d != UInt8(ascii: "\r"), d != UInt8(ascii: "#")
                {
                    i += 1
                }
            }
        }
    }
}

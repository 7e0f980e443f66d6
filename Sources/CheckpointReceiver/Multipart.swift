#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

/// multipart/form-data (RFC 7578), parsed as the body streams in: the receiver never holds a whole upload, only the
/// bytes of the chunk at hand and a boundary's length of look-behind.
public enum Multipart {
    /// What the headers of one part say.
    public struct PartHeaders: Sendable, Equatable {
        public var name: String?
        public var filename: String?
        public var contentType: String?
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    /// What the parser found in the bytes fed so far, in order.
    public enum Event: Sendable, Equatable {
        /// A part begins.
        case partStart(PartHeaders)
        /// Some bytes of the current part's body (a part's body may come in any number of these).
        case body([UInt8])
        /// The current part ended.
        case partEnd
    }

    /// The boundary of a `multipart/form-data` Content-Type, or nil for any other type.
    public static func boundary(_ contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for param in contentType.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                let b = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return b.isEmpty ? nil : b
            }
        }
        return nil
    }

    /// A streaming parser: `feed` it the body's chunks as they arrive, then `finish`.
    public struct Parser: Sendable {
        enum State { case preamble, afterDelimiter, headers, body, done }

        /// CRLF "--" boundary: what ends a part's body.
        let delimiter: [UInt8]
        /// Bytes received but not yet given out (at most a chunk plus a delimiter's length).
        var pending: [UInt8] = Array("\r\n".utf8)   // so that a body opening with its delimiter matches too
        var state = State.preamble
        /// Part headers longer than this are refused (they are a few lines).
        static let maxHeaderBytes = 16 * 1024

        public init(boundary: String) {
            delimiter = Array("\r\n--\(boundary)".utf8)
        }

        /// The closing delimiter was seen.
        public var isFinished: Bool { state == .done }

        /// Parses `bytes`, the next chunk of the body; returns what it completed.
        public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [Event] {
            pending.append(contentsOf: bytes)
            var events: [Event] = []
            var start = 0
            defer { pending.removeFirst(start) }
            parsing: while true {
                switch state {
                case .done:
                    start = pending.count   // the epilogue is ignored
                    break parsing
                case .preamble:
                    if let i = Self.find(delimiter, in: pending, from: start) {
                        start = i + delimiter.count
                        state = .afterDelimiter
                    } else {
                        start = max(start, pending.count - (delimiter.count - 1))
                        break parsing
                    }
                case .afterDelimiter:
                    guard pending.count - start >= 2 else { break parsing }
                    if pending[start] == UInt8(ascii: "-") && pending[start + 1] == UInt8(ascii: "-") {
                        start += 2
                        state = .done
                    } else if pending[start] == 13 && pending[start + 1] == 10 {
                        start += 2
                        state = .headers
                    } else {
                        throw Malformed(description: "boundary not followed by CRLF")
                    }
                case .headers:
                    guard pending.count - start >= 2 else { break parsing }
                    if pending[start] == 13 && pending[start + 1] == 10 {   // a part without headers
                        events.append(.partStart(PartHeaders()))
                        start += 2
                        state = .body
                        continue parsing
                    }
                    guard let end = Self.find(Array("\r\n\r\n".utf8), in: pending, from: start) else {
                        if pending.count - start > Self.maxHeaderBytes {
                            throw Malformed(description: "part headers longer than \(Self.maxHeaderBytes) bytes")
                        }
                        break parsing
                    }
                    events.append(.partStart(Self.headers(String(decoding: pending[start..<end], as: UTF8.self))))
                    start = end + 4
                    state = .body
                case .body:
                    if let i = Self.find(delimiter, in: pending, from: start) {
                        if i > start { events.append(.body(Array(pending[start..<i]))) }
                        events.append(.partEnd)
                        start = i + delimiter.count
                        state = .afterDelimiter
                    } else {
                        // Everything but what could be the start of a delimiter split across chunks.
                        let safe = pending.count - (delimiter.count - 1)
                        if safe > start {
                            events.append(.body(Array(pending[start..<safe])))
                            start = safe
                        }
                        break parsing
                    }
                }
            }
            return events
        }

        /// The body ended: throws unless its closing delimiter was seen.
        public func finish() throws {
            switch state {
            case .done: return
            case .preamble: throw Malformed(description: "no opening boundary")
            case .headers: throw Malformed(description: "part headers not terminated")
            case .body, .afterDelimiter: throw Malformed(description: "part not terminated by a boundary")
            }
        }

        static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
            let n = needle.count
            guard n > 0, haystack.count - from >= n else { return nil }
            return haystack.withUnsafeBytes { h in
                needle.withUnsafeBytes { nd in
                    let base = h.baseAddress!
                    let last = h.count - n   // the last offset a match may start at
                    var i = from
                    while i <= last {
                        guard let hit = memchr(base + i, Int32(nd[0]), last - i + 1) else { return nil }
                        let j = base.distance(to: UnsafeRawPointer(hit))
                        if memcmp(base + j, nd.baseAddress!, n) == 0 { return j }
                        i = j + 1
                    }
                    return nil
                }
            }
        }

        static func headers(_ text: String) -> PartHeaders {
            var part = PartHeaders()
            for line in text.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-type" { part.contentType = value }
                if name == "content-disposition" {
                    for param in value.split(separator: ";").dropFirst() {
                        let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        guard kv.count == 2 else { continue }
                        let v = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                        if kv[0] == "name" { part.name = v }
                        if kv[0] == "filename" { part.filename = v }
                    }
                }
            }
            return part
        }
    }
}

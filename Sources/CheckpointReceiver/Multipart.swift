import Foundation

/// multipart/form-data (RFC 7578) splitting, enough for the upload contract.
public enum Multipart {
    public struct Part: Sendable {
        public var name: String?
        public var filename: String?
        public var contentType: String?
        public var body: Data
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
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

    public static func parse(_ data: Data, boundary: String) throws -> [Part] {
        let delimiter = Data("--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8)
        var parts: [Part] = []
        guard var cursor = data.range(of: delimiter)?.upperBound else { throw Malformed(description: "no opening boundary") }
        while true {
            if data[cursor...].starts(with: Data("--".utf8)) { break }   // closing delimiter
            guard data[cursor...].starts(with: crlf) else { throw Malformed(description: "boundary not followed by CRLF") }
            cursor += 2
            guard let headerEnd = data.range(of: Data("\r\n\r\n".utf8), in: cursor..<data.endIndex) else {
                throw Malformed(description: "part headers not terminated")
            }
            let headerText = String(decoding: data[cursor..<headerEnd.lowerBound], as: UTF8.self)
            guard let next = data.range(of: crlf + delimiter, in: headerEnd.upperBound..<data.endIndex) else {
                throw Malformed(description: "part not terminated by a boundary")
            }
            var part = Part(body: Data(data[headerEnd.upperBound..<next.lowerBound]))
            for line in headerText.components(separatedBy: "\r\n") {
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
            parts.append(part)
            cursor = next.upperBound
        }
        return parts
    }
}

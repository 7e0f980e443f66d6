import Foundation

/// What the uploader keeps of the server's HTTP response, fed exactly as libcurl delivers it: header lines one at a
/// time (each status line included, so an interim `100 Continue` is followed by the final response's status line),
/// then body chunks. Pure, so the parsing of outside input can be fuzzed without a network.
///
/// - a status line (`HTTP/…`) starts a new response: what the previous one said is forgotten;
/// - `Retry-After` (name case-insensitive, value trimmed) is kept raw for `UploadPolicy.parseRetryAfter`; the last one wins;
/// - the body is kept up to `maxBody` bytes (the rest is read and dropped) and only read for the contract's receipt:
///   it may echo personal data, so it never reaches a log, a status field or a metric.
public struct UploadResponse: Sendable, Equatable {
    public static let defaultMaxBody = 64 * 1024

    /// Bytes of body kept; later bytes are dropped.
    public let maxBody: Int
    /// The raw `Retry-After` value of the current response, trimmed of whitespace.
    public private(set) var retryAfter: String?
    /// The first `maxBody` bytes of the current response's body.
    public private(set) var body: [UInt8] = []

    public init(maxBody: Int = UploadResponse.defaultMaxBody) {
        self.maxBody = max(0, maxBody)
    }

    /// One header line as received (with or without its CRLF).
    public mutating func headerLine(_ bytes: UnsafeRawBufferPointer) {
        headerLine(String(decoding: bytes, as: UTF8.self))
    }

    /// One header line as received (with or without its CRLF).
    public mutating func headerLine(_ line: String) {
        if line.hasPrefix("HTTP/") {
            // A new response (e.g. after 100 Continue): nothing of the previous one applies.
            retryAfter = nil
            body.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }  // the blank end-of-headers line, folded lines
        if line[..<colon].lowercased() == "retry-after" {
            retryAfter = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A chunk of the body as received.
    public mutating func bodyChunk(_ bytes: UnsafeRawBufferPointer) {
        let room = maxBody - body.count
        guard room > 0, !bytes.isEmpty else { return }
        body.append(contentsOf: bytes.prefix(room))
    }

    /// The outcome for the retry policy, given the final status libcurl reports and the record that was sent.
    public func outcome(status: Int, recordID: UUID) -> UploadOutcome {
        .http(status: status, retryAfter: retryAfter, receipt: Self.isReceipt(body, for: recordID))
    }

    /// Whether `body` is the contract's receipt for the record: a JSON object whose `id` is the record's id
    /// (`Stored` in openapi.yaml). A captive portal's or a maintenance page's 200 is not one.
    public static func isReceipt(_ body: [UInt8], for recordID: UUID) -> Bool {
        guard !body.isEmpty, body.count < 4096,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let id = object["id"] as? String, let parsed = UUID(uuidString: id) else { return false }
        return parsed == recordID
    }
}

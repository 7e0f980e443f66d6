// The province server's HTTP response, as the uploader reads it.
//
// The input is a raw response byte stream (status line, headers, blank line, possibly interim 1xx responses, body).
// It is cut into header lines and body chunks the way libcurl hands them to CurlUploader's callbacks and fed to
// UploadResponse. Invariants:
//  - UploadResponse agrees with a plain model of the stream: Retry-After is the last one of the final response,
//    the body is the final response's body cut at maxBody;
//  - UploadPolicy.parseRetryAfter gives nil or a finite, non-negative delay; all digits give exactly that number;
//  - UploadPolicy.decide on the outcome: 2xx delivered, 400/413/422 dead-lettered, everything else retried after a
//    finite delay within the policy's bounds, pausing everything only for 429/503, with a reason of at most
//    200 characters of body plus a short prefix.
import CheckpointCore
import Foundation

enum UploadTargets {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18
    static let policy = UploadPolicy()

    struct Model {
        var retryAfter: String?
        var body: [UInt8] = []
        var status: Int?
    }

    /// Splits a raw response into curl-style callbacks, feeding `response`, and computes the model alongside.
    static func feed(_ raw: [UInt8], _ response: inout UploadResponse, _ rng: inout SplitMix) -> Model {
        var model = Model()
        var i = 0
        // Header blocks: each starts with a status line; a 1xx block is followed by another block.
        while i < raw.count {
            var lineEnd = i
            while lineEnd < raw.count, raw[lineEnd] != 0x0A { lineEnd += 1 }
            let line = Array(raw[i..<min(raw.count, lineEnd + 1)])
            i = min(raw.count, lineEnd + 1)
            line.withUnsafeBytes { response.headerLine($0) }
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("HTTP/") {
                model = Model()
                let parts = text.split(separator: " ", maxSplits: 2)
                model.status = parts.count >= 2 ? Int(parts[1].prefix(3)) : nil
            } else if let colon = text.firstIndex(of: ":") {
                // RFC 9110 field names are ASCII tokens compared case-insensitively.
                let name = Array(text[..<colon].utf8).map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
                if name == Array("retry-after".utf8) {
                    model.retryAfter = text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            let blank = line == [0x0A] || line == [0x0D, 0x0A]
            if blank {
                if let s = model.status, (100..<200).contains(s) { continue }  // interim response: another block follows
                break
            }
        }
        // Body: the rest, in input-chosen chunks.
        while i < raw.count {
            let n = 1 + rng.below(512)
            let end = min(raw.count, i + n)
            raw[i..<end].withUnsafeBytes { response.bodyChunk($0) }
            model.body += raw[i..<end]
            i = end
        }
        return model
    }

    static let response: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        var rng = SplitMix(data)
        let raw = Array(data)
        let maxBody = [UploadResponse.defaultMaxBody, 0, 1, 16, 300][rng.below(5)]
        var response = UploadResponse(maxBody: maxBody)
        let model = feed(raw, &response, &rng)
        // Known finding `upload.retry-after-trap`: Foundation's DateFormatter traps ("Incorrect range CFRange") on some
        // non-ASCII Retry-After values, which parseRetryAfter hands it. While open, such inputs are not explored.
        if skippedChecks.contains("upload.retry-after-trap"), let v = response.retryAfter, !v.unicodeScalars.allSatisfy(\.isASCII) {
            return -1
        }

        require(response.body.count <= maxBody, "upload.body-cap", "kept \(response.body.count) body bytes, cap \(maxBody)")
        require(response.body[...] == model.body.prefix(maxBody), "upload.body", "kept body is not the final response's first \(maxBody) bytes")
        require(response.retryAfter == model.retryAfter, "upload.retry-after",
                "Retry-After \(response.retryAfter.map { excerpt($0) } ?? "nil"), model says \(model.retryAfter.map { excerpt($0) } ?? "nil")")

        // Retry-After, as the policy reads it.
        if let value = response.retryAfter {
            checkRetryAfter(value)
        }

        // The decision for the status curl would report (the final status line's code, else an input-chosen one).
        let status = model.status ?? [0, 99, 100, 204, 301, 409, 600, 999, -1, Int.max][rng.below(10)]
        let recordID = UUID(uuid: (0x8e, 0x30, 0x3a, 0x81, 0x3c, 0x4e, 0x4e, 0x1a, 0x9c, 0x2b, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66))
        let outcome = response.outcome(status: status, recordID: recordID)
        guard case .http(let s, let ra, let receipt) = outcome, s == status, ra == response.retryAfter else {
            fail("upload.outcome", "outcome does not carry the status and Retry-After: \(outcome)")
        }
        require(receipt == UploadResponse.isReceipt(response.body, for: recordID), "upload.outcome-receipt", "receipt flag differs")
        let attempt = rng.below(80)
        let decision = policy.decide(outcome, attempt: attempt, now: now, unit: rng.unit())
        let bound = max(policy.maxDelay, policy.slowRetryDelay, .seconds(policy.retryAfterClamp.upperBound))
        switch decision {
        case .delivered:
            require((status == 200 || status == 201) && receipt, "upload.delivered", "status \(status) without a receipt counted as delivered")
        case .deadLetter(let reason):
            require([400, 413, 422].contains(status), "upload.dead-letter", "status \(status) dead-lettered")
            require(reason.count <= 260, "upload.reason-length", "reason of \(reason.count) characters")
        case .retry(let delay, let pauseAll, _, let reason):
            require(!((status == 200 || status == 201) && receipt) && ![400, 413, 422].contains(status), "upload.retry", "status \(status) retried")
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            require(seconds.isFinite && seconds >= 0 && delay <= bound, "upload.delay", "delay \(delay) for status \(status)")
            // 429/503 pause everything, and so does a success status without the record's receipt (a portal or proxy
            // answering for the server would answer every record the same).
            require(pauseAll == (status == 429 || status == 503 || (200..<300).contains(status)), "upload.pause-all",
                    "pauseAll \(pauseAll) for status \(status)")
            require(reason.count <= 260, "upload.reason-length", "reason of \(reason.count) characters")
            if [408, 429].contains(status) || (500..<600).contains(status), let value = response.retryAfter,
               let parsed = UploadPolicy.parseRetryAfter(value, now: now), parsed.isFinite {
                let clamped = min(max(parsed, policy.retryAfterClamp.lowerBound), policy.retryAfterClamp.upperBound)
                require(abs(seconds - clamped) < 1e-6, "upload.retry-after-honoured", "Retry-After \(parsed) s gave a delay of \(seconds) s")
            }
        }
        return 0
    }

    static func checkRetryAfter(_ value: String) {
        guard let seconds = UploadPolicy.parseRetryAfter(value, now: now) else { return }
        require(seconds.isFinite && seconds >= 0, "upload.retry-after-finite",
                "Retry-After '\(excerpt(value))' parsed as \(seconds) s (must be nil or a finite delay ≥ 0)")
        let v = value.trimmingCharacters(in: .whitespaces)
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let exact = Double(v), exact.isFinite {
            require(seconds == exact, "upload.retry-after-seconds", "Retry-After '\(excerpt(value))' parsed as \(seconds) s")
        }
    }
}

import Foundation

/// What one upload attempt produced, as the transport saw it.
public enum UploadOutcome: Sendable, Equatable {
    /// The server answered with this status. `retryAfter` is the raw `Retry-After` header, if any; `receipt` tells
    /// whether the body was the contract's receipt for the record (its id). The body itself is not kept: a server
    /// may echo personal data, and reasons end up in logs and `/healthz`.
    case http(status: Int, retryAfter: String?, receipt: Bool)
    /// No HTTP answer.
    case transport(TransportFailure, detail: String)
}

/// Transport failures, grouped by how the uploader must react.
public enum TransportFailure: String, Sendable, Equatable {
    /// Could not resolve or connect (link down, server down): pause everything.
    case connect
    /// Connect, low-speed or total timeout.
    case timeout
    /// Connection dropped, reset, or nothing/partial received.
    case broken
    /// The server certificate did not verify (may be a clock behind notBefore after a power cut): slow retry + alert.
    case tlsVerification
    /// Other TLS handshake failures (normal on mobile links).
    case tls
    /// Aborted by us (shutdown). Not the record's fault; retry on next start.
    case aborted
    /// Local problems (bad CA file, out of memory…): slow retry + alert.
    case local
}

/// What to do with a record after an attempt.
public enum UploadDecision: Sendable, Equatable {
    /// 200/201 with the contract's receipt for the record: delete it.
    case delivered
    /// Try this record again after `delay`. If `pauseAll` is set, the whole uploader pauses for `delay`
    /// (429, 503, connect failure) instead of moving on to the next record. `alert` means a person must look (401/403, TLS).
    case retry(delay: Duration, pauseAll: Bool, alert: Bool, reason: String)
    /// Permanently rejected (400/413/422): move to the dead-letter table.
    case deadLetter(reason: String)
}

/// Retry classification and pacing for the uploader (pure: time and randomness come in as arguments).
///
/// - 200/201 whose body is the receipt for the record → delivered; any other 2xx (a captive portal, a maintenance
///   page, a proxy answering for the server) is not a delivery: the whole uploader pauses and alerts;
/// - transport errors, 408, 429, 5xx → retry with full-jitter exponential backoff (`random(0, min(cap, base·2^n))`);
/// - 400, 413, 422 → dead-letter;
/// - 401, 403, certificate failures → slow retry plus an alert, never dropped;
/// - `Retry-After` (seconds or HTTP-date) is honoured, clamped to `retryAfterClamp`;
/// - 429, 503 and connect failures pause the whole uploader, not just the record.
public struct UploadPolicy: Sendable, Equatable {
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Delay for 401/403/TLS-verification failures.
    public var slowRetryDelay: Duration
    /// Bounds applied to a server's Retry-After.
    public var retryAfterClamp: ClosedRange<Double>
    /// Permanent rejections in a row that are dead-lettered; the next one pauses uploading with an alert instead.
    public var maxRejectionsInARow: Int

    public init(baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300), slowRetryDelay: Duration = .seconds(600),
                retryAfterClamp: ClosedRange<Double> = 1...900, maxRejectionsInARow: Int = 3) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.slowRetryDelay = slowRetryDelay
        self.retryAfterClamp = retryAfterClamp
        self.maxRejectionsInARow = maxRejectionsInARow
    }

    /// The longest any decision ever defers a record or pauses the uploader. A wait that reaches further than this
    /// into the future can only come from the wall clock stepping back (an RTC fixed by NTP after a power cut): the
    /// scheduler and the store then treat it as over, so a clock step never stalls uploads.
    public var longestDelay: Duration {
        max(maxDelay, slowRetryDelay, .seconds(retryAfterClamp.upperBound))
    }

    /// The backoff ceiling for the `attempt`-th failure (0-based): `min(cap, base·2^attempt)`.
    public func ceiling(attempt: Int) -> Duration {
        let base = baseDelay.uplinkSeconds
        let exp = min(attempt, 40)
        return .seconds(min(maxDelay.uplinkSeconds, base * pow(2.0, Double(exp))))
    }

    /// Full jitter: a uniformly random delay in [0, ceiling(attempt)]. `unit` is a random number in [0, 1).
    public func backoff(attempt: Int, unit: Double) -> Duration {
        .seconds(ceiling(attempt: attempt).uplinkSeconds * min(max(unit, 0), 1))
    }

    /// Decides what to do after an attempt.
    /// - Parameters:
    ///   - attempt: how many attempts of this record failed before (0 for the first).
    ///   - now: the current wall time, to interpret an HTTP-date Retry-After.
    ///   - unit: a random number in [0, 1) for jitter.
    public func decide(_ outcome: UploadOutcome, attempt: Int, now: Date, unit: Double) -> UploadDecision {
        switch outcome {
        case .http(let status, let retryAfter, let receipt):
            // Reasons carry the status alone: a server's body may echo personal data.
            switch status {
            case 200...201 where receipt:
                return .delivered
            case 200..<300:
                return .retry(delay: backoff(attempt: attempt, unit: unit), pauseAll: true, alert: true,
                              reason: "HTTP \(status) without a receipt for the record (not the upload contract's answer: a portal or proxy?)")
            case 400, 413, 422:
                return .deadLetter(reason: "HTTP \(status)")
            case 401, 403:
                return .retry(delay: slowRetryDelay, pauseAll: false, alert: true, reason: "HTTP \(status): not authorised")
            case 408, 429, 500..<600:
                let pause = status == 429 || status == 503
                var delay = backoff(attempt: attempt, unit: unit)
                if let header = retryAfter, let seconds = Self.parseRetryAfter(header, now: now) {
                    delay = .seconds(min(max(seconds, retryAfterClamp.lowerBound), retryAfterClamp.upperBound))
                }
                return .retry(delay: delay, pauseAll: pause, alert: false, reason: "HTTP \(status)")
            default:
                // Other 4xx (404, 405, 409, 410…) are configuration or server problems, not bad data: keep the record,
                // retry slowly and alert. (409 = same key still in flight at the server.)
                if status == 409 {
                    return .retry(delay: backoff(attempt: attempt, unit: unit), pauseAll: false, alert: false, reason: "HTTP 409: in flight")
                }
                return .retry(delay: slowRetryDelay, pauseAll: false, alert: true, reason: "HTTP \(status) unexpected")
            }
        case .transport(let failure, let detail):
            switch failure {
            case .connect:
                return .retry(delay: backoff(attempt: attempt, unit: unit), pauseAll: true, alert: false, reason: "connect failed: \(detail)")
            case .timeout, .broken, .tls, .aborted:
                return .retry(delay: backoff(attempt: attempt, unit: unit), pauseAll: false, alert: false, reason: "\(failure.rawValue): \(detail)")
            case .tlsVerification, .local:
                return .retry(delay: slowRetryDelay, pauseAll: false, alert: true, reason: "\(failure.rawValue): \(detail)")
            }
        }
    }

    /// Parses a Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns seconds from `now`
    /// (never negative), or nil if the value is neither.
    public static func parseRetryAfter(_ value: String, now: Date) -> Double? {
        let v = value.trimmingCharacters(in: .whitespaces)
        // Both forms are short printable ASCII. Anything else is refused before DateFormatter sees it: Foundation
        // traps (a fatal error, not nil) on some non-ASCII dates, and one server response must not kill the daemon.
        guard !v.isEmpty, v.utf8.count <= 64, v.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        if v.allSatisfy({ $0.isASCII && $0.isNumber }) { return Double(v) }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = format
            if let date = f.date(from: v) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }

}

extension Duration {
    /// The duration in seconds as a Double.
    var uplinkSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

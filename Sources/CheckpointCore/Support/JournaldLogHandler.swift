import Foundation
import Synchronization
import Logging

/// A swift-log handler for systemd's journal: one line per event on stderr, prefixed with the
/// sd-daemon(3) priority (`<3>` error … `<7>` debug), so journald files it at the right level.
///
/// Repeated identical messages are rate-limited: after `burst` copies within `window`, further
/// copies are counted and summarised once the window ends. Callers must not put personal data
/// (names, ID numbers, faces) in messages or metadata; the pipeline logs record ids only.
public struct JournaldLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: Sink

    /// Where lines go; a test passes its own closure. With `entry`, each event goes to the journal as structured
    /// fields (`JournalFields`) instead; when that send fails, the line goes to `write` as before.
    public final class Sink: Sendable {
        let write: @Sendable (String) -> Void
        let entry: (@Sendable ([String]) -> Bool)?
        let identifier: String
        let limiter: Mutex<RateLimiter>

        public init(burst: Int = 5, window: Double = 60, identifier: String = "checkpointd",
                    entry: (@Sendable ([String]) -> Bool)? = nil, write: @escaping @Sendable (String) -> Void) {
            self.write = write
            self.entry = entry
            self.identifier = identifier
            self.limiter = Mutex(RateLimiter(burst: burst, window: window))
        }

        public static let stderr = Sink { line in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    public init(label: String, level: Logger.Level = .info, sink: Sink = .stderr) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// sd-daemon(3) priority for a swift-log level.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static let keyLimit = 64
    static let valueLimit = 256
    static let messageLimit = 1024

    /// One journal line per event, whatever the text holds: control characters (a newline would start a forged
    /// line with its own `<N>` priority) are written as escapes, and the text is cut at `limit` characters with a
    /// mark, so an error text or a server's words cannot flood or forge the journal.
    public static func escape(_ text: String, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…[cut]"
                break
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                    || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    out += String(format: "\\x%02X", scalar.value & 0xFF)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            count += 1
        }
        return out
    }

    /// The line's text after `label: `: the escaped message, then each metadata `key=value`, sorted.
    public static func body(message: String, metadata: Logger.Metadata) -> String {
        let meta = metadata.isEmpty ? "" : " " + metadata.sorted { $0.key < $1.key }
            .map { "\(escape($0.key, limit: keyLimit))=\(escape("\($0.value)", limit: valueLimit))" }.joined(separator: " ")
        return "\(escape(message, limit: messageLimit))\(meta)"
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let body = Self.body(message: "\(event.message)", metadata: merged)
        let prefix = "<\(Self.priority(of: event.level))>"
        let now = Date().timeIntervalSince1970
        let decision = sink.limiter.withLock { $0.admit(key: "\(event.level)|\(label)|\(body)", now: now) }
        for summary in decision.summaries {
            let text = "previous message repeated \(summary.suppressed) more times: \(summary.key.split(separator: "|", maxSplits: 2).last ?? "")"
            if let entry = sink.entry, entry(JournalFields.encode(label: label, identifier: sink.identifier, level: .notice, message: text,
                                                                  metadata: [:], file: event.file, line: event.line, function: event.function)) { continue }
            sink.write("<5>\(label): \(text)\n")
        }
        if decision.emit {
            if let entry = sink.entry, entry(JournalFields.encode(label: label, identifier: sink.identifier, level: event.level,
                                                                  message: "\(event.message)", metadata: merged, file: event.file,
                                                                  line: event.line, function: event.function)) { return }
            sink.write("\(prefix)\(label): \(body)\n")
        }
    }
}

/// Counts identical messages per window; pure logic, tested without a clock.
public struct RateLimiter: Sendable {
    public struct Summary: Sendable, Equatable {
        public let key: String
        public let suppressed: Int
    }

    public struct Decision: Sendable, Equatable {
        public let emit: Bool
        public let summaries: [Summary]
    }

    private struct Entry: Sendable {
        var windowStart: Double
        var count: Int
        var suppressed: Int
    }

    public let burst: Int
    public let window: Double
    private var entries: [String: Entry] = [:]

    public init(burst: Int, window: Double) {
        self.burst = burst
        self.window = window
    }

    public mutating func admit(key: String, now: Double) -> Decision {
        var summaries: [Summary] = []
        // Close windows that ended, reporting what they suppressed.
        for (k, e) in entries where now - e.windowStart >= window {
            if e.suppressed > 0 { summaries.append(Summary(key: k, suppressed: e.suppressed)) }
            entries[k] = nil
        }
        if entries.count > 1024 { entries.removeAll() }
        var entry = entries[key] ?? Entry(windowStart: now, count: 0, suppressed: 0)
        entry.count += 1
        let emit = entry.count <= burst
        if !emit { entry.suppressed += 1 }
        entries[key] = entry
        return Decision(emit: emit, summaries: summaries.sorted { $0.key < $1.key })
    }
}

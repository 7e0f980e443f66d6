import Logging

/// One log event as systemd journal fields (native protocol, `sd_journal_send`): MESSAGE, PRIORITY,
/// SYSLOG_IDENTIFIER, CODE_FILE/CODE_LINE/CODE_FUNC, LOGGER (the swift-log label) and each metadata key as an
/// upper-case field (`record_id` → `RECORD_ID`), so `journalctl RECORD_ID=…` finds a record's lines.
///
/// MESSAGE is the same text the stderr handler writes (`label: message key=value …`, escaped and cut the same way),
/// so `journalctl -u checkpointd` reads as before. Callers keep personal data out of messages and metadata.
public enum JournalFields {
    /// The fields this encoder sets itself; a metadata key that maps onto one of them gets a `META_` prefix.
    static let own: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER"]

    /// A journal field name for a metadata key, per systemd.journal-fields(7): A–Z, 0–9 and `_`, not starting with
    /// `_` (trusted fields) or a digit, at most 64 characters. nil when nothing usable is left.
    public static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9": return Character(scalar)
            default: return "_"
            }
        })
        while let first = name.first, first == "_" || first.isNumber { name.removeFirst() }
        name = String(name.prefix(64))
        guard !name.isEmpty else { return nil }
        if own.contains(name) { return String("META_\(name)".prefix(64)) }
        return name
    }

    /// The entry's fields in order (MESSAGE first), each as `NAME=value`.
    public static func encode(label: String, identifier: String, level: Logger.Level, message: String,
                              metadata: Logger.Metadata, file: String, line: UInt, function: String) -> [String] {
        var fields = [
            "MESSAGE=\(label): \(JournaldLogHandler.body(message: message, metadata: metadata))",
            "PRIORITY=\(JournaldLogHandler.priority(of: level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(file)", "CODE_LINE=\(line)", "CODE_FUNC=\(function)",
            "LOGGER=\(label)",
        ]
        var seen = Set<String>()
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard let name = fieldName(key), seen.insert(name).inserted else { continue }
            fields.append("\(name)=\(JournaldLogHandler.escape("\(value)", limit: JournaldLogHandler.valueLimit))")
        }
        return fields
    }
}

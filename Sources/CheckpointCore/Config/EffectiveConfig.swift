/// `checkpointd --print-config`: the settings the daemon runs with — the main file, its drop-ins and every default —
/// as TOML in schema order, each value followed by where it comes from (`FILE:LINE`, or `default`). Values of keys
/// the schema marks secret are replaced by `"(redacted)"`; relative paths are shown resolved.
public enum EffectiveConfig {
    public static let redacted = ConfigValue.string("(redacted)")

    public static func render(_ config: CheckpointConfig) -> String {
        render(schema: CheckpointConfigSchema.root, resolved: config.resolved, document: config.document,
               calibration: config.thermal.calibrationPath)
    }

    static func render(schema: ConfigTable, resolved: ResolvedTable, document: TOMLDocument, calibration: String? = nil) -> String {
        var out = "# checkpointd effective configuration: \(document.sources.map(\.file).joined(separator: ", "))\n"
        if let calibration { out += "# calibration file: \(calibration)\n" }
        func walk(_ table: ConfigTable, _ r: ResolvedTable, _ path: [String]) {
            if !path.isEmpty && !table.keys.isEmpty { out += "\n[\(TOMLKeyPath.render(path))]\n" }
            for key in table.keys {
                let keyPath = path + [key.name]
                guard var value = r.values[key.name] else {
                    out += "# \(key.name) is not set\n"
                    continue
                }
                if key.isSecret { value = redacted }
                else if key.isPath, let p = r.path(key.name) { value = .string(p) }
                let origin: String
                if document.value(at: keyPath) != nil {
                    let at = document.location(for: keyPath)
                    origin = "\(at.file):\(at.line)"
                } else {
                    origin = "default"
                }
                out += "\(key.name) = \(ConfigDocumentWriter.text(value, for: key).replacingOccurrences(of: "\n", with: " "))  # \(origin)\n"
            }
            for sub in table.tables { walk(sub, r[table: sub.name], path + [sub.name]) }
        }
        walk(schema, resolved, [])
        return out
    }
}

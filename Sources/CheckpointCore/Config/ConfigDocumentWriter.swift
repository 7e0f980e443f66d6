/// Writes a complete, commented TOML document from a schema and values: every key gets a comment with its
/// meaning, unit, allowed values and default (the same text the example-file test looks for).
public enum ConfigDocumentWriter {
    /// The comment lines written above a key (without the leading `# `).
    public static func commentLines(for key: ConfigKey) -> [String] {
        var facts: [String] = []
        if let unit = key.unit { facts.append("Unit: \(unit).") }
        facts.append("Allowed: \(key.allowedText).")
        switch key.requirement {
        case .required: facts.append("Required.")
        case .optional: facts.append("Optional.")
        case .defaulted(let v): facts.append("Default: \(text(v, for: key)).")
        }
        return [key.doc, facts.joined(separator: " ")]
    }

    /// Renders `values` (a root table) in schema order. Keys without a value are written commented out when they
    /// have a default, and left out otherwise. `header` lines become the file's opening comment.
    public static func render(schema: ConfigTable, values: [String: ConfigValue], header: [String]) -> String {
        var out = header.map { $0.isEmpty ? "#" : "# \($0)" }.joined(separator: "\n") + "\n"
        render(table: schema, path: [], values: values, into: &out)
        return out
    }

    private static func render(table: ConfigTable, path: [String], values: [String: ConfigValue], into out: inout String) {
        if !path.isEmpty {
            out += "\n# \(table.doc)\n[\(TOMLKeyPath.render(path))]\n"
        }
        for key in table.keys {
            for line in commentLines(for: key) { out += "# \(line)\n" }
            if let v = values[key.name] {
                out += "\(key.name) = \(text(v, for: key))\n"
            } else if let d = key.defaultValue {
                out += "# \(key.name) = \(text(d, for: key))\n"
            } else {
                out += "# \(key.name) =\n"
            }
        }
        for sub in table.tables {
            render(table: sub, path: path + [sub.name], values: values[sub.name]?.tableValue ?? [:], into: &out)
        }
    }

    /// File modes are written in octal (`0o660`); arrays of arrays one element per line.
    static func text(_ v: ConfigValue, for key: ConfigKey) -> String {
        if key.isOctal, let i = v.intValue, i >= 0 { return "0o" + String(i, radix: 8) }
        return valueText(v)
    }

    static func valueText(_ v: ConfigValue) -> String {
        if let items = v.arrayValue, items.contains(where: { $0.arrayValue != nil }) {
            return "[\n" + items.map { "  \($0.tomlText),\n" }.joined() + "]"
        }
        return v.tomlText
    }
}

/// The key reference as Markdown tables (one per table), generated from the same schema that validates files.
public enum ConfigReference {
    public static func markdown(schema: ConfigTable, title: String) -> String {
        var out = "## \(title)\n"
        func walk(_ table: ConfigTable, _ path: [String]) {
            if !path.isEmpty {
                out += "\n### [\(TOMLKeyPath.render(path))]\n\n\(table.doc)\n\n"
                if !table.keys.isEmpty {
                    out += "| Key | Meaning | Unit | Allowed | Default |\n|---|---|---|---|---|\n"
                }
                for key in table.keys {
                    let def: String
                    switch key.requirement {
                    case .required: def = "**required**"
                    case .optional: def = "(unset)"
                    case .defaulted(let v): def = "`\(ConfigDocumentWriter.text(v, for: key))`"
                    }
                    let cells = [
                        "`\(key.name)`", key.doc, key.unit ?? "", key.allowedText, def,
                    ].map { $0.replacingOccurrences(of: "|", with: "\\|") }
                    out += "| " + cells.joined(separator: " | ") + " |\n"
                }
            }
            for sub in table.tables { walk(sub, path + [sub.name]) }
        }
        walk(schema, [])
        return out
    }
}

import Foundation

/// Short constructors for schema keys, so each schema reads as a table of keys.
enum Schema {
    static func int(
        _ name: String, _ def: Int?, _ lo: Int, _ hi: Int, unit: String? = nil, required: Bool = false, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .integer, required ? .required : def.map { .defaulted(.integer($0)) } ?? .optional,
            rules: [.range(Double(lo), Double(hi))], unit: unit, doc: doc)
    }

    static func num(
        _ name: String, _ def: Double?, _ lo: Double, _ hi: Double, unit: String? = nil, required: Bool = false,
        _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .float, required ? .required : def.map { .defaulted(.float($0)) } ?? .optional,
            rules: [.range(lo, hi)], unit: unit, doc: doc)
    }

    static func choice(_ name: String, _ def: String?, _ values: [String], required: Bool = false, _ doc: String)
        -> ConfigKey
    {
        ConfigKey(
            name, .string, required ? .required : def.map { .defaulted(.string($0)) } ?? .optional,
            rules: [.oneOf(values)], doc: doc)
    }

    static func bool(_ name: String, _ def: Bool?, _ doc: String) -> ConfigKey {
        ConfigKey(name, .boolean, def.map { .defaulted(.boolean($0)) } ?? .optional, doc: doc)
    }

    static func path(_ name: String, _ def: String?, required: Bool = false, _ doc: String) -> ConfigKey {
        ConfigKey(
            name, .string, required ? .required : def.map { .defaulted(.string($0)) } ?? .optional,
            rules: [nonEmptyPath], path: true, doc: doc)
    }

    static func string(_ name: String, _ req: ConfigRequirement, rules: [ConfigRule] = [], _ doc: String) -> ConfigKey {
        ConfigKey(name, .string, req, rules: rules, doc: doc)
    }

    static let nonEmptyPath = ConfigRule.custom(allowed: "a file path; relative paths start at this file's directory") {
        v in
        guard let s = v.stringValue else { return nil }
        if s.isEmpty { return ConfigIssue("path is empty") }
        if s.contains("\0") { return ConfigIssue("path contains a NUL character") }
        return nil
    }

    static let identifier = ConfigRule.custom(allowed: "1..64 of A-Z a-z 0-9 . _ -") { v in
        guard let s = v.stringValue else { return nil }
        if s.isEmpty || s.count > 64 { return ConfigIssue("\(ConfigValue.quote(s)) must have 1..64 characters") }
        let ok = s.unicodeScalars.allSatisfy { c in
            (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "-"
        }
        return ok ? nil : ConfigIssue("\(ConfigValue.quote(s)) contains characters other than A-Z a-z 0-9 . _ -")
    }

    static let sha256 = ConfigRule.custom(allowed: "64 hexadecimal digits") { v in
        guard let s = v.stringValue else { return nil }
        let ok = s.count == 64 && s.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0) }
        return ok ? nil : ConfigIssue("\(ConfigValidator.show(v)) is not a SHA-256 hex digest")
    }

    static func nonEmpty(_ what: String) -> ConfigRule {
        .custom(allowed: what) { v in
            guard let s = v.stringValue else { return nil }
            return s.trimmingCharacters(in: .whitespaces).isEmpty ? ConfigIssue("is empty") : nil
        }
    }
}

import Foundation

/// The TOML type a key must have.
public indirect enum ConfigValueKind: Sendable {
    case string
    case integer
    /// A float; integers are accepted too (`35` for 35.0).
    case float
    case boolean
    /// An offset date-time such as `2026-11-20T09:30:00+07:00`.
    case offsetDateTime
    /// An array of `element`, with an optional element count.
    case array(of: ConfigValueKind, count: ClosedRange<Int>?)
    /// Either of the kinds (e.g. a baud rate or `"auto"`).
    case either(ConfigValueKind, ConfigValueKind)

    func matches(_ v: ConfigValue) -> Bool {
        switch (self, v) {
        case (.string, .string), (.integer, .integer), (.float, .float), (.float, .integer), (.boolean, .boolean): true
        case (.offsetDateTime, .dateTime(let d)): d.kind == .offsetDateTime
        case (.array, .array): true
        case (.either(let a, let b), _): a.matches(v) || b.matches(v)
        default: false
        }
    }

    /// "an integer", "an array of 2 floats", …
    public var phrase: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a number"
        case .boolean: "true or false"
        case .offsetDateTime: "a date-time with offset, e.g. 2026-11-20T09:30:00+07:00"
        case .array(let of, let count):
            "an array of " + (count.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound) " : "\($0.lowerBound)..\($0.upperBound) " } ?? "")
                + of.plural
        case .either(let a, let b): "\(a.phrase) or \(b.phrase)"
        }
    }

    var plural: String {
        switch self {
        case .string: "strings"
        case .integer: "integers"
        case .float: "numbers"
        case .boolean: "booleans"
        case .offsetDateTime: "date-times"
        case .array(let of, let count):
            "arrays of " + (count.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound) " : "" } ?? "") + of.plural
        case .either(let a, let b): "\(a.plural) or \(b.plural)"
        }
    }
}

/// A problem found by a custom rule; `subpath` points below the key (e.g. `["[2]"]` for the third element).
public struct ConfigIssue: Sendable {
    public var subpath: [String]
    public var message: String
    public init(_ message: String, at subpath: [String] = []) {
        self.message = message
        self.subpath = subpath
    }
}

/// A constraint on a value of the right type.
public enum ConfigRule: Sendable {
    /// Numbers (or every number inside arrays) within `lo...hi`.
    case range(Double, Double)
    /// Strings (or every string inside arrays) from this list.
    case oneOf([String])
    /// Integers from this list.
    case integerOneOf([Int])
    /// String length in characters.
    case length(ClosedRange<Int>)
    /// Anything else; `allowed` is printed after the message.
    case custom(allowed: String, check: @Sendable (ConfigValue) -> ConfigIssue?)

    public var allowedText: String {
        switch self {
        case .range(let lo, let hi): "\(Self.number(lo))..\(Self.number(hi))"
        case .oneOf(let values): values.map { ConfigValue.quote($0) }.joined(separator: ", ")
        case .integerOneOf(let values): values.map(String.init).joined(separator: ", ")
        case .length(let r): "\(r.lowerBound)..\(r.upperBound) characters"
        case .custom(let allowed, _): allowed
        }
    }

    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return "\(d)"
    }
}

/// Whether a key must be written, may be left out, or has a default.
public enum ConfigRequirement: Sendable {
    case required
    case optional
    case defaulted(ConfigValue)
}

/// One key of a TOML table: its type, whether it is required or its default, its allowed values, unit and meaning.
/// The same description drives validation, defaults, the documentation test of the example files and the reference.
public struct ConfigKey: Sendable {
    public var name: String
    public var kind: ConfigValueKind
    public var requirement: ConfigRequirement
    public var rules: [ConfigRule]
    /// Unit as written in comments ("°C", "ms", "bytes", …); nil for unitless values.
    public var unit: String?
    public var doc: String
    /// A file-system path: relative values are resolved against the directory of the file they are written in.
    public var isPath: Bool
    /// A secret (a password, a token): `--print-config` and every message show it redacted. The schema holds
    /// none today (TLS keys are named by path, never written in the file); a key that is one sets this.
    public var isSecret: Bool
    /// A reload (SIGHUP) cannot apply a change of this key: it is opened, bound or recorded once at start, so the
    /// daemon names it and asks for a restart (`ConfigReload`).
    public var needsRestart = false

    public init(
        _ name: String, _ kind: ConfigValueKind, _ requirement: ConfigRequirement, rules: [ConfigRule] = [],
        unit: String? = nil, path: Bool = false, secret: Bool = false, doc: String
    ) {
        self.isSecret = secret
        self.name = name
        self.kind = kind
        self.requirement = requirement
        self.rules = rules
        self.unit = unit
        self.doc = doc
        self.isPath = path
    }

    /// This key, marked as needing a restart to change.
    public func restart() -> ConfigKey {
        var k = self
        k.needsRestart = true
        return k
    }

    /// What a valid value looks like, as printed after "allowed:".
    public var allowedText: String {
        let ruleText = rules.map { rule -> String in
            if case .range = rule, let unit { return "\(rule.allowedText) \(unit)" }
            return rule.allowedText
        }.joined(separator: "; ")
        return ruleText.isEmpty ? kind.phrase : ruleText
    }

    public var defaultValue: ConfigValue? {
        if case .defaulted(let v) = requirement { return v }
        return nil
    }

    /// Integers written in octal (file modes).
    public var isOctal: Bool { unit == "octal mode" }

    public var isRequired: Bool {
        if case .required = requirement { return true }
        return false
    }
}

/// A TOML table: its keys and sub-tables.
public struct ConfigTable: Sendable {
    public var name: String
    public var doc: String
    public var keys: [ConfigKey]
    public var tables: [ConfigTable]

    /// `restart`: every key of this table needs a restart to change (see `ConfigKey.needsRestart`).
    public init(_ name: String, doc: String, restart: Bool = false, keys: [ConfigKey], tables: [ConfigTable] = []) {
        self.name = name
        self.doc = doc
        self.keys = restart ? keys.map { $0.restart() } : keys
        self.tables = tables
    }

    public func key(_ name: String) -> ConfigKey? { keys.first { $0.name == name } }
    public func table(_ name: String) -> ConfigTable? { tables.first { $0.name == name } }

    /// Every key with its full path, depth first.
    public func allKeys(prefix: [String] = []) -> [(path: [String], key: ConfigKey)] {
        let here = name.isEmpty ? prefix : prefix + [name]
        return keys.map { (here + [$0.name], $0) } + tables.flatMap { $0.allKeys(prefix: here) }
    }

    /// Looks up a key by its full path (`["camera", "controls", "gain"]`).
    public func key(at path: [String]) -> ConfigKey? {
        guard let first = path.first else { return nil }
        if path.count == 1 { return key(first) }
        return table(first)?.key(at: Array(path.dropFirst()))
    }
}

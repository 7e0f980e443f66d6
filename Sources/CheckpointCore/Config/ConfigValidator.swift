import Foundation
import Synchronization

/// A validated table with defaults applied, and typed accessors for building the config structs.
public struct ResolvedTable: Sendable {
    public var path: [String]
    public var values: [String: ConfigValue]
    public var tables: [String: ResolvedTable]
    /// Directory that relative paths are resolved against (the directory of the file).
    public var baseDirectory: String
    /// Per key, the directory of the file that sets it when that is not `baseDirectory` (a drop-in).
    public var keyDirectories: [String: String]

    public init(path: [String], values: [String: ConfigValue], tables: [String: ResolvedTable], baseDirectory: String,
                keyDirectories: [String: String] = [:]) {
        self.path = path
        self.values = values
        self.tables = tables
        self.baseDirectory = baseDirectory
        self.keyDirectories = keyDirectories
    }

    /// Notes every key read through the accessors below (the single-source test: the builders read every schema
    /// key and no other).
    public var recorder: KeyReadRecorder?

    public subscript(table name: String) -> ResolvedTable {
        var t = tables[name] ?? ResolvedTable(path: path + [name], values: [:], tables: [:], baseDirectory: baseDirectory)
        t.recorder = recorder
        return t
    }

    private func read(_ key: String) -> ConfigValue? {
        recorder?.note(TOMLKeyPath.render(path + [key]))
        return values[key]
    }

    /// A key the schema requires or gives a default: always present once validated (no literal default here;
    /// a missing one is a schema/builder mismatch, which `ConfigSingleSourceTests` catches).
    public func get<T>(_ key: String, _ as: KeyPath<ConfigValue, T?>) -> T {
        guard let v = read(key)?[keyPath: `as`] else {
            preconditionFailure("\(TOMLKeyPath.render(path + [key])) has no value: the schema must require it or give it a default")
        }
        return v
    }

    /// A path key the schema requires or gives a default, resolved like `path(_:)`.
    public func requiredPath(_ key: String) -> String {
        ResolvedTable.resolve(get(key, \.stringValue), against: keyDirectories[key] ?? baseDirectory)
    }

    public func has(_ key: String) -> Bool { read(key) != nil }
    public func string(_ key: String) -> String? { read(key)?.stringValue }
    public func int(_ key: String) -> Int? { read(key)?.intValue }
    public func double(_ key: String) -> Double? { read(key)?.doubleValue }
    public func bool(_ key: String) -> Bool? { read(key)?.boolValue }
    public func strings(_ key: String) -> [String]? { read(key)?.arrayValue?.compactMap(\.stringValue) }
    public func doubles(_ key: String) -> [Double]? { read(key)?.arrayValue?.compactMap(\.doubleValue) }
    public func ints(_ key: String) -> [Int]? { read(key)?.arrayValue?.compactMap(\.intValue) }
    public func pairs(_ key: String) -> [(Double, Double)]? {
        read(key)?.arrayValue?.compactMap { e -> (Double, Double)? in
            guard let a = e.arrayValue, a.count == 2, let x = a[0].doubleValue, let y = a[1].doubleValue else { return nil }
            return (x, y)
        }
    }
    public func dateTime(_ key: String) -> ConfigDateTime? { read(key)?.dateTimeValue }

    /// A path value, made absolute against the directory of the file that writes it when written relative.
    public func path(_ key: String) -> String? {
        guard let p = string(key) else { return nil }
        return ResolvedTable.resolve(p, against: keyDirectories[key] ?? baseDirectory)
    }

    public static func resolve(_ p: String, against base: String) -> String {
        if p.hasPrefix("/") || p.isEmpty { return p }
        return URL(fileURLWithPath: base, isDirectory: true).appendingPathComponent(p).standardizedFileURL.path
    }
}

/// The keys read from a `ResolvedTable` (and its sub-tables), as rendered paths.
public final class KeyReadRecorder: Sendable {
    private let keys = Mutex(Set<String>())
    public init() {}
    func note(_ key: String) { keys.withLock { _ = $0.insert(key) } }
    public var read: Set<String> { keys.withLock { $0 } }
}

/// Checks a parsed document against a schema: unknown keys (with "did you mean"), wrong types, missing required
/// keys, out-of-range and unknown enum values. Collects every problem instead of stopping at the first.
public struct ConfigValidator {
    public let document: TOMLDocument
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init(document: TOMLDocument) { self.document = document }

    public var baseDirectory: String {
        URL(fileURLWithPath: document.file).deletingLastPathComponent().path
    }

    /// Records a problem at the file and line of `path` (or its nearest written ancestor, or line 1 of the main file).
    public mutating func report(_ path: [String], _ message: String, allowed: String? = nil) {
        let at = document.location(for: path)
        diagnostics.append(
            ConfigDiagnostic(file: at.file, line: at.line, keyPath: TOMLKeyPath.render(path), message: message, allowed: allowed))
    }

    public mutating func validate(_ schema: ConfigTable) -> ResolvedTable {
        validate(table: schema, path: [], values: document.root, root: schema)
    }

    private mutating func validate(
        table schema: ConfigTable, path: [String], values: [String: ConfigValue], root: ConfigTable
    ) -> ResolvedTable {
        var resolvedValues: [String: ConfigValue] = [:]
        var resolvedTables: [String: ResolvedTable] = [:]
        var keyDirectories: [String: String] = [:]

        for name in values.keys.sorted() {
            let value = values[name]!
            let keyPath = path + [name]
            if let key = schema.key(name) {
                if check(key, value, at: keyPath) { resolvedValues[name] = value }
                if document.sources.count > 1 {
                    let dir = document.directory(for: keyPath)
                    if dir != baseDirectory { keyDirectories[name] = dir }
                }
            } else if let sub = schema.table(name) {
                if let t = value.tableValue {
                    resolvedTables[name] = validate(table: sub, path: keyPath, values: t, root: root)
                } else {
                    report(keyPath, "expected a table, found \(value.typeName)", allowed: "a [\(TOMLKeyPath.render(keyPath))] table")
                }
            } else {
                report(keyPath, unknownKeyMessage(name, in: schema, path: path, root: root), allowed: allowedKeys(schema))
            }
        }

        for key in schema.keys where values[key.name] == nil {
            switch key.requirement {
            case .required: report(path + [key.name], "missing required key", allowed: key.allowedText)
            case .defaulted(let v): resolvedValues[key.name] = v
            case .optional: break
            }
        }
        for sub in schema.tables where resolvedTables[sub.name] == nil && values[sub.name] == nil {
            resolvedTables[sub.name] = validate(table: sub, path: path + [sub.name], values: [:], root: root)
        }
        return ResolvedTable(path: path, values: resolvedValues, tables: resolvedTables, baseDirectory: baseDirectory,
                             keyDirectories: keyDirectories)
    }

    private func allowedKeys(_ schema: ConfigTable) -> String {
        let names = schema.keys.map(\.name) + schema.tables.map { "[\($0.name)]" }
        return names.isEmpty ? "no keys" : names.joined(separator: ", ")
    }

    private func unknownKeyMessage(_ name: String, in schema: ConfigTable, path: [String], root: ConfigTable) -> String {
        let candidates = schema.keys.map(\.name) + schema.tables.map(\.name)
        let scored = candidates.map { ($0, Self.editDistance(name.lowercased(), $0.lowercased())) }
            .filter { $0.1 <= max(2, $0.0.count / 3) }
            .sorted { $0.1 < $1.1 }
        if let best = scored.first {
            return "unknown key; did you mean \"\(best.0)\"?"
        }
        // The right key in the wrong table?
        if let elsewhere = root.allKeys().first(where: { $0.path.last == name && Array($0.path.dropLast()) != path }) {
            return "unknown key here; did you mean \(TOMLKeyPath.render(elsewhere.path)) (in [\(TOMLKeyPath.render(Array(elsewhere.path.dropLast())))])?"
        }
        return "unknown key"
    }

    /// Returns true when the value is usable (right type, rules pass).
    private mutating func check(_ key: ConfigKey, _ value: ConfigValue, at path: [String]) -> Bool {
        var ok = checkType(key.kind, value, at: path, key: key)
        guard ok else { return false }
        for rule in key.rules where !apply(rule, value, at: path, key: key) { ok = false }
        return ok
    }

    private mutating func checkType(_ kind: ConfigValueKind, _ value: ConfigValue, at path: [String], key: ConfigKey) -> Bool {
        guard kind.matches(value) else {
            report(path, "expected \(kind.phrase), found \(value.typeName) \(Self.show(value))", allowed: key.allowedText)
            return false
        }
        if case .array(let element, let count) = kind, let items = value.arrayValue {
            if let count, !count.contains(items.count) {
                let want = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)..\(count.upperBound)"
                report(path, "has \(items.count) elements, needs \(want)", allowed: key.allowedText)
                return false
            }
            var ok = true
            for (i, item) in items.enumerated() where !checkType(element, item, at: path + ["[\(i)]"], key: key) { ok = false }
            return ok
        }
        if case .float = kind, let d = value.doubleValue, !d.isFinite {
            report(path, "\(Self.show(value)) is not a finite number", allowed: key.allowedText)
            return false
        }
        return true
    }

    private mutating func apply(_ rule: ConfigRule, _ value: ConfigValue, at path: [String], key: ConfigKey) -> Bool {
        if let items = value.arrayValue, !rule.isCustom {
            var ok = true
            for (i, item) in items.enumerated() where !apply(rule, item, at: path + ["[\(i)]"], key: key) { ok = false }
            return ok
        }
        switch rule {
        case .range(let lo, let hi):
            guard let d = value.doubleValue else { return true }
            if d < lo || d > hi {
                report(path, "\(Self.show(value)) is out of range", allowed: key.allowedText)
                return false
            }
        case .oneOf(let allowed):
            guard let s = value.stringValue else { return true }
            if !allowed.contains(s) {
                let hint = allowed.first { $0.lowercased() == s.lowercased() }.map { "; did you mean \(ConfigValue.quote($0))?" } ?? ""
                report(path, "\(Self.show(value)) is not a known value\(hint)", allowed: key.allowedText)
                return false
            }
        case .integerOneOf(let allowed):
            guard let i = value.intValue else { return true }
            if !allowed.contains(i) {
                report(path, "\(i) is not a supported value", allowed: key.allowedText)
                return false
            }
        case .length(let r):
            guard let s = value.stringValue else { return true }
            if !r.contains(s.count) {
                report(path, "\(Self.show(value)) has \(s.count) characters", allowed: key.allowedText)
                return false
            }
        case .custom(_, let check):
            if let issue = check(value) {
                report(path + issue.subpath, issue.message, allowed: key.allowedText)
                return false
            }
        }
        return true
    }

    /// A value for a message, shortened.
    static func show(_ v: ConfigValue) -> String {
        let t = v.tomlText
        return t.count > 60 ? String(t.prefix(57)) + "…" : t
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}

extension ConfigRule {
    var isCustom: Bool {
        if case .custom = self { return true }
        return false
    }
}

/// One problem found in a config or calibration file, printed as
/// `FILE:LINE: key.path: what is wrong (allowed: …)`.
///
/// `line` is nil only when the file could not be read at all (`FILE: cannot read: …`).
/// `keyPath` is empty for TOML syntax errors (`FILE:LINE: TOML syntax error …`).
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var keyPath: String
    public var message: String
    public var allowed: String?

    public init(file: String, line: Int?, keyPath: String, message: String, allowed: String? = nil) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
        self.allowed = allowed
    }

    public var description: String {
        var out = file
        if let line { out += ":\(line)" }
        out += ": "
        if !keyPath.isEmpty { out += keyPath + ": " }
        out += message
        if let allowed { out += " (allowed: \(allowed))" }
        return out
    }

    /// Sorts by line within each file, keeping files in the order they first appear.
    public static func sorted(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        var fileOrder: [String: Int] = [:]
        for d in diagnostics where fileOrder[d.file] == nil { fileOrder[d.file] = fileOrder.count }
        return diagnostics.enumerated().sorted { a, b in
            let fa = fileOrder[a.element.file]!, fb = fileOrder[b.element.file]!
            if fa != fb { return fa < fb }
            let la = a.element.line ?? 0, lb = b.element.line ?? 0
            if la != lb { return la < lb }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// Thrown when a config or calibration file is unreadable or invalid; carries every problem found in one run.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]
    /// The only problem is that the site settings (kiosk identity, endpoint) are not set: a fresh install.
    /// Its one diagnostic says what to set and where; callers print it alone.
    public var notConfigured = false

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = ConfigDiagnostic.sorted(diagnostics)
    }

    /// One diagnostic per line, in the exact `FILE:LINE: key: problem (allowed: …)` format.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// The core error for callers that only handle `CoreError`.
    public var coreError: CoreError { CoreError(.invalidConfig, description) }
}

// Config and calibration files: TOML a technician edits by hand.
//
// toml:        TOMLKeyLocator on any text (lines within the text); on text TOMLKit accepts, every key and array
//              element TOMLKit reports is located, on a line that holds its (bare) name, and every value written
//              back as TOML (ConfigValue.tomlText, used by the calibration writer) reads back equal.
// config:      ConfigLoader.parse returns a config, or diagnostics each with FILE:LINE inside the file it names.
// calibration: CalibrationFile.parse returns a calibration whose render() parses back equal, or FILE:LINE diagnostics.
#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import Foundation

enum ConfigTargets {
    /// Known finding `tomlpp.header-key-assert`: toml++ (inside TOMLKit 0.6.0) aborts on an assertion in parse_key()
    /// when a table header's key starts with a character that cannot start a key: `[=`, `[ =]`, `[[=]]`. While the
    /// finding is open (known-findings.txt), such inputs are not explored, so the rest of the parser still is.
    static func hitsKnownTomlppAssert(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        // Known finding `tomlpp.time-assert`: a date then T and a non-digit (`_=2121-11-20T:`) aborts in parse_time().
        if skippedChecks.contains("tomlpp.time-assert"), bytes.count >= 12 {
            func digit(_ i: Int) -> Bool { bytes[i] >= 0x30 && bytes[i] <= 0x39 }
            for i in 0...(bytes.count - 12) where bytes[i + 4] == 0x2D && bytes[i + 7] == 0x2D
                && (bytes[i + 10] == 0x54 || bytes[i + 10] == 0x74) && !digit(i + 11)
                && digit(i) && digit(i + 1) && digit(i + 2) && digit(i + 3) && digit(i + 5) && digit(i + 6) && digit(i + 8) && digit(i + 9) {
                return true
            }
        }
        guard skippedChecks.contains("tomlpp.header-key-assert") else { return false }
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var i = line.startIndex
            while i < line.endIndex, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
            guard i < line.endIndex, line[i] == 0x5B else { continue }
            i += 1
            if i < line.endIndex, line[i] == 0x5B { i += 1 }
            while i < line.endIndex, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
            guard i < line.endIndex else { return true }
            let c = line[i]
            let keyStart = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
                || c == 0x22 || c == 0x27
            if !keyStart { return true }
        }
        return false
    }

    // MARK: toml

    static let toml: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let text = strictText(data) else { return -1 }  // the daemon refuses non-UTF-8 files before parsing
        if hitsKnownTomlppAssert(text) { return -1 }
        let bytes = Array(text.utf8)
        let lines = lineCount(bytes)
        let locator = TOMLKeyLocator(source: text)
        for (path, line) in locator.lines {
            require(line >= 1 && line <= lines, "toml.locator-line-range", "key \(excerpt(path)) at line \(line) of a \(lines)-line text")
        }
        guard case .success(let document) = TOMLDocument.parse(text, file: "fuzz.toml") else { return 0 }

        // Every key and array element TOMLKit found is located, on a line that holds its name when it is a bare key.
        let lineTexts = splitLines(bytes)
        func visit(_ value: ConfigValue, _ path: [String]) {
            if !path.isEmpty {
                let rendered = TOMLKeyPath.render(path)
                if let line = locator.line(for: path) {
                    if let last = path.last, !last.hasPrefix("["), isBare(last) {
                        require(contains(lineTexts[line - 1], Array(last.utf8)), "toml.locator-line-text",
                                "\(excerpt(rendered)) located at line \(line), which does not hold '\(excerpt(last))'")
                    }
                } else {
                    require(false, "toml.locator-complete", "TOMLKit has \(excerpt(rendered)) but the locator has no line for it")
                }
            }
            switch value {
            case .table(let t): for (k, v) in t { visit(v, path + [k]) }
            case .array(let a): for (i, v) in a.enumerated() { visit(v, path + ["[\(i)]"]) }
            default: break
            }
        }
        visit(.table(document.root), [])

        // Values written back as TOML read back the same.
        let written = document.root.keys.sorted().map { "\(TOMLKeyPath.quoteComponent($0)) = \(document.root[$0]!.tomlText)" }
            .joined(separator: "\n")
        switch TOMLDocument.parse(written, file: "written.toml") {
        case .success(let again):
            require(same(.table(again.root), .table(document.root)), "toml.tomltext-roundtrip",
                    "values written back as TOML read back different: \(excerpt(written, 300))")
        case .failure(let e):
            require(false, "toml.tomltext-valid", "values written back as TOML do not parse: \(e) in \(excerpt(written, 300))")
        }
        return 0
    }

    static func isBare(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
    }

    static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
    }

    static func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, hay.count >= needle.count else { return needle.isEmpty }
        var i = hay.startIndex
        while i + needle.count <= hay.endIndex {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// Structural equality where NaN equals NaN (TOML has nan).
    static func same(_ a: ConfigValue, _ b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.float(let x), .float(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.table(let x), .table(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { same(v, $0) } ?? false }
        default: return a == b
        }
    }

    // MARK: config

    /// A scratch /etc/checkpointd-like directory holding the shipped calibration files, so the calibration a fuzzed
    /// config names (relative to it) is a real file.
    nonisolated(unsafe) static var directory = ""

    static let setUp: @Sendable () -> Void = {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-fuzz-\(getpid())").path
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        for dir in ["\(base)/etc/calibration", "\(base)/calibration"] {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name in ["gy-mcu90640.toml", "single-point.toml"] {
                let source = repo.appendingPathComponent("calibration/\(name)").path
                guard let data = FileManager.default.contents(atPath: source) else {
                    printErr("checkpoint-fuzz: cannot read \(source)\n")
                    exit(2)
                }
                _ = FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: data)
            }
        }
        directory = "\(base)/etc"
        atexit { _ = try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: ConfigTargets.directory).deletingLastPathComponent().path) }
    }

    static let config: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let text = strictText(data) else { return -1 }
        if hitsKnownTomlppAssert(text) { return -1 }
        let file = "\(directory)/checkpointd.toml"
        // The config may name any calibration path. Reading a FIFO or a device could block or never end: such inputs
        // are not explored (the daemon reads what root configured; see the report).
        var calibrationPath: String?
        if case .success(let d) = TOMLDocument.parse(text, file: file), case .table(let thermal)? = d.root["thermal"],
           case .string(let p)? = thermal["calibration"] {
            let resolved = ResolvedTable.resolve(p, against: directory)
            var st = stat()
            if stat(resolved, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFDIR { return -1 }
            calibrationPath = resolved
        }
        let result = ConfigLoader.parse(text, file: file)
        switch result {
        case .success(let c):
            require(c.file == file, "config.file", "config from \(file) says it came from \(c.file)")
        case .failure(let e):
            require(!e.diagnostics.isEmpty, "config.diagnostics", "failure without a diagnostic")
            let lines = lineCount(text.utf8)
            for d in e.diagnostics {
                require(!d.message.isEmpty, "config.message", "empty message in \(d)")
                if d.file == file, d.line == nil, d.keyPath.isEmpty, d.message.hasPrefix("not configured: set ") {
                    // The one whole-file diagnostic: only the site keys are unset (no line holds what is missing).
                    require(e.diagnostics.filter { $0.file == file }.count == 1, "config.not-configured",
                            "'not configured' beside other problems of the same file")
                } else if d.file == file {
                    require(d.line.map { $0 >= 1 && $0 <= lines } ?? false, "config.line",
                            "diagnostic '\(excerpt(d.description, 200))' has line \(d.line.map(String.init) ?? "none") in a \(lines)-line file")
                } else {
                    require(d.file == calibrationPath, "config.diagnostic-file", "diagnostic names \(excerpt(d.file)), neither the config nor its calibration")
                    if let line = d.line {
                        let calLines = FileManager.default.contents(atPath: d.file).map { lineCount($0) } ?? 0
                        require(line >= 1 && line <= calLines, "config.calibration-line",
                                "calibration diagnostic '\(excerpt(d.description, 200))' at line \(line) of a \(calLines)-line file")
                    } else {
                        require(d.message.hasPrefix("cannot read"), "config.line-missing", "no line in '\(excerpt(d.description, 200))'")
                    }
                }
            }
            if text.utf8.contains(0), let first = e.diagnostics.first, first.message.contains("NUL byte") {
                let nulLine = lineCount(text.utf8.prefix { $0 != 0 })
                require(first.line == nulLine, "config.nul-line",
                        "the NUL byte is on line \(nulLine) but the diagnostic says line \(first.line.map(String.init) ?? "none")")
            }
        }
        return 0
    }

    // MARK: calibration

    static let calibration: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let text = strictText(data) else { return -1 }
        if hitsKnownTomlppAssert(text) { return -1 }
        let file = "/etc/checkpointd/calibration/fuzz.toml"
        do throws(ConfigError) {
            let cal = try CalibrationFile.parse(text, file: file)
            let rendered = cal.render()
            do {
                let again = try CalibrationFile.parse(rendered, file: file)
                require(again == cal, "calibration.render-roundtrip", "render() of an accepted calibration reads back different")
            } catch {
                fail("calibration.render-valid", "render() of an accepted calibration is refused: \(error)")
            }
        } catch {
            require(!error.diagnostics.isEmpty, "calibration.diagnostics", "failure without a diagnostic")
            let lines = lineCount(text.utf8)
            for d in error.diagnostics {
                require(d.file == file, "calibration.file", "diagnostic names \(excerpt(d.file))")
                require(!d.message.isEmpty, "calibration.message", "empty message")
                require(d.line.map { $0 >= 1 && $0 <= lines } ?? false, "calibration.line",
                        "diagnostic '\(excerpt(d.description, 200))' has line \(d.line.map(String.init) ?? "none") in a \(lines)-line file")
            }
        }
        return 0
    }
}

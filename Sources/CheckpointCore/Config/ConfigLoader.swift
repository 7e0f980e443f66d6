import Foundation

/// Reads and validates the daemon config and the calibration file it names, reporting every problem in one run.
public enum ConfigLoader {
    /// Loads `path` (and `thermal.calibration`). Throws `ConfigError` with all diagnostics, sorted by file and line.
    public static func load(path: String) throws(ConfigError) -> CheckpointConfig {
        switch result(path: path) {
        case .success(let c): return c
        case .failure(let e): throw e
        }
    }

    public static func result(path: String) -> Result<CheckpointConfig, ConfigError> {
        switch document(path: path) {
        case .success(let document): return result(document: document)
        case .failure(let e): return .failure(e)
        }
    }

    /// The drop-in directory of a main config file: `checkpointd.toml.d` beside `checkpointd.toml`.
    public static func dropInDirectory(for path: String) -> String { path + ".d" }

    /// Where a site's own settings go: a drop-in, so that a package upgrade never asks about the main file.
    public static func siteDropIn(for path: String) -> String { dropInDirectory(for: path) + "/50-site.toml" }

    /// The main file and its drop-ins (`<path>.d/*.toml`, in byte order of their names): the files that make
    /// the configuration, in the order they are applied. Hidden files and other extensions are ignored (so
    /// `50-site.toml.dpkg-old` or an editor's `.50-site.toml.swp` are not read).
    public static func files(path: String) -> [String] {
        let dir = dropInDirectory(for: path)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let dropIns = names.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return [path] + dropIns.map { dir + "/" + $0 }
    }

    /// The main file with its drop-ins applied over it in order; every file's syntax error is reported.
    public static func document(path: String) -> Result<TOMLDocument, ConfigError> {
        var merged: TOMLDocument?
        var diagnostics: [ConfigDiagnostic] = []
        for file in files(path: path) {
            switch TOMLDocument.load(path: file) {
            case .success(let d): merged = merged.map { $0.merged(with: d) } ?? d
            case .failure(let e): diagnostics += e.diagnostics
            }
        }
        guard diagnostics.isEmpty, let merged else { return .failure(ConfigError(diagnostics)) }
        return .success(merged)
    }

    /// The calibration file the configuration at `path` names (absolute), when it can be read; for messages.
    public static func calibrationPath(configPath path: String) -> String? {
        guard case .success(let d) = document(path: path), case .table(let t)? = d.root["thermal"],
              let p = t["calibration"]?.stringValue else { return nil }
        return ResolvedTable.resolve(p, against: d.directory(for: ["thermal", "calibration"]))
    }

    /// Validates config text as if it were the file `file` (relative paths start at its directory).
    public static func parse(_ text: String, file: String) -> Result<CheckpointConfig, ConfigError> {
        switch TOMLDocument.parse(text, file: file) {
        case .success(let document): return result(document: document)
        case .failure(let e): return .failure(e)
        }
    }

    static func result(document: TOMLDocument) -> Result<CheckpointConfig, ConfigError> {
        var v = ConfigValidator(document: document)
        let r = v.validate(CheckpointConfigSchema.root)
        crossCheck(r, &v)

        var diagnostics = v.diagnostics
        // A configuration whose only problem is that its site settings are not set (the installed file alone) is
        // one problem, said once, with where to set them. With other problems too, each is reported as usual.
        let unset = CheckpointConfigSchema.siteKeys.filter { document.value(at: $0) == nil }
        let unsetNames = unset.map(TOMLKeyPath.render)
        let onlyUnset = !unset.isEmpty
            && diagnostics.allSatisfy { $0.message == "missing required key" && unsetNames.contains($0.keyPath) }
        if onlyUnset {
            let main = document.file
            diagnostics = [ConfigDiagnostic(
                file: main, line: nil, keyPath: "",
                message: "not configured: set \(unsetNames.joined(separator: ", ")) in \(siteDropIn(for: main)) "
                    + "(an example with every key: \(CheckpointConfigSchema.exampleConfigPath))")]
        }
        var calibration: CalibrationFile?
        let thermal = r[table: "thermal"]
        if let calibrationPath = thermal.path("calibration") {
            do {
                calibration = try CalibrationFile.load(path: calibrationPath, expectedModel: thermal.string("model"))
            } catch {
                diagnostics += error.diagnostics
            }
        }
        guard diagnostics.isEmpty, let calibration else {
            var error = ConfigError(diagnostics)
            error.notConfigured = onlyUnset && diagnostics.count == 1
            return .failure(error)
        }
        return .success(CheckpointConfig(document: document, resolved: r, calibration: calibration))
    }

    /// Rules that involve more than one key.
    static func crossCheck(_ r: ResolvedTable, _ v: inout ConfigValidator) {
        let camera = r[table: "camera"], controls = camera[table: "controls"]
        if camera.string("source") == "replay" && !camera.has("replay_path") {
            v.report(["camera", "replay_path"], "missing; required when camera.source = \"replay\"", allowed: "a directory of JPEG/PNG frames")
        }
        if controls.has("exposure_absolute"), let mode = controls.string("exposure_mode"), mode == "auto" || mode == "aperture_priority" {
            v.report(["camera", "controls", "exposure_absolute"], "has no effect while exposure_mode = \(ConfigValue.quote(mode))", allowed: "exposure_mode = \"manual\" or \"shutter_priority\"")
        }
        if controls.has("white_balance_temperature"), controls.bool("white_balance_auto") == true {
            v.report(["camera", "controls", "white_balance_temperature"], "has no effect while white_balance_auto = true", allowed: "white_balance_auto = false")
        }

        let tracking = r[table: "tracking"]
        if let lo = tracking.double("min_distance_m"), let hi = tracking.double("max_distance_m"), lo >= hi {
            v.report(["tracking", "max_distance_m"], "\(ConfigValue.formatFloat(hi)) is not greater than min_distance_m \(ConfigValue.formatFloat(lo))", allowed: "greater than min_distance_m")
        }
        if let hi = tracking.double("max_distance_m"), let range = tracking.double("person_range_m"), range < hi {
            v.report(["tracking", "person_range_m"], "\(ConfigValue.formatFloat(range)) is less than max_distance_m \(ConfigValue.formatFloat(hi))", allowed: "at least max_distance_m")
        }
        if let size = r[table: "detector"].int("verify_size"), size > 0, size < 32 {
            v.report(["detector", "verify_size"], "\(size) is too small for a face crop", allowed: "0 (one pass) or 32..640")
        }

        let thermal = r[table: "thermal"]
        if let model = thermal.string("model") {
            if model == "ascii-line" && !thermal.has("ascii_pattern") {
                v.report(["thermal", "ascii_pattern"], "missing; required when thermal.model = \"ascii-line\"", allowed: "a regular expression with (?<object>…) and (?<ambient>…) groups")
            }
            if model != "ascii-line" && thermal.has("ascii_pattern") {
                v.report(["thermal", "ascii_pattern"], "is only used when thermal.model = \"ascii-line\" (model is \(ConfigValue.quote(model)))", allowed: "remove it, or model = \"ascii-line\"")
            }
            if model == "gy-mcu90640", let rate = thermal.double("frame_rate_hz"), rate > 4, let baud = thermal.int("baud"), baud != 460800 {
                v.report(["thermal", "frame_rate_hz"], "\(ConfigValue.formatFloat(rate)) Hz needs baud 460800 on the GY-MCU90640 (baud is \(baud))", allowed: "0.5..4 Hz at 115200 baud")
            }
        }

        let screening = r[table: "screening"]
        if let lo = screening.double("plausible_min_c"), let mid = screening.double("elevated_c"), let hi = screening.double("plausible_max_c") {
            if !(lo < mid && mid < hi) {
                v.report(["screening", "elevated_c"], "\(ConfigValue.formatFloat(mid)) must lie between plausible_min_c \(ConfigValue.formatFloat(lo)) and plausible_max_c \(ConfigValue.formatFloat(hi))", allowed: "plausible_min_c < elevated_c < plausible_max_c")
            }
        }

        let upload = r[table: "upload"]
        if let endpoint = upload.string("endpoint"), endpoint.lowercased().hasPrefix("http://"),
           let problem = UploadEndpoint.problem(endpoint, allowInsecureHTTP: upload.bool("allow_insecure_http") == true) {
            v.report(["upload", "endpoint"], problem, allowed: "an https:// URL (http:// only to a loopback host, with allow_insecure_http = true)")
        }
        if upload.has("client_cert") != upload.has("client_key") {
            let missing = upload.has("client_cert") ? "client_key" : "client_cert"
            v.report(["upload", missing], "missing; client_cert and client_key go together", allowed: "both or neither")
        }
        if let c = upload.int("connect_timeout_s"), let t = upload.int("total_timeout_s"), t <= c {
            v.report(["upload", "total_timeout_s"], "\(t) is not greater than connect_timeout_s \(c)", allowed: "greater than connect_timeout_s")
        }
    }
}

import Foundation

/// The daemon config file's schema (`/etc/checkpointd/checkpointd.toml`). Every key's type, default, allowed values,
/// unit and meaning live here; the validator, the typed `CheckpointConfig`, the reference and the example-file test
/// all read it.
public enum CheckpointConfigSchema {
    public static let defaultPath = "/etc/checkpointd/checkpointd.toml"
    /// The documented example with every key, as installed.
    public static let exampleConfigPath = "/usr/share/doc/checkpointd/examples/checkpointd.toml"
    /// What every site sets itself (the installed file leaves them unset): the kiosk identity and the endpoint.
    public static let siteKeys = [["kiosk", "checkpoint_id"], ["kiosk", "device_id"], ["upload", "endpoint"]]
    public static let thermalModels = ThermalModel.names
    public static let pixelFormats = ["MJPEG", "YUYV", "GREY"]
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public static let root = ConfigTable(
        "", doc: "checkpointd daemon configuration",
        keys: [],
        tables: [kiosk, camera, detector, tracking, snapshot, thermal, screening, api, ui, upload, heartbeat, monitoring, queue, logging])

    static let kiosk = ConfigTable(
        "kiosk", doc: "Identity of this kiosk, recorded in every declaration.", restart: true,
        keys: [
            Schema.string(
                "checkpoint_id", .required, rules: [Schema.identifier],
                "Identifier of the checkpoint (the site, e.g. a commune health station) this kiosk serves."),
            Schema.string(
                "device_id", .required, rules: [Schema.identifier],
                "Identifier of this kiosk device; unique across the fleet. Used as the upload client identity."),
        ])

    static let camera = ConfigTable(
        "camera", doc: "The visible-light camera (V4L2) or a directory of replayed frames.", restart: true,
        keys: [
            Schema.choice("source", "v4l2", ["v4l2", "replay"], "Where frames come from: a V4L2 device or replayed image files."),
            Schema.path("device", "/dev/checkpoint-camera", "V4L2 device path; prefer a stable /dev/v4l/by-id/… name or the udev symlink."),
            Schema.path("replay_path", nil, "Directory of JPEG/PNG frames replayed in name order; required when source = \"replay\"."),
            Schema.num("replay_fps", 10, 0.1, 60, unit: "frames/s", "Rate at which replayed frames are delivered."),
            ConfigKey(
                "formats", .array(of: .string, count: 1...3), .defaulted(.array(pixelFormats.map { .string($0) })),
                rules: [.oneOf(pixelFormats), uniqueStrings],
                doc: "Pixel formats to negotiate, in order of preference."),
            Schema.int("width", 640, 160, 1920, unit: "px", "Capture width."),
            Schema.int("height", 480, 120, 1080, unit: "px", "Capture height."),
            Schema.int("fps", 15, 1, 60, unit: "frames/s", "Requested capture frame rate."),
            Schema.int("buffers", 4, 2, 8, unit: "buffers", "Number of V4L2 mmap buffers."),
            Schema.int("frame_timeout_ms", 2500, 200, 30000, unit: "ms", "No frame for this long means the camera is stalled; it is reopened."),
        ],
        tables: [cameraControls])

    static let cameraControls = ConfigTable(
        "controls", doc: "Camera controls applied after every (re)open; each is optional and left alone when absent.", restart: true,
        keys: [
            Schema.choice(
                "exposure_mode", nil, ["auto", "manual", "shutter_priority", "aperture_priority"],
                "Exposure mode (V4L2 auto_exposure); most UVC cameras support only manual and aperture_priority."),
            Schema.int("exposure_absolute", nil, 1, 10000, unit: "×100 µs", "Exposure time; needs exposure_mode manual or shutter_priority."),
            Schema.bool("white_balance_auto", nil, "Automatic white balance on/off."),
            Schema.int("white_balance_temperature", nil, 2000, 10000, unit: "K", "White balance colour temperature; needs white_balance_auto = false."),
            Schema.int("gain", nil, 0, 1023, unit: "device units", "Analogue gain."),
            Schema.choice("power_line_frequency", nil, ["disabled", "50hz", "60hz"], "Anti-flicker filter; Vietnam mains is 50 Hz."),
        ])

    static let detector = ConfigTable(
        "detector", doc: "Face detection (OpenCV YuNet, Haar cascade fallback).", restart: true,
        keys: [
            Schema.path("model", "/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx", "YuNet ONNX model file."),
            Schema.string("model_sha256", .optional, rules: [Schema.sha256], "Expected SHA-256 of the model file; checked at start when set."),
            Schema.path(
                "fallback_cascade", "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml",
                "Haar cascade used when the YuNet model cannot be loaded (does not find masked faces)."),
            Schema.int("detection_width", 320, 160, 1280, unit: "px", "Width frames are scaled to before detection."),
            Schema.int("detection_height", 240, 120, 960, unit: "px", "Height frames are scaled to before detection."),
            Schema.num(
                "score_threshold", 0.8, 0.1, 0.99, unit: "score",
                "Minimum YuNet score of a face: on its verification crop when verify_size > 0, else at the detection size. 0.9 misses masked faces."),
            Schema.int(
                "verify_size", 224, 0, 640, unit: "px",
                "Two-pass detection: each doubtful proposal from the detection size is verified on a square crop of the full-resolution frame scaled to this size (32..640; the face is then verify_size / (1 + 2 × verify_margin) px wide, 112 at the defaults); 0 = one pass. Measured in the README, 'Faces'."),
            Schema.num(
                "proposal_score_threshold", 0.35, 0.05, 0.99, unit: "score",
                "Minimum YuNet score of a proposal at the detection size (two-pass only); low, since verification decides."),
            Schema.num("verify_margin", 0.5, 0, 2, unit: "fraction of box size", "Margin around a proposal, on each side, in its verification crop."),
            Schema.int("max_proposals", 4, 1, 16, unit: "proposals", "Most proposals verified per frame, best first (bounds the cost)."),
            Schema.num(
                "verify_above", 0.95, 0.1, 1.0, unit: "score",
                "Two-pass only: proposals scoring at least this at the detection size are faces without a verification crop; 1 = verify every proposal."),
            Schema.num(
                "nearest_face_m", 0.25, 0, 5, unit: "m",
                "Range gate: a box whose width puts it nearer than this is not a face (a wall or photo filling the frame; at 0.25 m a face no longer fits a 4:3 frame); 0 = no bound. Uses tracking.focal_length_px."),
            Schema.num(
                "farthest_face_m", 3.0, 0, 20, unit: "m",
                "Range gate: a box both distance estimates (eye distance, box width) put farther than this is not a face (a valve, a badge, a face far behind); 0 = no bound. Uses tracking.focal_length_px."),
            Schema.num(
                "flip_below", 1, 0, 1, unit: "score",
                "Two-pass only: a verification crop scoring at least score_threshold but below this is verified again on its mirror image and passes only if the face is found there too at score_threshold (a face is nearly symmetric); 0 = never, 1 = every verified crop."),
            Schema.num("nms_threshold", 0.3, 0.05, 0.95, unit: "IoU", "Non-maximum suppression overlap threshold."),
            Schema.int("threads", 1, 1, 4, unit: "threads", "OpenCV threads used by detection."),
        ])

    static let tracking = ConfigTable(
        "tracking", doc: "When a detected face is steady, close and sharp enough to measure.", restart: true,
        keys: [
            Schema.num("iou_threshold", 0.5, 0.1, 0.95, unit: "IoU", "Box overlap between frames for the face to count as the same and steady."),
            Schema.int("stable_frames", 5, 1, 60, unit: "frames", "Consecutive steady frames before a measurement starts."),
            Schema.num("min_distance_m", 0.3, 0.1, 3.0, unit: "m", "Closest accepted face distance (estimated from face width)."),
            Schema.num("max_distance_m", 1.0, 0.2, 5.0, unit: "m", "Farthest accepted face distance."),
            Schema.num(
                "person_range_m", 1.5, 0.2, 10.0, unit: "m",
                "Faces estimated farther than this are not people at the kiosk: they never cause 'one person at a time'. At least max_distance_m."),
            Schema.num("focal_length_px", 600, 100, 5000, unit: "px", "Camera focal length at the capture size, used to estimate distance from face width."),
            Schema.num("min_sharpness", 50, 0, 10000, unit: "Laplacian variance", "Minimum sharpness of the face crop."),
            Schema.num("max_asymmetry", 0.35, 0, 1, unit: "fraction", "Maximum left/right landmark asymmetry (0 = frontal); rejects turned heads."),
        ])

    static let snapshot = ConfigTable(
        "snapshot", doc: "The face photo stored with a declaration.",
        keys: [
            Schema.int("jpeg_quality", 85, 1, 100, unit: "percent", "JPEG quality of the face crop."),
            Schema.int("max_bytes", 150_000, 10_000, 2_000_000, unit: "bytes", "Largest stored JPEG; quality is lowered until it fits."),
            Schema.num("margin", 0.25, 0, 1, unit: "fraction of box size", "Extra margin added on each side of the face box."),
        ])

    static let thermal = ConfigTable(
        "thermal", doc: "The thermal sensor on a serial port and its calibration file.",
        keys: [
            Schema.choice("model", nil, thermalModels, required: true, "Sensor protocol.").restart(),
            Schema.path("port", "/dev/checkpoint-thermal", "Serial device; prefer /dev/serial/by-id/… or the udev symlink.").restart(),
            ConfigKey(
                "baud", .either(.integer, .string), .defaulted(.string("auto")),
                rules: [
                    .custom(allowed: "9600, 115200, 460800 or \"auto\"") { v in
                        if let i = v.intValue { return [9600, 115200, 460800].contains(i) ? nil : ConfigIssue("\(i) is not a supported baud rate") }
                        if let s = v.stringValue { return s == "auto" ? nil : ConfigIssue("\(ConfigValue.quote(s)) is not a baud rate") }
                        return nil
                    }
                ], unit: "bit/s",
                doc: "Serial speed; \"auto\" probes 115200, 460800, then 9600.").restart(),
            Schema.path("calibration", nil, required: true, "Calibration file for this sensor (see calibration/README.md)."),
            Schema.int("warmup_minutes", 30, 0, 240, unit: "min", "Readings are flagged warming_up this long after start."),
            Schema.num("frame_rate_hz", 4, 0.5, 8, unit: "Hz", "Sensor frame rate; 8 Hz needs 460800 baud on the GY-MCU90640.").restart(),
            Schema.string(
                "ascii_pattern", .optional, rules: [asciiPatternRule],
                "Regular expression for one line of an ASCII sensor, with named groups object and ambient (°C); required when model = \"ascii-line\".").restart(),
        ])

    static let screening = ConfigTable(
        "screening", doc: "How a temperature screening result is decided.",
        keys: [
            Schema.num("elevated_c", 37.5, 36.0, 39.0, unit: "°C", "Body temperature at or above which a secondary check is required."),
            Schema.int("frames", 5, 1, 60, unit: "frames", "Thermal frames aggregated (median) per measurement."),
            Schema.int("top_n", 4, 1, 16, unit: "pixels", "Hottest face pixels averaged per frame (robust maximum)."),
            Schema.int("min_face_pixels", 6, 1, 768, unit: "thermal pixels", "Fewer thermal pixels on the face means too far: no result."),
            Schema.int(
                "declaration_hold_seconds", 300, 30, 3600, unit: "s",
                "How long after a result is decided a declaration can still claim it (by its screeningId); the on-screen result hold is separate."),
            Schema.num("plausible_min_c", 34.0, 25.0, 36.0, unit: "°C", "Readings below this are invalid (not a person, or a cold arrival), never 'normal'."),
            Schema.num("plausible_max_c", 42.5, 39.0, 45.0, unit: "°C", "Readings above this are invalid (check the equipment)."),
        ])

    static let api = ConfigTable(
        "api", doc: "The local API used by the kiosk UI.", restart: true,
        keys: [
            Schema.path("socket", "/run/checkpointd/api.sock", "Unix socket path of the local API."),
            ConfigKey(
                "socket_mode", .integer, .defaulted(.integer(0o660)),
                rules: [.custom(allowed: "0o000..0o777") { v in
                    guard let i = v.intValue else { return nil }
                    return (0...0o777).contains(i) ? nil : ConfigIssue("\(i) is not a file mode")
                }], unit: "octal mode",
                doc: "Permissions of the socket file; write it as octal, e.g. 0o660."),
            Schema.string("socket_group", .optional, rules: [Schema.nonEmpty("a group name")], "Group owning the socket (e.g. the kiosk UI's group); its directory is given to the group too, so members can reach it. Checked at start."),
            Schema.int("tcp_port", 0, 0, 65535, unit: "TCP port", "Also listen on 127.0.0.1 at this port; 0 = off."),
            Schema.int("max_body_bytes", 65536, 1024, 1_048_576, unit: "bytes", "Largest accepted request body."),
            Schema.int(
                "idle_timeout_seconds", 30, 1, 600, unit: "s",
                "A connection with no request in flight (or a request head still arriving) for this long is closed; event streams are not idle."),
            Schema.int(
                "max_connections", 64, 8, 1024, unit: "connections",
                "Open connections per listener (socket, TCP); more wait to be accepted. Keep it below the unit's LimitNOFILE."),
            Schema.int(
                "max_concurrent_declarations", 8, 1, 64, unit: "requests",
                "Declarations handled at once; more are answered 503 with code \"busy\"."),
        ])

    static let ui = ConfigTable(
        "ui", doc: "The kiosk screen: static pages and the camera preview, served on the [api] tcp_port listener (127.0.0.1) only.", restart: true,
        keys: [
            Schema.bool("enabled", true, "Serve the kiosk screen at http://127.0.0.1:<tcp_port>/ui/ (needs tcp_port)."),
            Schema.path("dir", "/usr/share/checkpointd/ui", "Directory holding the screen's index.html and its files."),
            Schema.bool("preview", true, "Serve the live, mirrored camera preview (never recorded or stored)."),
            Schema.int("preview_fps", 5, 1, 10, unit: "frames/s", "Highest frame rate of the camera preview."),
            Schema.int("preview_width", 480, 160, 640, unit: "px", "Largest width of the camera preview (aspect kept)."),
            Schema.bool(
                "qr_scan", true,
                "Let the declaration step read a PC-COVID or chip ID card QR from the camera (GET /v1/qr/events); decoded only while the screen asks, never stored or logged."),
        ])

    static let upload = ConfigTable(
        "upload", doc: "Where declarations are uploaded, over verified TLS.",
        keys: [
            Schema.string("endpoint", .required, rules: [endpointRule], "HTTPS URL declarations are POSTed to."),
            Schema.bool("allow_insecure_http", false, "Permit an http:// endpoint (loopback demos and tests only)."),
            Schema.path("ca_file", nil, "CA bundle (PEM) the server is verified against, and then the only trust (the system store is not used); default: the system store."),
            Schema.string("pinned_public_key", .optional, rules: [pinnedKeyRule],
                          "Also pin the server's public key (curl's PINNEDPUBLICKEY): sha256// and the base64 SHA-256 of its SubjectPublicKeyInfo; several joined by ';' (the next key, before a rotation)."),
            Schema.path("client_cert", nil, "Client certificate (PEM) for mutual TLS; needs client_key."),
            Schema.path("client_key", nil, "Client private key (PEM, mode 0600); needs client_cert."),
            Schema.int("connect_timeout_s", 15, 1, 120, unit: "s", "Connection timeout (DNS, TCP and TLS)."),
            Schema.int("total_timeout_s", 120, 5, 600, unit: "s", "Longest a single upload may take."),
            Schema.int("low_speed_limit_bps", 1024, 1, 1_000_000, unit: "bytes/s", "Below this speed for low_speed_time_s the transfer is aborted."),
            Schema.int("low_speed_time_s", 30, 1, 600, unit: "s", "How long a transfer may stay below low_speed_limit_bps."),
            Schema.int("backoff_max_s", 300, 1, 3600, unit: "s", "Upper bound of the jittered exponential retry backoff."),
            Schema.int("retry_after_max_s", 3600, 1, 86400, unit: "s", "A server's Retry-After is clamped to this."),
        ])

    static let heartbeat = ConfigTable(
        "heartbeat", doc: "The kiosk's status report to the province (POST …/v1/heartbeats beside the upload endpoint's …/v1/records; no personal data).",
        keys: [
            Schema.bool("enabled", true, "Send heartbeats: at start, every interval_s, and at once when the sensor or camera is lost or back, the uplink alert changes or records are dead-lettered."),
            Schema.int("interval_s", 300, 30, 3600, unit: "s", "Time between heartbeats when nothing changes; the fleet view calls a kiosk silent after a few missed ones."),
        ])

    static let monitoring = ConfigTable(
        "monitoring", doc: "Monitoring stills for the province's monitoring app: on an operator's request, carried on a heartbeat's reply, one current camera still is uploaded (POST …/v1/monitoring/stills). Off by default; every request is logged (request id, outcome, size; never the image).",
        keys: [
            Schema.bool("still_enabled", false, "Answer an operator's still request with one current camera still; when false the request is refused (the fleet page says stills are off on this kiosk) and logged."),
            Schema.bool("blur_faces", true, "Blur every detected face (box plus a margin) in a still before it leaves the kiosk; false sends faces as the camera sees them (personal data: only where the province's rules allow it)."),
        ])

    static let queue = ConfigTable(
        "queue", doc: "The durable on-device queue of declarations (SQLite).", restart: true,
        keys: [
            Schema.path("database", "/var/lib/checkpointd/queue.sqlite", "SQLite database file."),
            Schema.int("max_bytes", 2 << 30, 1 << 20, 1 << 40, unit: "bytes", "Largest size of the database; new declarations are refused beyond it."),
            Schema.int("min_free_bytes", 512 << 20, 0, 1 << 40, unit: "bytes", "Free space kept on the file system; new declarations are refused below it."),
            Schema.num("face_drop_fraction", 0.8, 0.1, 1.0, unit: "fraction of max_bytes", "Fill level at which face photos of the oldest rows are dropped (declarations kept)."),
            Schema.int("face_retention_hours", 336, 1, 8760, unit: "h", "Face photos older than this are dropped even if not uploaded."),
            Schema.int("uploaded_retention_hours", 0, 0, 8760, unit: "h", "Uploaded declarations are kept this long (out of the queue; the first dropped when it needs space), then really deleted; 0 = at once."),
        ])

    static let logging = ConfigTable(
        "logging", doc: "Logging to the journal (stderr). Logs never contain names, ID numbers or faces.", restart: true,
        keys: [Schema.choice("level", "info", logLevels, "Lowest level logged.")])

    // MARK: Rules

    static let uniqueStrings = ConfigRule.custom(allowed: "each value at most once") { v in
        guard let items = v.arrayValue else { return nil }
        var seen = Set<String>()
        for (i, item) in items.enumerated() {
            if let s = item.stringValue, !seen.insert(s).inserted { return ConfigIssue("\(ConfigValue.quote(s)) is listed twice", at: ["[\(i)]"]) }
        }
        return nil
    }

    static let endpointRule = ConfigRule.custom(allowed: "https://host[:port]/path (http:// only with allow_insecure_http = true)") { v in
        guard let s = v.stringValue else { return nil }
        guard let c = URLComponents(string: s), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty else {
            return ConfigIssue("\(ConfigValue.quote(s)) is not an absolute URL")
        }
        guard scheme == "https" || scheme == "http" else { return ConfigIssue("scheme \"\(scheme)\" is not supported") }
        if c.user != nil || c.password != nil { return ConfigIssue("credentials in the URL are not allowed; use client_cert") }
        if c.fragment != nil { return ConfigIssue("a URL fragment (#…) is not allowed") }
        return nil
    }

    static let pinnedKeyRule = ConfigRule.custom(allowed: "sha256//BASE64[;sha256//BASE64…]") { v in
        guard let s = v.stringValue else { return nil }
        for pin in s.split(separator: ";", omittingEmptySubsequences: false) {
            let p = pin.trimmingCharacters(in: .whitespaces)
            guard p.hasPrefix("sha256//"), let hash = Data(base64Encoded: String(p.dropFirst(8))), hash.count == 32 else {
                return ConfigIssue("\(ConfigValue.quote(String(pin))) is not sha256// followed by a base64 SHA-256 (44 characters)")
            }
        }
        return nil
    }

    static let asciiPatternRule = ConfigRule.custom(allowed: "a regular expression with (?<object>…) and (?<ambient>…) groups") { v in
        guard let s = v.stringValue else { return nil }
        guard (try? NSRegularExpression(pattern: s)) != nil else {
            return ConfigIssue("\(ConfigValue.quote(s)) does not compile as a regular expression")
        }
        var missing: [String] = []
        for group in ["object", "ambient"] where !s.contains("(?<\(group)>") {
            missing.append(group)
        }
        if !missing.isEmpty { return ConfigIssue("has no named group \(missing.map { "(?<\($0)>…)" }.joined(separator: " or "))") }
        return nil
    }
}

extension CheckpointConfigSchema {
    /// The schema's default for `key` of table `table` ("queue", "max_bytes"): the one definition of that default,
    /// for tools that use a setting without a configuration file.
    public static func defaultValue(table: String, key: String) -> ConfigValue? {
        root.tables.first { $0.name == table }?.keys.first { $0.name == key }?.defaultValue
    }
}

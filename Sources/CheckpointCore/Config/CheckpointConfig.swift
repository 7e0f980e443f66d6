import Foundation
import Logging

/// The daemon's validated configuration. Built only from a file that passed every check (see `ConfigLoader`);
/// relative paths are already absolute (resolved against the config file's directory).
public struct CheckpointConfig: Sendable {
    /// The main file this was read from.
    public var file: String
    /// The merged document (main file and drop-ins), for the file and line of each key.
    public var document: TOMLDocument
    /// The validated tables with every default applied (what the typed sections below are built from).
    public var resolved: ResolvedTable
    /// Every file read, in the order applied (the main file, then its drop-ins).
    public var files: [String] { document.sources.map(\.file) }
    /// Where `path` (e.g. `["api", "socket_group"]`) is set, for a FILE:LINE message.
    public func location(of path: [String]) -> (file: String, line: Int) { document.location(for: path) }
    public var kiosk: Kiosk
    public var camera: Camera
    public var detector: Detector
    public var tracking: Tracking
    public var snapshot: Snapshot
    public var thermal: Thermal
    public var screening: Screening
    public var api: API
    public var ui: UI
    public var upload: Upload
    public var heartbeat: Heartbeat
    public var monitoring: Monitoring
    public var queue: Queue
    public var logging: Logging
    /// The calibration file named by `thermal.calibration`, validated too.
    public var calibration: CalibrationFile

    public struct Kiosk: Sendable, Equatable {
        public var checkpointID: String
        public var deviceID: String
    }

    public struct Camera: Sendable, Equatable {
        public enum Source: String, Sendable { case v4l2, replay }
        /// One pixel-format type for config and capture.
        public typealias PixelFormat = CameraPixelFormat
        public var source: Source
        public var device: String
        public var replayPath: String?
        public var replayFPS: Double
        public var formats: [PixelFormat]
        public var width: Int
        public var height: Int
        public var fps: Int
        public var buffers: Int
        public var frameTimeoutMilliseconds: Int
        public var controls: Controls

        public struct Controls: Sendable, Equatable {
            public enum ExposureMode: String, Sendable {
                case auto, manual
                case shutterPriority = "shutter_priority"
                case aperturePriority = "aperture_priority"
            }
            public enum PowerLineFrequency: String, Sendable {
                case disabled
                case hz50 = "50hz"
                case hz60 = "60hz"
            }
            public var exposureMode: ExposureMode?
            /// In units of 100 µs (V4L2 exposure_time_absolute).
            public var exposureAbsolute: Int?
            public var whiteBalanceAuto: Bool?
            public var whiteBalanceTemperatureKelvin: Int?
            public var gain: Int?
            public var powerLineFrequency: PowerLineFrequency?
        }
    }

    public struct Detector: Sendable, Equatable {
        public var modelPath: String
        public var modelSHA256: String?
        public var fallbackCascadePath: String
        public var detectionWidth: Int
        public var detectionHeight: Int
        public var scoreThreshold: Double
        public var nmsThreshold: Double
        public var threads: Int
        public var verifySize: Int
        public var proposalScoreThreshold: Double
        public var verifyMargin: Double
        public var maxProposals: Int
        public var verifyAbove: Double
        public var nearestFaceMeters: Double
        public var farthestFaceMeters: Double
        public var flipBelow: Double
    }

    public struct Tracking: Sendable, Equatable {
        public var iouThreshold: Double
        public var stableFrames: Int
        public var minDistanceMeters: Double
        public var maxDistanceMeters: Double
        public var focalLengthPixels: Double
        public var minSharpness: Double
        public var maxAsymmetry: Double
        public var personRangeMeters: Double
    }

    public struct Snapshot: Sendable, Equatable {
        public var jpegQuality: Int
        public var maxBytes: Int
        /// Fraction of the face box added on each side.
        public var margin: Double
    }

    public struct Thermal: Sendable, Equatable {
        /// One sensor-model type for config and driver (an ascii-line model carries its pattern).
        public typealias Model = ThermalModel
        public enum Baud: Sendable, Equatable {
            case auto
            case fixed(Int)
        }
        public var model: Model
        public var port: String
        public var baud: Baud
        public var calibrationPath: String
        public var warmupMinutes: Int
        public var frameRateHz: Double
        /// Only for `.asciiLine`: a regex with named groups `object` and `ambient` (`thermal.ascii_pattern`).
        public var asciiPattern: String? {
            if case .asciiLine(let pattern) = model { return pattern }
            return nil
        }
    }

    public struct Screening: Sendable, Equatable {
        public var elevatedC: Double
        public var frames: Int
        public var topN: Int
        public var minFacePixels: Int
        /// How long a decided screening can be claimed by a declaration.
        public var declarationHoldSeconds: Int
        public var plausibleMinC: Double
        public var plausibleMaxC: Double
    }

    public struct API: Sendable, Equatable {
        public var socketPath: String
        public var socketMode: Int
        public var socketGroup: String?
        /// 0 = no TCP listener; otherwise 127.0.0.1 only.
        public var tcpPort: Int
        public var maxBodyBytes: Int
        public var idleTimeoutSeconds: Int
        public var maxConnections: Int
        public var maxConcurrentDeclarations: Int
    }

    public struct UI: Sendable, Equatable {
        public var enabled: Bool
        /// Absolute directory of the screen's static files.
        public var dir: String
        public var preview: Bool
        public var previewFPS: Int
        public var previewWidth: Int
        /// Read health QR codes from the camera while the screen's declaration step asks (`GET /v1/qr/events`).
        public var qrScan: Bool
    }

    public struct Upload: Sendable, Equatable {
        public var endpoint: String
        public var allowInsecureHTTP: Bool
        public var caFile: String?
        /// `sha256//…` pins (curl's PINNEDPUBLICKEY format), ';'-separated.
        public var pinnedPublicKey: String?
        public var clientCert: String?
        public var clientKey: String?
        public var connectTimeoutSeconds: Int
        public var totalTimeoutSeconds: Int
        public var lowSpeedLimitBytesPerSecond: Int
        public var lowSpeedTimeSeconds: Int
        public var backoffMaxSeconds: Int
        public var retryAfterMaxSeconds: Int
    }

    public struct Heartbeat: Sendable, Equatable {
        public var enabled: Bool
        public var intervalSeconds: Int
    }

    public struct Monitoring: Sendable, Equatable {
        public var stillEnabled: Bool
        public var blurFaces: Bool
    }

    public struct Queue: Sendable, Equatable {
        public var databasePath: String
        public var maxBytes: Int
        public var minFreeBytes: Int
        public var faceDropFraction: Double
        public var faceRetentionHours: Int
        public var uploadedRetentionHours: Int
    }

    public struct Logging: Sendable, Equatable {
        public var level: Logger.Level
    }

    /// A short human summary of what the daemon would run, one line per section.
    public var summary: [String] {
        var lines: [String] = []
        lines.append("kiosk: checkpoint \(kiosk.checkpointID), device \(kiosk.deviceID)")
        switch camera.source {
        case .v4l2:
            lines.append(
                "camera: v4l2 \(camera.device) \(camera.width)x\(camera.height) @ \(camera.fps) fps, formats \(camera.formats.map(\.configName).joined(separator: ",")), \(camera.buffers) buffers")
        case .replay:
            lines.append("camera: replay \(camera.replayPath ?? "-") @ \(camera.replayFPS) fps")
        }
        lines.append(
            "detector: \(detector.modelPath) at \(detector.detectionWidth)x\(detector.detectionHeight)\(detector.verifySize > 0 ? ", proposals >= \(detector.proposalScoreThreshold) verified on \(detector.verifySize)x\(detector.verifySize) crops" : ""), score >= \(detector.scoreThreshold), fallback \(detector.fallbackCascadePath)")
        lines.append(
            "tracking: \(tracking.stableFrames) stable frames, distance \(tracking.minDistanceMeters)..\(tracking.maxDistanceMeters) m")
        let baud: String
        switch thermal.baud {
        case .auto: baud = "auto"
        case .fixed(let b): baud = String(b)
        }
        lines.append(
            "thermal: \(thermal.model.name) on \(thermal.port) (baud \(baud), \(thermal.frameRateHz) Hz, warm-up \(thermal.warmupMinutes) min)")
        lines.append(
            "calibration: \(calibration.record.id) for \(calibration.sensor.model) serial \(calibration.sensor.serial), by \(calibration.record.calibratedBy) at \(calibration.record.calibratedAt) (\(thermal.calibrationPath))")
        lines.append(
            "screening: elevated >= \(screening.elevatedC) °C, plausible \(screening.plausibleMinC)..\(screening.plausibleMaxC) °C, \(screening.frames) frames")
        lines.append(
            "api: \(api.socketPath) mode \(String(api.socketMode, radix: 8))" + (api.tcpPort > 0 ? ", 127.0.0.1:\(api.tcpPort)" : ""))
        if api.tcpPort > 0 && ui.enabled {
            lines.append("ui: \(ui.dir) at http://127.0.0.1:\(api.tcpPort)/ui/" + (ui.preview ? ", preview \(ui.previewWidth) px @ \(ui.previewFPS) fps" : ", no preview")
                         + (ui.qrScan ? ", QR scan" : ", no QR scan"))
        }
        lines.append("upload: \(upload.endpoint)" + (upload.caFile.map { " (CA \($0))" } ?? "") + (upload.clientCert != nil ? " with client certificate" : ""))
        lines.append("monitoring: " + (monitoring.stillEnabled ? "stills on request, faces \(monitoring.blurFaces ? "blurred" : "NOT blurred")" : "stills off"))
        lines.append(
            "queue: \(queue.databasePath), max \(queue.maxBytes) bytes, keep \(queue.minFreeBytes) bytes free")
        lines.append("logging: \(logging.level.rawValue)")
        return lines
    }
}

extension CheckpointConfig {
    /// Builds the typed config from validated tables; only called when validation found no problem.
    init(document: TOMLDocument, resolved r: ResolvedTable, calibration: CalibrationFile) {
        let k = r[table: "kiosk"], c = r[table: "camera"], d = r[table: "detector"]
        let t = r[table: "tracking"], s = r[table: "snapshot"], th = r[table: "thermal"], sc = r[table: "screening"]
        let a = r[table: "api"], ui = r[table: "ui"], u = r[table: "upload"], q = r[table: "queue"], l = r[table: "logging"]
        self.file = document.file
        self.document = document
        self.resolved = r
        self.calibration = calibration
        // Every value comes from the validated document, defaults included: no literal default lives here.
        kiosk = Kiosk(k)
        camera = Camera(c)
        detector = Detector(d)
        tracking = Tracking(t)
        snapshot = Snapshot(s)
        thermal = Thermal(th)
        screening = Screening(sc)
        api = API(a)
        self.ui = UI(ui)
        upload = Upload(u)
        heartbeat = Heartbeat(r[table: "heartbeat"])
        monitoring = Monitoring(r[table: "monitoring"])
        queue = Queue(q)
        logging = Logging(l)
    }
}

// MARK: One builder per section, from its validated table (defaults applied by the validator from the schema).

private let str = \ConfigValue.stringValue, int = \ConfigValue.intValue, dbl = \ConfigValue.doubleValue, bool = \ConfigValue.boolValue

extension CheckpointConfig.Kiosk {
    public init(_ k: ResolvedTable) {
        self.init(checkpointID: k.get("checkpoint_id", str), deviceID: k.get("device_id", str))
    }
}

extension CheckpointConfig.Camera {
    public init(_ c: ResolvedTable) {
        let cc = c[table: "controls"]
        self.init(
            source: Source(rawValue: c.get("source", str))!,
            device: c.requiredPath("device"),
            replayPath: c.path("replay_path"),
            replayFPS: c.get("replay_fps", dbl),
            formats: (c.strings("formats") ?? []).compactMap(PixelFormat.init(name:)),
            width: c.get("width", int), height: c.get("height", int), fps: c.get("fps", int),
            buffers: c.get("buffers", int), frameTimeoutMilliseconds: c.get("frame_timeout_ms", int),
            controls: Controls(
                exposureMode: cc.string("exposure_mode").flatMap(Controls.ExposureMode.init(rawValue:)),
                exposureAbsolute: cc.int("exposure_absolute"),
                whiteBalanceAuto: cc.bool("white_balance_auto"),
                whiteBalanceTemperatureKelvin: cc.int("white_balance_temperature"),
                gain: cc.int("gain"),
                powerLineFrequency: cc.string("power_line_frequency").flatMap(Controls.PowerLineFrequency.init(rawValue:))))
    }
}

extension CheckpointConfig.Detector {
    public init(_ d: ResolvedTable) {
        self.init(
            modelPath: d.requiredPath("model"), modelSHA256: d.string("model_sha256")?.lowercased(),
            fallbackCascadePath: d.requiredPath("fallback_cascade"),
            detectionWidth: d.get("detection_width", int), detectionHeight: d.get("detection_height", int),
            scoreThreshold: d.get("score_threshold", dbl), nmsThreshold: d.get("nms_threshold", dbl),
            threads: d.get("threads", int), verifySize: d.get("verify_size", int),
            proposalScoreThreshold: d.get("proposal_score_threshold", dbl), verifyMargin: d.get("verify_margin", dbl),
            maxProposals: d.get("max_proposals", int), verifyAbove: d.get("verify_above", dbl),
            nearestFaceMeters: d.get("nearest_face_m", dbl), farthestFaceMeters: d.get("farthest_face_m", dbl),
            flipBelow: d.get("flip_below", dbl))
    }
    /// The schema's defaults (`checkpointctl detect` runs the daemon's scheme with them).
    public static var defaults: Self { Self(CheckpointConfigSchema.defaults[table: "detector"]) }
}

extension CheckpointConfig.Tracking {
    public init(_ t: ResolvedTable) {
        self.init(
            iouThreshold: t.get("iou_threshold", dbl), stableFrames: t.get("stable_frames", int),
            minDistanceMeters: t.get("min_distance_m", dbl), maxDistanceMeters: t.get("max_distance_m", dbl),
            focalLengthPixels: t.get("focal_length_px", dbl), minSharpness: t.get("min_sharpness", dbl),
            maxAsymmetry: t.get("max_asymmetry", dbl), personRangeMeters: t.get("person_range_m", dbl))
    }
    /// The schema's defaults.
    public static var defaults: Self { Self(CheckpointConfigSchema.defaults[table: "tracking"]) }
}

extension CheckpointConfig.Snapshot {
    public init(_ s: ResolvedTable) {
        self.init(jpegQuality: s.get("jpeg_quality", int), maxBytes: s.get("max_bytes", int), margin: s.get("margin", dbl))
    }
    /// The schema's defaults.
    public static var defaults: Self { Self(CheckpointConfigSchema.defaults[table: "snapshot"]) }
}

extension CheckpointConfig.Thermal {
    public init(_ th: ResolvedTable) {
        self.init(
            model: Self.model(th.get("model", str), pattern: th.string("ascii_pattern")), port: th.requiredPath("port"),
            baud: th.int("baud").map { .fixed($0) } ?? .auto, calibrationPath: th.requiredPath("calibration"),
            warmupMinutes: th.get("warmup_minutes", int),
            frameRateHz: th.get("frame_rate_hz", dbl))
    }

    /// A validated model name (one of `ThermalModel.names`) as the driver's model.
    static func model(_ name: String, pattern: String?) -> Model {
        do { return try Model(name: name, linePattern: pattern) } catch {
            preconditionFailure("thermal.model \(name) passed validation but is not a ThermalModel: \(error)")
        }
    }
}

extension CheckpointConfig.Screening {
    public init(_ sc: ResolvedTable) {
        self.init(
            elevatedC: sc.get("elevated_c", dbl), frames: sc.get("frames", int), topN: sc.get("top_n", int),
            minFacePixels: sc.get("min_face_pixels", int), declarationHoldSeconds: sc.get("declaration_hold_seconds", int),
            plausibleMinC: sc.get("plausible_min_c", dbl), plausibleMaxC: sc.get("plausible_max_c", dbl))
    }
}

extension CheckpointConfig.API {
    public init(_ a: ResolvedTable) {
        self.init(
            socketPath: a.requiredPath("socket"), socketMode: a.get("socket_mode", int),
            socketGroup: a.string("socket_group"), tcpPort: a.get("tcp_port", int),
            maxBodyBytes: a.get("max_body_bytes", int), idleTimeoutSeconds: a.get("idle_timeout_seconds", int),
            maxConnections: a.get("max_connections", int), maxConcurrentDeclarations: a.get("max_concurrent_declarations", int))
    }
    /// The schema's defaults.
    public static var defaults: Self { Self(CheckpointConfigSchema.defaults[table: "api"]) }
}

extension CheckpointConfig.UI {
    public init(_ ui: ResolvedTable) {
        self.init(
            enabled: ui.get("enabled", bool), dir: ui.requiredPath("dir"),
            preview: ui.get("preview", bool), previewFPS: ui.get("preview_fps", int), previewWidth: ui.get("preview_width", int),
            qrScan: ui.get("qr_scan", bool))
    }
}

extension CheckpointConfig.Upload {
    public init(_ u: ResolvedTable) {
        self.init(
            endpoint: u.get("endpoint", str), allowInsecureHTTP: u.get("allow_insecure_http", bool),
            caFile: u.path("ca_file"), pinnedPublicKey: u.string("pinned_public_key"), clientCert: u.path("client_cert"), clientKey: u.path("client_key"),
            connectTimeoutSeconds: u.get("connect_timeout_s", int), totalTimeoutSeconds: u.get("total_timeout_s", int),
            lowSpeedLimitBytesPerSecond: u.get("low_speed_limit_bps", int),
            lowSpeedTimeSeconds: u.get("low_speed_time_s", int), backoffMaxSeconds: u.get("backoff_max_s", int),
            retryAfterMaxSeconds: u.get("retry_after_max_s", int))
    }
}

extension CheckpointConfig.Heartbeat {
    public init(_ h: ResolvedTable) {
        self.init(enabled: h.get("enabled", bool), intervalSeconds: h.get("interval_s", int))
    }
}

extension CheckpointConfig.Monitoring {
    public init(_ m: ResolvedTable) {
        self.init(stillEnabled: m.get("still_enabled", bool), blurFaces: m.get("blur_faces", bool))
    }
}

extension CheckpointConfig.Queue {
    public init(_ q: ResolvedTable) {
        self.init(
            databasePath: q.requiredPath("database"), maxBytes: q.get("max_bytes", int),
            minFreeBytes: q.get("min_free_bytes", int), faceDropFraction: q.get("face_drop_fraction", dbl),
            faceRetentionHours: q.get("face_retention_hours", int),
            uploadedRetentionHours: q.get("uploaded_retention_hours", int))
    }
    /// The schema's defaults.
    public static var defaults: Self { Self(CheckpointConfigSchema.defaults[table: "queue"]) }
}

extension CheckpointConfig.Logging {
    public init(_ l: ResolvedTable) {
        self.init(level: Logger.Level(rawValue: l.get("level", str))!)
    }
}

extension CheckpointConfigSchema {
    /// Every table with only the schema's defaults (what a file that sets nothing gets), for the domain types'
    /// own defaults (`FaceReadinessConfig()`, `CameraSettings()`, …) and tools run without a configuration.
    public static let defaults: ResolvedTable = {
        var v = ConfigValidator(document: TOMLDocument(file: defaultPath, root: [:], locator: TOMLKeyLocator(source: "")))
        return v.validate(root)
    }()
}

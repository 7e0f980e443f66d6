import Foundation

/// One thermal sensor's calibration file (`/etc/checkpointd/calibration/<sensor>.toml`).
///
/// The correction applied to a raw sensor temperature `T_raw` (°C) is, in this order:
///
///     T = fit.gain · T_raw + fit.offset                       (blackbody fit)
///       + ambient.coefficient · (T_ambient − ambient.reference_c)
///       + distance_offset(Z)                                  (piecewise linear in distance.table, clamped at the ends)
///       + body.skin_to_body_offset_c
///
/// Registration maps a camera pixel (x, y) to thermal pixels with the row-major homography `H` fitted at
/// `nominal_distance_m` (Z₀), then shifts along the camera–sensor baseline (thermal x axis) by
/// `parallax_px_m · (1/Z − 1/Z₀)` thermal pixels, Z in metres. For a pinhole pair the disparity is `f·B/Z`, so
/// `parallax_px_m ≈ f_thermal_px · baseline_m` in magnitude (BAB 55°: 30.7 px × 0.025 m ≈ 0.77 px·m); its sign depends
/// on which side of the camera the sensor sits and is measured by the two-distance fit, not assumed.
public struct CalibrationFile: Sendable, Equatable {
    public struct Sensor: Sendable, Equatable {
        public var model: String
        public var serial: String
        public var emissivity: Double
        public init(model: String, serial: String, emissivity: Double = 0.98) {
            self.model = model
            self.serial = serial
            self.emissivity = emissivity
        }
    }

    public enum Method: String, Sendable, Equatable {
        case twoPoint = "2-point"
        case nPoint = "n-point"
    }

    public struct Record: Sendable, Equatable {
        public var id: String
        public var calibratedBy: String
        public var calibratedAt: ConfigDateTime
        public var method: Method
        public init(id: String, calibratedBy: String, calibratedAt: ConfigDateTime, method: Method) {
            self.id = id
            self.calibratedBy = calibratedBy
            self.calibratedAt = calibratedAt
            self.method = method
        }
    }

    public struct BlackbodyPoint: Sendable, Equatable {
        /// What the sensor read (°C).
        public var rawC: Double
        /// The blackbody's reference temperature (°C).
        public var referenceC: Double
        public init(rawC: Double, referenceC: Double) {
            self.rawC = rawC
            self.referenceC = referenceC
        }
    }

    public struct Fit: Sendable, Equatable {
        public var gain: Double
        public var offset: Double
        public var points: [BlackbodyPoint]
        public var residualRMSC: Double
        public var maxResidualC: Double
        public init(gain: Double, offset: Double, points: [BlackbodyPoint], residualRMSC: Double, maxResidualC: Double) {
            self.gain = gain
            self.offset = offset
            self.points = points
            self.residualRMSC = residualRMSC
            self.maxResidualC = maxResidualC
        }

        /// RMS and maximum absolute residual of `gain·raw + offset − reference` over the points (°C).
        public static func residuals(gain: Double, offset: Double, points: [BlackbodyPoint]) -> (rms: Double, max: Double) {
            guard !points.isEmpty else { return (0, 0) }
            let r = points.map { gain * $0.rawC + offset - $0.referenceC }
            let rms = (r.map { $0 * $0 }.reduce(0, +) / Double(r.count)).squareRoot()
            return (rms, r.map(abs).max() ?? 0)
        }
    }

    public struct Ambient: Sendable, Equatable {
        /// °C of correction per °C of ambient above `referenceC`.
        public var coefficient: Double
        public var referenceC: Double
        public init(coefficient: Double = 0, referenceC: Double = 25) {
            self.coefficient = coefficient
            self.referenceC = referenceC
        }
    }

    public struct DistanceOffset: Sendable, Equatable {
        public var distanceM: Double
        public var offsetC: Double
        public init(distanceM: Double, offsetC: Double) {
            self.distanceM = distanceM
            self.offsetC = offsetC
        }
    }

    public struct Registration: Sendable, Equatable {
        /// 3×3 row-major homography, camera pixels → thermal pixels at `nominalDistanceM`.
        public var homography: [Double]
        public var nominalDistanceM: Double
        public var baselineM: Double
        /// Thermal pixels of shift along x per (1/Z − 1/Z₀) m⁻¹, i.e. px·m.
        public var parallaxPxM: Double
        public init(homography: [Double], nominalDistanceM: Double, baselineM: Double, parallaxPxM: Double) {
            self.homography = homography
            self.nominalDistanceM = nominalDistanceM
            self.baselineM = baselineM
            self.parallaxPxM = parallaxPxM
        }
    }

    public struct Reference: Sendable, Equatable {
        public var enabled: Bool
        /// x, y, width, height in thermal pixels.
        public var region: [Int]
        public var temperatureC: Double
        public var maxNoiseC: Double
        public init(enabled: Bool = false, region: [Int] = [0, 0, 2, 2], temperatureC: Double = 35, maxNoiseC: Double = 0.5) {
            self.enabled = enabled
            self.region = region
            self.temperatureC = temperatureC
            self.maxNoiseC = maxNoiseC
        }
    }

    public var sensor: Sensor
    public var record: Record
    public var fit: Fit
    public var ambient: Ambient
    /// Strictly increasing distance; empty = no distance correction.
    public var distance: [DistanceOffset]
    public var skinToBodyOffsetC: Double
    public var registration: Registration
    public var reference: Reference
    /// `[audit] history`: one line per change or validation, oldest first.
    public var history: [String] = []

    public init(
        sensor: Sensor, record: Record, fit: Fit, ambient: Ambient = Ambient(), distance: [DistanceOffset] = [],
        skinToBodyOffsetC: Double, registration: Registration, reference: Reference = Reference()
    ) {
        self.sensor = sensor
        self.record = record
        self.fit = fit
        self.ambient = ambient
        self.distance = distance
        self.skinToBodyOffsetC = skinToBodyOffsetC
        self.registration = registration
        self.reference = reference
    }

    /// Whether the file is a shipped example rather than this sensor's calibration: its sensor serial or its
    /// calibration id contains "example" (any case). Such a file is refused for screening ("not calibrated").
    public var isExample: Bool { Self.marksExample(sensor.serial) || Self.marksExample(record.id) }

    static func marksExample(_ s: String) -> Bool { s.lowercased().contains("example") }

    /// Largest thermal frame any supported sensor has (MLX90640: 32×24); reference regions must fit inside it.
    public static let maxThermalWidth = 32
    public static let maxThermalHeight = 24

    // MARK: Schema

    public static let schema = ConfigTable(
        "", doc: "checkpointd thermal sensor calibration",
        keys: [],
        tables: [
            ConfigTable(
                "sensor", doc: "The sensor this file belongs to.",
                keys: [
                    Schema.choice("model", nil, CheckpointConfigSchema.thermalModels, required: true, "Sensor model; must match thermal.model in checkpointd.toml."),
                    Schema.string("serial", .required, rules: [Schema.nonEmpty("the sensor's serial number or label")], "Serial number (or asset label) of the sensor."),
                    Schema.num("emissivity", 0.98, 0.90, 1.00, unit: "ratio", "Emissivity set in the sensor; human skin is 0.98 (ISO/TR 13154).").restart(),
                ]),
            ConfigTable(
                "calibration", doc: "Who calibrated, when and how.",
                keys: [
                    Schema.string("id", .required, rules: [Schema.identifier], "Identifier of this calibration, recorded with every reading."),
                    Schema.string("calibrated_by", .required, rules: [Schema.nonEmpty("a technician name or ID")], "Technician who calibrated."),
                    ConfigKey("calibrated_at", .offsetDateTime, .required, doc: "When the calibration was made (with UTC offset)."),
                    Schema.choice("method", nil, ["2-point", "n-point"], required: true, "2-point: two blackbody points, exact fit; n-point: least squares over 3 or more points."),
                ]),
            ConfigTable(
                "fit", doc: "Blackbody fit: corrected = gain × raw + offset.",
                keys: [
                    Schema.num("gain", nil, 0.5, 2.0, unit: "°C/°C", required: true, "Slope of the fit."),
                    Schema.num("offset", nil, -20, 20, unit: "°C", required: true, "Intercept of the fit."),
                    ConfigKey(
                        "points", .array(of: .array(of: .float, count: 2...2), count: 2...32), .required,
                        rules: [.range(-20, 100)], unit: "°C",
                        doc: "Blackbody points [raw_c, reference_c]: sensor reading and blackbody temperature."),
                    Schema.num("residual_rms_c", nil, 0, 5, unit: "°C", required: true, "RMS of gain × raw + offset − reference over the points (fit quality)."),
                    Schema.num("max_residual_c", nil, 0, 5, unit: "°C", required: true, "Largest absolute residual over the points."),
                ]),
            ConfigTable(
                "ambient", doc: "Ambient temperature compensation.",
                keys: [
                    Schema.num("coefficient", 0, -1, 1, unit: "°C/°C", "Correction per °C of sensor ambient above reference_c."),
                    Schema.num("reference_c", 25, 0, 50, unit: "°C", "Sensor ambient temperature during calibration."),
                ]),
            ConfigTable(
                "distance", doc: "Distance compensation (readings fall with distance).",
                keys: [
                    ConfigKey(
                        "table", .array(of: .array(of: .float, count: 2...2), count: 0...32), .defaulted(.array([])),
                        rules: [increasingDistance], unit: "m, °C",
                        doc: "Points [distance_m, offset_c]: offset added at that face distance; linear in between, clamped outside; [] = none."),
                ]),
            ConfigTable(
                "body", doc: "Skin-to-body conversion.",
                keys: [
                    Schema.num("skin_to_body_offset_c", nil, -1, 5, unit: "°C", required: true, "Constant added to the corrected skin temperature to estimate body temperature."),
                ]),
            ConfigTable(
                "registration", doc: "Camera-to-thermal pixel mapping.",
                keys: [
                    ConfigKey(
                        "homography", .array(of: .float, count: 9...9), .required, rules: [homographyRule],
                        doc: "3×3 homography, row-major, camera pixels → thermal pixels at nominal_distance_m."),
                    Schema.num("nominal_distance_m", nil, 0.2, 3, unit: "m", required: true, "Distance the homography was fitted at."),
                    Schema.num("baseline_m", 0.025, 0, 0.5, unit: "m", "Distance between the camera and thermal sensor centres."),
                    Schema.num("parallax_px_m", 0, -100, 100, unit: "px·m", "Thermal x shift per (1/Z − 1/nominal_distance_m), Z in m; ≈ thermal focal length (px) × baseline_m."),
                ]),
            ConfigTable(
                "reference", doc: "Optional in-scene blackbody reference for per-frame drift correction.",
                keys: [
                    Schema.bool("enabled", false, "Use the reference; a reading without a valid reference is then rejected."),
                    ConfigKey(
                        "region", .array(of: .integer, count: 4...4), .defaulted(.array([.integer(0), .integer(0), .integer(2), .integer(2)])),
                        rules: [regionRule], unit: "thermal px",
                        doc: "Reference region [x, y, width, height] in the thermal frame."),
                    Schema.num("temperature_c", 35, 30, 50, unit: "°C", "Set-point of the reference blackbody."),
                    Schema.num("max_noise_c", 0.5, 0.01, 2, unit: "°C", "Reject frames whose reference-region standard deviation exceeds this."),
                ]),
            ConfigTable(
                "audit", doc: "What was changed in this file, when and by whom (appended by checkpointctl calibrate; never personal data).",
                keys: [
                    ConfigKey(
                        "history", .array(of: .string, count: 0...512), .defaulted(.array([])),
                        doc: "One line per change or validation, oldest first: date-time, command, technician, result."),
                ]),
        ])

    static let increasingDistance = ConfigRule.custom(allowed: "distances 0.02..5 m, strictly increasing; offsets -10..10 °C") { v in
        guard let rows = v.arrayValue else { return nil }
        var previous: Double?
        for (i, row) in rows.enumerated() {
            guard let pair = row.arrayValue, pair.count == 2, let d = pair[0].doubleValue, let o = pair[1].doubleValue else { continue }
            if d < 0.02 || d > 5 { return ConfigIssue("distance \(ConfigValue.formatFloat(d)) m is out of range", at: ["[\(i)]"]) }
            if o < -10 || o > 10 { return ConfigIssue("offset \(ConfigValue.formatFloat(o)) °C is out of range", at: ["[\(i)]"]) }
            if let p = previous, d <= p {
                return ConfigIssue("distance \(ConfigValue.formatFloat(d)) m is not greater than the previous \(ConfigValue.formatFloat(p)) m", at: ["[\(i)]"])
            }
            previous = d
        }
        return nil
    }

    static let homographyRule = ConfigRule.custom(allowed: "9 finite numbers forming an invertible matrix") { v in
        let h = v.arrayValue?.compactMap(\.doubleValue) ?? []
        guard h.count == 9 else { return nil }
        if h.contains(where: { !$0.isFinite }) { return ConfigIssue("contains a non-finite number") }
        let det = h[0] * (h[4] * h[8] - h[5] * h[7]) - h[1] * (h[3] * h[8] - h[5] * h[6]) + h[2] * (h[3] * h[7] - h[4] * h[6])
        if abs(det) < 1e-12 { return ConfigIssue("is singular (determinant 0)") }
        return nil
    }

    static let regionRule = ConfigRule.custom(allowed: "[x, y, width, height] inside the 32×24 thermal frame, width and height ≥ 1") { v in
        let r = v.arrayValue?.compactMap(\.intValue) ?? []
        guard r.count == 4 else { return nil }
        if r[0] < 0 || r[1] < 0 || r[2] < 1 || r[3] < 1 || r[0] + r[2] > maxThermalWidth || r[1] + r[3] > maxThermalHeight {
            return ConfigIssue("[\(r.map(String.init).joined(separator: ", "))] is not inside the thermal frame")
        }
        return nil
    }

    // MARK: Reading

    /// Parses calibration TOML text; every problem is reported with `file` and its line.
    public static func parse(_ text: String, file: String, expectedModel: String? = nil) throws(ConfigError) -> CalibrationFile {
        let document: TOMLDocument
        switch TOMLDocument.parse(text, file: file) {
        case .success(let d): document = d
        case .failure(let e): throw e
        }
        return try validate(document, expectedModel: expectedModel)
    }

    /// Reads and parses a calibration file.
    public static func load(path: String, expectedModel: String? = nil) throws(ConfigError) -> CalibrationFile {
        let document: TOMLDocument
        switch TOMLDocument.load(path: path) {
        case .success(let d): document = d
        case .failure(let e): throw e
        }
        return try validate(document, expectedModel: expectedModel)
    }

    static func validate(_ document: TOMLDocument, expectedModel: String?) throws(ConfigError) -> CalibrationFile {
        var v = ConfigValidator(document: document)
        let r = v.validate(schema)
        let sensor = r[table: "sensor"], cal = r[table: "calibration"], fit = r[table: "fit"]

        if let expectedModel, let model = sensor.string("model"), model != expectedModel {
            v.report(["sensor", "model"], "\(ConfigValue.quote(model)) does not match thermal.model \(ConfigValue.quote(expectedModel)) in the daemon config", allowed: ConfigValue.quote(expectedModel))
        }
        if let method = cal.string("method").flatMap(Method.init(rawValue:)), let points = fit.pairs("points") {
            if method == .twoPoint && points.count != 2 {
                v.report(["fit", "points"], "method \"2-point\" needs exactly 2 points, found \(points.count)", allowed: "2 points for \"2-point\", 3..32 for \"n-point\"")
            }
            if method == .nPoint && points.count < 3 {
                v.report(["fit", "points"], "method \"n-point\" needs at least 3 points, found \(points.count)", allowed: "2 points for \"2-point\", 3..32 for \"n-point\"")
            }
        }
        if let points = fit.pairs("points"), Set(points.map(\.0)).count < 2 {
            v.report(["fit", "points"], "needs at least two different raw temperatures", allowed: "points at two or more blackbody temperatures")
        }
        if let gain = fit.double("gain"), let offset = fit.double("offset"), let pairs = fit.pairs("points") {
            let points = pairs.map { BlackbodyPoint(rawC: $0.0, referenceC: $0.1) }
            let (rms, maxAbs) = Fit.residuals(gain: gain, offset: offset, points: points)
            if let stated = fit.double("residual_rms_c"), abs(stated - rms) > residualTolerance(rms) {
                v.report(["fit", "residual_rms_c"], "\(ConfigValue.formatFloat(stated)) does not match gain, offset and points (recomputed \(String(format: "%.3f", rms)) °C); refit or correct it", allowed: "the recomputed value ± \(residualTolerance(rms))")
            }
            if let stated = fit.double("max_residual_c"), abs(stated - maxAbs) > residualTolerance(maxAbs) {
                v.report(["fit", "max_residual_c"], "\(ConfigValue.formatFloat(stated)) does not match gain, offset and points (recomputed \(String(format: "%.3f", maxAbs)) °C); refit or correct it", allowed: "the recomputed value ± \(residualTolerance(maxAbs))")
            }
        }
        guard v.diagnostics.isEmpty else { throw ConfigError(v.diagnostics) }
        return CalibrationFile(resolved: r)
    }

    /// Stated residuals may be rounded: accept 0.01 °C or 2 % of the value, whichever is larger.
    static func residualTolerance(_ value: Double) -> Double { max(0.01, value * 0.02) }

    init(resolved r: ResolvedTable) {
        let s = r[table: "sensor"], c = r[table: "calibration"], f = r[table: "fit"], a = r[table: "ambient"]
        let g = r[table: "registration"], ref = r[table: "reference"]
        sensor = Sensor(model: s.string("model") ?? "", serial: s.string("serial") ?? "", emissivity: s.double("emissivity") ?? 0.98)
        record = Record(
            id: c.string("id") ?? "", calibratedBy: c.string("calibrated_by") ?? "",
            calibratedAt: c.dateTime("calibrated_at") ?? ConfigDateTime(kind: .offsetDateTime),
            method: c.string("method").flatMap(Method.init(rawValue:)) ?? .twoPoint)
        fit = Fit(
            gain: f.double("gain") ?? 1, offset: f.double("offset") ?? 0,
            points: (f.pairs("points") ?? []).map { BlackbodyPoint(rawC: $0.0, referenceC: $0.1) },
            residualRMSC: f.double("residual_rms_c") ?? 0, maxResidualC: f.double("max_residual_c") ?? 0)
        ambient = Ambient(coefficient: a.double("coefficient") ?? 0, referenceC: a.double("reference_c") ?? 25)
        distance = (r[table: "distance"].pairs("table") ?? []).map { DistanceOffset(distanceM: $0.0, offsetC: $0.1) }
        skinToBodyOffsetC = r[table: "body"].double("skin_to_body_offset_c") ?? 0
        registration = Registration(
            homography: g.doubles("homography") ?? [], nominalDistanceM: g.double("nominal_distance_m") ?? 0.5,
            baselineM: g.double("baseline_m") ?? 0.025, parallaxPxM: g.double("parallax_px_m") ?? 0)
        reference = Reference(
            enabled: ref.bool("enabled") ?? false, region: ref.ints("region") ?? [0, 0, 2, 2],
            temperatureC: ref.double("temperature_c") ?? 35, maxNoiseC: ref.double("max_noise_c") ?? 0.5)
        history = r[table: "audit"].strings("history") ?? []
    }

    // MARK: Writing

    /// The values as a TOML table tree (schema key names).
    public var values: [String: ConfigValue] {
        func f(_ d: Double) -> ConfigValue { .float(d) }
        return [
            "sensor": .table(["model": .string(sensor.model), "serial": .string(sensor.serial), "emissivity": f(sensor.emissivity)]),
            "calibration": .table([
                "id": .string(record.id), "calibrated_by": .string(record.calibratedBy),
                "calibrated_at": .dateTime(record.calibratedAt), "method": .string(record.method.rawValue),
            ]),
            "fit": .table([
                "gain": f(fit.gain), "offset": f(fit.offset),
                "points": .array(fit.points.map { .array([f($0.rawC), f($0.referenceC)]) }),
                "residual_rms_c": f(fit.residualRMSC), "max_residual_c": f(fit.maxResidualC),
            ]),
            "ambient": .table(["coefficient": f(ambient.coefficient), "reference_c": f(ambient.referenceC)]),
            "distance": .table(["table": .array(distance.map { .array([f($0.distanceM), f($0.offsetC)]) })]),
            "body": .table(["skin_to_body_offset_c": f(skinToBodyOffsetC)]),
            "registration": .table([
                "homography": .array(registration.homography.map(f)), "nominal_distance_m": f(registration.nominalDistanceM),
                "baseline_m": f(registration.baselineM), "parallax_px_m": f(registration.parallaxPxM),
            ]),
            "reference": .table([
                "enabled": .boolean(reference.enabled), "region": .array(reference.region.map { .integer($0) }),
                "temperature_c": f(reference.temperatureC), "max_noise_c": f(reference.maxNoiseC),
            ]),
            "audit": .table(["history": .array(history.map { .string($0) })]),
        ]
    }

    /// A complete TOML file with a comment on every key (meaning, unit, allowed values); `parse` reads it back equal.
    public func render() -> String {
        ConfigDocumentWriter.render(
            schema: Self.schema, values: values,
            header: [
                "checkpointd calibration for sensor \(sensor.model) serial \(sensor.serial).",
                "Written by checkpointctl calibrate or by hand; checked by `checkpointd --check-config`.",
                "Procedure and formulas: calibration/README.md (installed in /usr/share/doc/checkpointd/).",
                "Corrected body temperature = gain × raw + offset + ambient.coefficient × (T_ambient − ambient.reference_c)",
                "                             + distance offset(Z) + body.skin_to_body_offset_c",
            ])
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl calibrate thermal|registration`: guided blackbody calibration, validation, and camera→thermal registration.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate", abstract: "Calibrate the thermal sensor and the camera-to-thermal registration.",
        subcommands: [Thermal.self, RegistrationCommand.self, Distance.self, SkinToBody.self, Report.self])

    static func say(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    static func f2(_ v: Double) -> String { String(format: "%.2f", v) }
    static func f3(_ v: Double) -> String { String(format: "%.3f", v) }

    static func nowStamp() -> (ConfigDateTime, String) {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let dt = ConfigDateTime(kind: .offsetDateTime, year: Int(tmv.tm_year) + 1900, month: Int(tmv.tm_mon) + 1, day: Int(tmv.tm_mday),
                                hour: Int(tmv.tm_hour), minute: Int(tmv.tm_min), second: Int(tmv.tm_sec), offsetMinutes: 0)
        let id = String(format: "cal-%04d%02d%02d-%02d%02d%02d", dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
        return (dt, id)
    }

    static func loadCalibration(_ path: String) throws -> CalibrationFile {
        do { return try CalibrationFile.load(path: path) } catch {
            throw CtlError.config("\(error)\ncalibration file \(path) is not valid")
        }
    }

    /// How the technician applies a calibration written to the file the daemon uses.
    static func applyHint(_ target: String, daemon: DaemonConfigOption) {
        let inUse = FileManager.default.fileExists(atPath: daemon.config)
            ? (try? daemon.load(forDefaultsOf: ["--calibration"]).thermal.calibrationPath) : nil
        if let inUse, (inUse as NSString).standardizingPath == (target as NSString).standardizingPath {
            print("apply it: systemctl reload checkpointd (the daemon checks the file and keeps the old one if it is not valid)")
        } else {
            print("the daemon uses \(inUse ?? "the file its thermal.calibration names"); point thermal.calibration at \(target), then: systemctl reload checkpointd")
        }
    }

    static func write(_ file: CalibrationFile, to path: String) throws {
        try AtomicFileWriter.write(file.render(), to: path, mode: 0o644)
        _ = try loadCalibration(path)  // read back what was written: it must validate
    }

    // MARK: thermal

    struct Thermal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "thermal",
            abstract: "Guided 2-point or N-point blackbody calibration (or --validate: report bias and RMS, change nothing).",
            discussion: """
                For each --set-point the technician sets the blackbody, presses Enter, and N frames are averaged over
                --region. The fit (gain, offset) and its residuals are shown and the calibration file is written atomically.
                """)

        @OptionGroup var connection: SensorCommand.Connection
        @Option(name: .customLong("set-point"), help: "Blackbody temperature, °C (repeat: at least 2, e.g. 35 and 40).") var setPoints: [Double] = []
        @Option(help: "Frames averaged per set point.") var frames = 16
        @Option(help: "Blackbody region in thermal pixels: x,y,width,height (array sensors).") var region: String?
        @Option(name: .customLong("by"), help: "Technician name or ID, recorded in the file.") var technician: String?
        @Option(help: "Calibration id (default: cal-<UTC date-time>).") var id: String?
        @Option(help: "Sensor serial number or asset label (default: from --calibration).") var serial: String?
        @Option(help: "Existing calibration file: the base for the new one, and the one --validate checks (default: the configuration's thermal.calibration).")
        var calibration: String?
        @Option(help: "Where to write the new calibration (default: --calibration).") var output: String?
        @Flag(name: .customLong("skip-warmup-check"), help: "Do not wait for the sensor's own temperature to settle first.") var skipWarmupCheck = false
        @Option(name: .customLong("warmup-timeout"), help: "Give up waiting for the sensor to settle after this many minutes.") var warmupTimeout = 20.0
        @Option(name: .customLong("skin-to-body-offset-c"), help: "Skin-to-body offset when there is no base file, °C.") var skinToBody = 0.0
        @Option(name: .customLong("camera-size"), help: "Camera WIDTHxHEIGHT for the default registration when there is no base file.") var cameraSize = "640x480"
        @Flag(help: "Measure against the blackbody with the existing calibration; report bias and RMS; write nothing.") var validate = false
        @Flag(name: .customLong("no-wait"), help: "Do not wait for Enter at each set point (scripted use); wait --settle seconds instead.") var noWait = false
        @Option(help: "Seconds to wait after each set point is confirmed before averaging.") var settle = 0.5

        func validateArguments() throws -> (Int, Int, Int, Int)? {
            guard frames >= 2 else { throw ValidationError("--frames must be at least 2 (the noise needs more than one frame)") }
            if validate {
                guard !setPoints.isEmpty else { throw ValidationError("--validate needs at least one --set-point") }
            } else {
                guard setPoints.count >= 2 else { throw ValidationError("a calibration needs at least 2 --set-point values, got \(setPoints.count)") }
                guard Set(setPoints).count == setPoints.count else { throw ValidationError("--set-point values must differ") }
                guard technician?.isEmpty == false else { throw ValidationError("--by NAME is required: the file records who calibrated") }

            }
            guard let region else { return nil }
            let parts = region.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 4, let x = parts[0], let y = parts[1], let w = parts[2], let h = parts[3], x >= 0, y >= 0, w >= 1, h >= 1 else {
                throw ValidationError("--region must be x,y,width,height in thermal pixels (e.g. 27,19,3,3), not '\(region)'")
            }
            return (x, y, w, h)
        }

        /// The calibration file: --calibration, else the daemon's (thermal.calibration), else none (a first calibration).
        func calibrationPath() throws -> String? {
            if let calibration { return calibration }
            let config = connection.daemon.config
            guard FileManager.default.fileExists(atPath: config) else { return nil }
            return try connection.daemon.load(forDefaultsOf: ["--calibration"]).thermal.calibrationPath
        }

        func run() async throws {
            let regionBox = try validateArguments()
            let calibration = try calibrationPath()
            if validate, calibration == nil { throw ValidationError("--validate needs --calibration FILE (or --config), the calibration to check") }
            guard validate || output != nil || calibration != nil else {
                throw ValidationError("--output FILE is required when there is no --calibration (or --config) file to replace")
            }
            let base = try calibration.map(loadCalibration)
            var linkConfig = try connection.linkConfig()
            if let base, connection.emissivity == nil { linkConfig.emissivity = base.sensor.emissivity }
            let link = ThermalSensorLink(config: linkConfig)
            let stream = link.start()
            defer { link.stop() }
            let stdin = DedicatedThread(name: "calibrate-stdin")
            defer { stdin.stop() }
            var iterator = stream.makeAsyncIterator()
            if !skipWarmupCheck { try await Self.waitForWarmUp(&iterator, timeoutMinutes: warmupTimeout) }
            var located: BlackbodyLocator.Found?

            var measured: [(setPoint: Double, raw: Double, temporalNoise: Double, spatialNoise: Double, ambient: Double)] = []
            for (index, setPoint) in setPoints.enumerated() {
                say("[\(index + 1)/\(setPoints.count)] Set the blackbody to \(f2(setPoint)) °C and aim the sensor at it"
                    + (region.map { " (region \($0))" } ?? "") + ".")
                if noWait {
                    try await Task.sleep(for: .seconds(settle))
                } else {
                    say("    Press Enter when the blackbody is stable.")
                    let line = try await stdin.run { readLine() }
                    guard line != nil else { throw CtlError.runtime("standard input closed before set point \(f2(setPoint)) °C was confirmed") }
                    try await Task.sleep(for: .seconds(settle))
                }
                let since = monotonicNanos()
                var box = regionBox
                if box == nil, case .gyMCU90640 = linkConfig.model {
                    let found = try await Self.locateBlackbody(&iterator, since: since)
                    if let previous = located, abs(previous.x - found.x) > 1 || abs(previous.y - found.y) > 1 {
                        say("    warning: the blackbody moved from (\(previous.x),\(previous.y)) to (\(found.x),\(found.y)) since the last set point")
                    }
                    located = found
                    box = (found.x, found.y, found.width, found.height)
                }
                var means: [Double] = [], sds: [Double] = [], ambients: [Double] = []
                while means.count < frames {
                    guard let event = await iterator.next() else { throw CtlError.runtime("the sensor link ended") }
                    switch event {
                    case .status(let s): say("    sensor: \(s)")
                    case .emissivity(let e): say("    sensor emissivity read back: \(e)")
                    case .frame(let frame, _):
                        guard frame.monotonicNanos >= since else { continue }  // only frames after the blackbody settled
                        let stats = try Self.regionStats(frame, box)
                        means.append(stats.mean)
                        sds.append(stats.sd)
                        ambients.append(frame.ambientC)
                        // A bar redrawn in place on a terminal; piped, one line when the set point is done.
                        if isatty(STDERR_FILENO) == 1 {
                            let done = means.count * 30 / frames
                            FileHandle.standardError.write(Data("\r    [\(String(repeating: "#", count: done))\(String(repeating: "-", count: 30 - done))] \(means.count)/\(frames)".utf8))
                        }
                    }
                }
                if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
                let raw = means.reduce(0, +) / Double(means.count)
                let temporal = (means.reduce(0) { $0 + ($1 - raw) * ($1 - raw) } / Double(means.count - 1)).squareRoot()
                let spatial = sds.reduce(0, +) / Double(sds.count)
                let ambient = ambients.reduce(0, +) / Double(ambients.count)
                say("    blackbody \(f2(setPoint)) °C: sensor reads \(f3(raw)) °C, noise \(f3(temporal)) °C frame-to-frame, \(f3(spatial)) °C across the region")
                measured.append((setPoint, raw, temporal, spatial, ambient))
            }
            link.stop()

            if validate, let base {
                let cal = try ThermalCalibration(base)
                print("validation of calibration \(base.record.id) (nothing is changed)")
                print("set_point_c  raw_c     corrected_c  error_c")
                var errors: [Double] = []
                for m in measured {
                    let s = cal.correct(rawC: m.raw, ambientC: m.ambient, distanceM: 0)
                    let corrected = s.fittedC + s.ambientTermC  // a blackbody is not skin: no distance or skin-to-body terms
                    errors.append(corrected - m.setPoint)
                    print(String(format: "%-12.2f %-9.3f %-12.3f %+.3f", m.setPoint, m.raw, corrected, corrected - m.setPoint))
                }
                let bias = errors.reduce(0, +) / Double(errors.count)
                let rms = (errors.reduce(0) { $0 + $1 * $1 } / Double(errors.count)).squareRoot()
                print("bias \(String(format: "%+.3f", bias)) °C  rms \(f3(rms)) °C  over \(errors.count) set point(s)")
                if let technician, !technician.isEmpty, let calibration {
                    var file = base
                    file.history.append("\(CalibrateCommand.nowStamp().0) validate by \(technician): bias \(String(format: "%+.3f", bias)) °C, rms \(f3(rms)) °C "
                                        + "at \(measured.map { f2($0.setPoint) }.joined(separator: ", ")) °C")
                    try CalibrateCommand.write(file, to: calibration)
                    print("validation recorded in \(calibration) ([audit] history)")
                }
                return
            }

            let fit: LinearFit
            do { fit = try LinearFit.fit(measured.map { .init(rawC: $0.raw, referenceC: $0.setPoint) }) } catch {
                throw CtlError.runtime("\(error)")
            }
            print("fit: corrected = \(String(format: "%.5f", fit.gain)) × raw \(fit.offset >= 0 ? "+" : "−") \(String(format: "%.4f", abs(fit.offset))) °C")
            print("set_point_c  raw_c     fitted_c  residual_c")
            for (p, r) in zip(fit.points, fit.residuals) {
                print(String(format: "%-12.2f %-9.3f %-9.3f %+.3f", p.referenceC, p.rawC, p.referenceC - r, r))
            }
            print("residual rms \(f3(fit.residualRMSC)) °C, max \(f3(fit.maxResidualC)) °C")

            let (now, defaultID) = CalibrateCommand.nowStamp()
            let ambientRef = measured.reduce(0) { $0 + $1.ambient } / Double(measured.count)
            guard let sensorSerial = serial ?? base?.sensor.serial else {
                throw ValidationError("--serial is required when there is no --calibration base file")
            }
            let sizes = cameraSize.split(separator: "x").compactMap { Int($0) }
            guard sizes.count == 2 else { throw ValidationError("--camera-size must be WIDTHxHEIGHT, not '\(cameraSize)'") }
            let defaultRegistration = Registration.sharedFieldOfView(cameraWidth: sizes[0], cameraHeight: sizes[1])
            var file = base ?? CalibrationFile(
                sensor: .init(model: linkConfig.model.name, serial: sensorSerial),
                record: .init(id: defaultID, calibratedBy: "", calibratedAt: now, method: .twoPoint),
                fit: .init(gain: 1, offset: 0, points: [], residualRMSC: 0, maxResidualC: 0),
                skinToBodyOffsetC: skinToBody,
                registration: .init(homography: defaultRegistration.homography.m, nominalDistanceM: defaultRegistration.nominalDistanceM,
                                    baselineM: 0.025, parallaxPxM: 0))
            file.sensor.model = linkConfig.model.name
            file.sensor.serial = sensorSerial
            if let e = linkConfig.emissivity { file.sensor.emissivity = e }
            file.record = .init(id: id ?? defaultID, calibratedBy: technician ?? "", calibratedAt: now, method: fit.points.count == 2 ? .twoPoint : .nPoint)
            file.fit = .init(gain: fit.gain, offset: fit.offset, points: fit.points.map { .init(rawC: $0.rawC, referenceC: $0.referenceC) },
                             residualRMSC: fit.residualRMSC, maxResidualC: fit.maxResidualC)
            file.ambient.referenceC = (ambientRef * 100).rounded() / 100
            file.history.append("\(now) thermal \(file.record.method.rawValue) by \(file.record.calibratedBy): \(file.record.id), gain \(String(format: "%.5f", fit.gain)), "
                                + "offset \(String(format: "%.4f", fit.offset)) °C, residual rms \(f3(fit.residualRMSC)) °C"
                                + (located.map { ", blackbody found at (\($0.x),\($0.y))" } ?? ""))
            let target = output ?? calibration!
            try CalibrateCommand.write(file, to: target)
            print("wrote calibration \(file.record.id) by \(file.record.calibratedBy) to \(target)")
            CalibrateCommand.applyHint(target, daemon: connection.daemon)
        }

        /// Waits until the sensor's own (die) temperature has settled: a sensor still warming up drifts, and a fit
        /// taken then is wrong once it is warm. Settled = the ambient moves less than 0.1 °C over 20 frames.
        static func waitForWarmUp(_ iterator: inout AsyncStream<SensorEvent>.Iterator, timeoutMinutes: Double) async throws {
            let deadline = monotonicNanos() + UInt64(timeoutMinutes * 60e9)
            var window: [Double] = []
            var told = false
            while monotonicNanos() < deadline {
                guard let event = await iterator.next() else { throw CtlError.runtime("the sensor link ended") }
                guard case .frame(let frame, _) = event else {
                    if case .status(let s) = event { say("    sensor: \(s)") }
                    continue
                }
                window.append(frame.ambientC)
                if window.count > 20 { window.removeFirst() }
                guard window.count == 20 else { continue }
                let drift = window.max()! - window.min()!
                if drift < 0.1 {
                    say("sensor warm: its temperature \(f2(window.last!)) °C is steady (±\(f2(drift / 2)) °C over 20 frames)")
                    return
                }
                if !told {
                    say("the sensor is still warming up (its temperature moved \(f2(drift)) °C over 20 frames); waiting for it to settle…")
                    told = true
                }
            }
            throw CtlError.runtime("the sensor did not settle within \(Int(timeoutMinutes)) minutes; check its power and airflow (or --skip-warmup-check)")
        }

        /// Finds the blackbody on the mean of 4 frames taken after the set point settled, and shows it on the thermal map.
        static func locateBlackbody(_ iterator: inout AsyncStream<SensorEvent>.Iterator, since: UInt64) async throws -> BlackbodyLocator.Found {
            var frames: [ThermalFrame] = []
            while frames.count < 4 {
                guard let event = await iterator.next() else { throw CtlError.runtime("the sensor link ended") }
                if case .frame(let f, _) = event, f.monotonicNanos >= since { frames.append(f) }
            }
            var mean = frames[0]
            for i in mean.pixels.indices { mean.pixels[i] = frames.reduce(0) { $0 + $1.pixels[i] } / Float(frames.count) }
            switch BlackbodyLocator().locate(in: mean) {
            case .failure(let problem):
                for line in BlackbodyLocator.map(mean, marking: nil) { say("      " + line) }
                throw CtlError.runtime("\(problem)")
            case .success(let found):
                for line in BlackbodyLocator.map(mean, marking: found) { say("      " + line) }
                say("    blackbody found at x=\(found.x) y=\(found.y) (\(found.width)×\(found.height) px, # on the map), "
                    + "\(f2(found.contrastC)) °C from its surroundings")
                return found
            }
        }

        static func regionStats(_ frame: ThermalFrame, _ box: (Int, Int, Int, Int)?) throws -> (mean: Double, sd: Double) {
            if frame.isSinglePoint { return (Double(frame.pixels[0]), 0) }
            guard let (x, y, w, h) = box else { throw ValidationError("--region x,y,width,height is required for a \(frame.width)×\(frame.height) array sensor") }
            let r = ReferenceRegion(x: x, y: y, width: w, height: h, temperatureC: 0)
            guard let s = r.statistics(in: frame) else {
                throw ValidationError("--region \(x),\(y),\(w),\(h) does not fit in the \(frame.width)×\(frame.height) frame")
            }
            return (s.mean, s.sd)
        }
    }

    // MARK: volunteers: distance and skin-to-body

    /// What `calibrate distance` and `calibrate skin-to-body` share: the volunteers' readings and the file to update.
    struct VolunteerOptions: ParsableArguments {
        @OptionGroup var daemon: DaemonConfigOption
        @Option(name: .customLong("reading"), help: "distance_m,kiosk_c,clinical_c: a volunteer at that distance, the kiosk's reading, the clinical thermometer's (repeat).")
        var readings: [String] = []
        @Option(name: .customLong("readings-file"), help: "A file of readings, one distance_m,kiosk_c,clinical_c per line; # starts a comment.")
        var readingsFile: String?
        @Option(help: "The calibration file to update (default: the configuration's thermal.calibration).") var calibration: String?
        @Option(help: "Write the updated calibration here instead of replacing it.") var output: String?
        @Option(name: .customLong("by"), help: "Technician name or ID, recorded in the file's audit history.") var technician: String
        @Flag(name: .customLong("dry-run"), help: "Show the fit; write nothing.") var dryRun = false

        func validate() throws {
            guard !technician.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--by NAME must not be empty") }
            guard !readings.isEmpty || readingsFile != nil else { throw ValidationError("give --reading d,kiosk,clinical (repeat) or --readings-file FILE") }
        }

        func parsed() throws -> [VolunteerCalibration.Reading] {
            var lines = readings.map { ("--reading", $0) }
            if let readingsFile {
                guard let text = try? String(contentsOfFile: readingsFile, encoding: .utf8) else { throw CtlError.runtime("cannot read --readings-file \(readingsFile)") }
                for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let line = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
                    if !line.isEmpty { lines.append(("\(readingsFile):\(i + 1)", line)) }
                }
            }
            return try lines.map { (place, line) in
                let v = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard v.count == 3, let d = v[0], let k = v[1], let c = v[2] else {
                    throw ValidationError("\(place): '\(line)' is not distance_m,kiosk_c,clinical_c")
                }
                return VolunteerCalibration.Reading(distanceM: d, kioskC: k, clinicalC: c)
            }
        }

        func path() throws -> String {
            if let calibration { return calibration }
            return try daemon.load(forDefaultsOf: ["--calibration"]).thermal.calibrationPath
        }

        func save(_ file: CalibrationFile, from path: String) throws {
            if dryRun { print("dry run: nothing written"); return }
            let target = output ?? path
            try CalibrateCommand.write(file, to: target)
            print("wrote \(target) ([audit] history: \(file.history.last ?? ""))")
            CalibrateCommand.applyHint(target, daemon: daemon)
        }
    }

    static func pm(_ e: VolunteerCalibration.Estimate) -> String { "\(f2(e.value)) °C ± \(f2(e.ci95C)) (95 %, n = \(e.count), sd \(f2(e.sdC)))" }

    struct SkinToBody: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "skin-to-body",
            abstract: "Fit the skin-to-body offset from volunteers: the kiosk's reading beside a clinical thermometer's.",
            discussion: """
                Measure at least 5 (better 20) afebrile volunteers at the kiosk's usual distance, each with a clinical \
                thermometer at the same moment. The offset moves by the mean of clinical − kiosk; its 95 % interval is shown \
                and written to the file's audit history.
                """)
        @OptionGroup var options: VolunteerOptions

        func run() async throws {
            let path = try options.path()
            var file = try loadCalibration(path)
            let fit: VolunteerCalibration.SkinToBody
            do { fit = try VolunteerCalibration.skinToBody(try options.parsed(), current: file.skinToBodyOffsetC) } catch let e as CoreError {
                throw CtlError.runtime(e.message)
            }
            let value = (fit.offset.value * 100).rounded() / 100
            print("skin-to-body offset: \(f2(fit.previousC)) → \(pm(fit.offset))")
            guard (-1...5).contains(value) else {
                throw CtlError.runtime("the fitted offset \(f2(value)) °C is outside −1…5 °C: check the readings (kiosk and clinical columns swapped?)")
            }
            file.skinToBodyOffsetC = value
            file.history.append("\(nowStamp().0) skin-to-body by \(options.technician): \(f2(fit.previousC)) → \(pm(fit.offset))")
            try options.save(file, from: path)
        }
    }

    struct Distance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "distance",
            abstract: "Fit the distance table from volunteers measured at several distances beside a clinical thermometer.",
            discussion: """
                At least 3 readings at each of 2 or more distances (e.g. 0.3, 0.5, 0.8, 1.0 m). Each distance's offset moves \
                so that it reads like the reference distance (the one nearest the registration's nominal distance); the \
                overall level is the skin-to-body offset's (run calibrate skin-to-body after this).
                """)
        @OptionGroup var options: VolunteerOptions

        func run() async throws {
            let path = try options.path()
            var file = try loadCalibration(path)
            let current = try DistanceTable(file.distance.map { .init(distanceM: $0.distanceM, offsetC: $0.offsetC) })
            let fit: VolunteerCalibration.Distance
            do {
                fit = try VolunteerCalibration.distance(try options.parsed(), table: current, referenceDistanceM: file.registration.nominalDistanceM)
            } catch let e as CoreError {
                throw CtlError.runtime(e.message)
            }
            print("distance_m  previous_c  new_c   ± 95 %   n")
            for g in fit.groups {
                print(String(format: "%-11.2f %-11.2f %-7.2f %-8.2f %d", g.distanceM, g.previousOffsetC, g.offset.value, g.offset.ci95C, g.offset.count)
                      + (g.distanceM == fit.referenceDistanceM ? "  (reference)" : ""))
            }
            file.distance = fit.table.map { .init(distanceM: $0.distanceM, offsetC: ($0.offsetC * 100).rounded() / 100) }
            file.history.append("\(nowStamp().0) distance by \(options.technician): "
                                + fit.groups.map { "\(f2($0.distanceM)) m \(f2($0.previousOffsetC)) → \(f2($0.offset.value)) ± \(f2($0.offset.ci95C)) (n = \($0.offset.count))" }
                                    .joined(separator: "; "))
            try options.save(file, from: path)
        }
    }

    // MARK: report

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Render the calibration as one A4 page (PNG): sensor, who and when, the fit with its residuals, the distance table, the registration and the audit history.")
        @OptionGroup var daemon: DaemonConfigOption
        @Option(help: "The calibration file (default: the configuration's thermal.calibration).") var calibration: String?
        @Option(name: .long, help: "Output file (.png).") var out: String

        func validate() throws {
            guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must end in .png, got '\(out)'") }
        }

        func run() async throws {
            let path = try calibration ?? daemon.load(forDefaultsOf: ["--calibration"]).thermal.calibrationPath
            let file = try loadCalibration(path)
            let page = CalibrationReport.render(file)
            let png: [UInt8]
            do {
                png = try ImageCodec.encode(page.pixels, width: page.width, height: page.height, channels: 3, png: true, quality: 90)
            } catch {
                throw CtlError.runtime("cannot encode the report: \(error)")
            }
            do { try AtomicFileWriter.write(bytes: png, to: out, mode: 0o644) } catch { throw CtlError.runtime("cannot write \(out): \(error)") }
            print("wrote \(out): calibration \(file.record.id) of sensor \(file.sensor.serial), \(file.history.count) history line(s)")
        }
    }

    // MARK: registration

    struct RegistrationCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "registration",
            abstract: "Fit the camera→thermal homography (+ parallax) from a heated target, write it, and draw an overlay PNG.",
            discussion: """
                --auto, beside the running daemon: capture the empty view, then put a heated target (a disc at 40–60 °C on a
                thin stand) at several positions spread over the view; at each the target is found in the camera image and in
                the thermal frame (what changed since the empty view), giving one point pair. Type a distance in m at a
                position taken at another distance than --nominal-distance-m (those fit the parallax term).
                Or give the pairs: each --pair is camera_x,camera_y,thermal_x,thermal_y[,distance_m]: where the heated target
                appears in the camera image and in the thermal frame. Pairs at the nominal distance (or without a distance) fit
                the homography (≥ 4, not on one line); pairs at other distances fit the parallax term.
                """)

        @OptionGroup var daemon: DaemonAPIOption
        @Flag(help: "Find the target in the running daemon's camera and thermal images at each position (no pairs typed).") var auto = false
        @Option(help: "With --auto: target positions to take (at least 4; spread them over the view).") var positions = 6
        @Option(name: .customLong("pair"), help: "camera_x,camera_y,thermal_x,thermal_y[,distance_m] (repeat).") var pairs: [String] = []
        @Option(name: .customLong("pairs-file"), help: "A file of pairs, one per line, same format; # starts a comment.") var pairsFile: String?
        @Option(help: "The calibration file to update, its registration section (default: the configuration's thermal.calibration).") var calibration: String?
        @Option(help: "Write the updated calibration here instead of replacing --calibration.") var output: String?
        @Option(name: .customLong("nominal-distance-m"), help: "Distance the homography pairs were taken at, m.") var nominal = 0.5
        @Option(name: .customLong("baseline-m"), help: "Camera–sensor baseline, m.") var baseline = 0.025
        @Option(help: "Write the thermal-on-camera overlay PNG here.") var overlay: String?
        @Option(name: .customLong("camera-image"), help: "A camera still (JPEG/PNG) to draw the overlay on.") var cameraImage: String?
        @Option(name: .customLong("camera-size"), help: "Canvas WIDTHxHEIGHT when there is no --camera-image.") var cameraSize = "640x480"
        @Option(help: "Serial port to grab one thermal frame for the overlay.") var port: String?
        @Option(help: "Sensor model for --port (default: the configuration's [thermal] model).") var model: String?
        @Option(help: "Baud for --port, or auto (default: the configuration's [thermal] baud).") var baud: String?
        @Option(name: .customLong("by"), help: "Technician name or ID, recorded in the file's audit history.") var technician: String

        func validate() throws {
            guard !technician.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--by must name the technician") }
            if let baud, baud != "auto", ![9600, 115_200, 460_800].contains(Int(baud) ?? 0) {
                throw ValidationError("--baud must be 9600, 115200, 460800 or auto, not '\(baud)'")
            }
            if auto {
                guard pairs.isEmpty, pairsFile == nil else { throw ValidationError("--auto finds the pairs itself: give --auto or --pair/--pairs-file, not both") }
                guard positions >= 4 else { throw ValidationError("--positions must be at least 4 (a homography needs 4 points), not \(positions)") }
                guard port == nil, cameraImage == nil else { throw ValidationError("--auto draws the overlay from the daemon's images: drop --port and --camera-image") }
            } else if pairs.isEmpty && pairsFile == nil {
                throw ValidationError("give --auto (beside the running daemon), or the point pairs with --pair / --pairs-file")
            }
        }

        func parsePairs() throws -> [(Homography.Pair, Double?)] {
            var lines = pairs
            if let pairsFile {
                guard let text = try? String(contentsOfFile: pairsFile, encoding: .utf8) else { throw CtlError.runtime("cannot read --pairs-file \(pairsFile)") }
                lines += text.split(separator: "\n").map { String($0.split(separator: "#").first ?? "").trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            return try lines.enumerated().map { (i, line) in
                let v = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard (4...5).contains(v.count), v.allSatisfy({ $0?.isFinite == true }) else {
                    throw ValidationError("pair \(i + 1) '\(line)' is not camera_x,camera_y,thermal_x,thermal_y[,distance_m]")
                }
                if v.count == 5, v[4]! <= 0 { throw ValidationError("pair \(i + 1): distance must be > 0 m") }
                return (Homography.Pair(cameraX: v[0]!, cameraY: v[1]!, thermalX: v[2]!, thermalY: v[3]!), v.count == 5 ? v[4] : nil)
            }
        }

        func run() async throws {
            // The file first: a missing or broken calibration is found before the technician moves a target about.
            let path: String
            if let calibration { path = calibration } else { path = try daemon.daemon.load(forDefaultsOf: ["--calibration"]).thermal.calibrationPath }
            var file = try loadCalibration(path)
            let auto = self.auto ? try await AutoRegistration(link: daemon.link(), positions: positions, nominal: nominal).run() : nil
            let all = try auto?.pairs ?? parsePairs()
            let atNominal = all.filter { $0.1 == nil || abs($0.1! - nominal) < 1e-6 }.map(\.0)
            let others = all.compactMap { p, d -> (pair: Homography.Pair, distanceM: Double)? in
                guard let d, abs(d - nominal) >= 1e-6 else { return nil }
                return (p, d)
            }
            let h: Homography
            do { h = try Homography.fit(atNominal) } catch { throw CtlError.runtime("\(error)") }
            let k = Registration.fitParallax(homography: h, pairs: others, nominalDistanceM: nominal)
            let registration = try Registration(homography: h, nominalDistanceM: nominal, baselineM: baseline, parallaxPxM: k)
            print("homography (camera px → thermal px at \(nominal) m): \(h.m.map { String(format: "%.6g", $0) }.joined(separator: ", "))")
            print("parallax \(String(format: "%.4f", k)) px·m from \(others.count) pair(s) at other distances")
            print("camera_x  camera_y  thermal_x  thermal_y  distance_m  residual_px")
            var residuals: [Double] = []
            for (p, d) in all {
                let m = registration.map(x: p.cameraX, y: p.cameraY, distanceM: d ?? nominal)
                let r = ((m.x - p.thermalX) * (m.x - p.thermalX) + (m.y - p.thermalY) * (m.y - p.thermalY)).squareRoot()
                residuals.append(r)
                print(String(format: "%-9.1f %-9.1f %-10.2f %-10.2f %-11.2f %.3f", p.cameraX, p.cameraY, p.thermalX, p.thermalY, d ?? nominal, r))
            }
            let rms = (residuals.reduce(0) { $0 + $1 * $1 } / Double(residuals.count)).squareRoot()
            print("residual rms \(String(format: "%.3f", rms)) thermal px")

            file.registration = .init(homography: h.m, nominalDistanceM: nominal, baselineM: baseline, parallaxPxM: k)
            file.history.append("\(nowStamp().0) registration \(auto == nil ? "from pairs" : "auto") by \(technician): \(atNominal.count) pair(s) at "
                                + "\(nominal) m, \(others.count) at other distances, residual rms \(String(format: "%.3f", rms)) thermal px")
            let target = output ?? path
            try write(file, to: target)
            print("wrote registration to \(target)")

            if let overlay {
                let canvas = try auto.map { $0.canvas } ?? loadCanvas()
                let thermal: ThermalFrame?
                if let auto { thermal = auto.thermal } else { thermal = try await grabFrame() }
                let png = try OverlayRenderer.render(canvas: canvas, registration: registration, thermal: thermal, pairs: all.map(\.0))
                try AtomicFileWriter.write(bytes: png, to: overlay)
                print("wrote overlay \(overlay) (\(canvas.width)×\(canvas.height)\(thermal == nil ? ", no thermal frame: markers only" : ""))")
            }
            CalibrateCommand.applyHint(target, daemon: daemon.daemon)
        }

        func loadCanvas() throws -> OverlayRenderer.Canvas {
            if let cameraImage {
                guard let data = FileManager.default.contents(atPath: cameraImage) else { throw CtlError.runtime("cannot read --camera-image \(cameraImage)") }
                let img = try ImageCodec.decode(Array(data))
                guard img.channels == 3 else { throw ValidationError("--camera-image must be a colour image") }
                return OverlayRenderer.Canvas(width: img.width, height: img.height, pixels: img.pixels)
            }
            let s = cameraSize.split(separator: "x").compactMap { Int($0) }
            guard s.count == 2, s[0] > 0, s[1] > 0 else { throw ValidationError("--camera-size must be WIDTHxHEIGHT") }
            return OverlayRenderer.Canvas(width: s[0], height: s[1], pixels: [UInt8](repeating: 64, count: s[0] * s[1] * 3))
        }

        func grabFrame() async throws -> ThermalFrame? {
            guard let port else { return nil }
            // Model and baud as the daemon's configuration has them unless given: no second default lives here.
            var config: SensorLinkConfig
            if let model {
                config = SensorLinkConfig(path: port, model: try ThermalModel(name: model), emissivity: nil)
                if baud == nil, let c = try? daemon.daemon.load(forDefaultsOf: ["--baud"]) { config.baud = try SensorLinkConfig(c).baud }
            } else {
                config = try SensorLinkConfig(daemon.daemon.load(forDefaultsOf: ["--model"]))
                config.path = port
                config.emissivity = nil
            }
            if let baud { config.baud = Int(baud) }   // "auto": nil
            let link = ThermalSensorLink(config: config)
            defer { link.stop() }
            let deadline = monotonicNanos() + 10_000_000_000
            for await event in link.start() {
                if case .frame(let f, _) = event { return f }
                if monotonicNanos() > deadline { break }
            }
            throw CtlError.runtime("no thermal frame from \(port)")
        }
    }
}

/// Draws the thermal frame (false colour, half transparent) warped onto the camera image through the registration,
/// with the pairs marked: green = camera point, red = thermal point mapped back into the camera.
enum OverlayRenderer {
    /// Packed BGR pixels.
    struct Canvas {
        var width: Int
        var height: Int
        var pixels: [UInt8]
    }

    static func render(canvas: Canvas, registration: Registration, thermal: ThermalFrame?, pairs: [Homography.Pair]) throws -> [UInt8] {
        var px = canvas.pixels
        let w = canvas.width, h = canvas.height
        if let thermal {
            let lo = thermal.minC, hi = max(thermal.maxC, lo + 0.1)
            for y in 0..<h {
                for x in 0..<w {
                    let t = registration.homography.apply(x: Double(x) + 0.5, y: Double(y) + 0.5)
                    let tx = Int(t.x.rounded(.down)), ty = Int(t.y.rounded(.down))
                    guard tx >= 0, ty >= 0, tx < thermal.width, ty < thermal.height else { continue }
                    let v = (Double(thermal[tx, ty]) - lo) / (hi - lo)
                    let (b, g, r) = colour(v)
                    let i = (y * w + x) * 3
                    px[i] = UInt8((Int(px[i]) + Int(b)) / 2)
                    px[i + 1] = UInt8((Int(px[i + 1]) + Int(g)) / 2)
                    px[i + 2] = UInt8((Int(px[i + 2]) + Int(r)) / 2)
                }
            }
        }
        let inv = inverse(registration.homography.m)
        for p in pairs {
            cross(&px, w, h, Int(p.cameraX), Int(p.cameraY), (0, 255, 0))
            if let inv {
                let wz = inv[6] * p.thermalX + inv[7] * p.thermalY + inv[8]
                let cx = (inv[0] * p.thermalX + inv[1] * p.thermalY + inv[2]) / wz
                let cy = (inv[3] * p.thermalX + inv[4] * p.thermalY + inv[5]) / wz
                cross(&px, w, h, Int(cx), Int(cy), (0, 0, 255))
            }
        }
        return try ImageCodec.encode(px, width: w, height: h, channels: 3, png: true)
    }

    /// Blue → green → red ("iron"-ish) false colour, BGR.
    static func colour(_ v: Double) -> (UInt8, UInt8, UInt8) {
        let t = min(1, max(0, v))
        let r = UInt8(min(255, max(0, 255 * (2 * t - 0.5))))
        let g = UInt8(min(255, max(0, 255 * (1 - abs(2 * t - 1)))))
        let b = UInt8(min(255, max(0, 255 * (1 - 2 * t))))
        return (b, g, r)
    }

    static func cross(_ px: inout [UInt8], _ w: Int, _ h: Int, _ x: Int, _ y: Int, _ bgr: (UInt8, UInt8, UInt8)) {
        for d in -6...6 {
            for (xx, yy) in [(x + d, y), (x, y + d)] where xx >= 0 && yy >= 0 && xx < w && yy < h {
                let i = (yy * w + xx) * 3
                px[i] = bgr.0; px[i + 1] = bgr.1; px[i + 2] = bgr.2
            }
        }
    }

    static func inverse(_ m: [Double]) -> [Double]? {
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
        guard abs(det) > 1e-15 else { return nil }
        let adj = [
            m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
        ]
        return adj.map { $0 / det }
    }
}

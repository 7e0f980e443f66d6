import Logging

/// What the camera side tells the engine about faces (one event per detection pass).
public struct FacesInView: Sendable, Equatable {
    /// Identifies one person's visit; the engine emits exactly one result per session.
    public var sessionID: UInt64
    public var faceCount: Int
    /// The face to measure when `faceCount == 1` and it is ready (stable, frontal).
    public var face: FaceObservation?
    public var monotonicNanos: UInt64

    public init(sessionID: UInt64, faceCount: Int, face: FaceObservation?, monotonicNanos: UInt64) {
        self.sessionID = sessionID; self.faceCount = faceCount; self.face = face; self.monotonicNanos = monotonicNanos
    }
}

public struct ScreeningConfig: Sendable, Equatable {
    /// K: ready frames whose median makes one result.
    public var framesPerResult: Int = 5
    public var thresholds = ScreeningThresholds()
    /// A thermal frame is paired with a face event only if they are this close in time.
    public var maxFaceSkewMillis: Double = 400
    public var warmUpSeconds: Double = 1800
    public var measurement = MeasurementConfig()
    public var quality = FrameQualityConfig()
    /// Corrected temperatures a measured human face can have. Below it the eye band held no warm skin
    /// (hair, glasses, a hat, or nobody where the camera saw a face): the result is invalid, never
    /// "normal". Above it the result stays elevated (never hidden) and says the value is implausible.
    public var plausibleC: ClosedRange<Double>? = 34.0...42.5

    public init() {}
}

/// The engine's visible state, for `status` and metrics.
public struct ScreeningStatus: Sendable, Equatable {
    public var sensorAvailable: Bool
    public var warmUpRemainingSeconds: Double?
    public var lastRejection: String?
    public var framesUsed: UInt64
    public var framesRejected: UInt64
    public var pixelsRepaired: UInt64
}

/// Turns (face readiness events, thermal frames) into `ScreeningResult`s.
///
/// Feed it from one task/actor: `faces(_:)` for every detection pass, `thermal(_:nowNanos:)` for every frame,
/// `sensorAvailable`/`sensorUnavailable` when the link changes. Each returns a result when one is decided.
public struct ScreeningEngine: Sendable {
    public var config: ScreeningConfig
    public private(set) var calibration: ThermalCalibration
    public private(set) var measurer: EyeBandMeasurer
    public var sensor: SensorIdentity
    public private(set) var warmUp: WarmUpGate
    private var quality: FrameQualityFilter
    private var available = false
    private var current: FacesInView?
    private var finishedSession: UInt64?
    private var samples: [(m: ThermalMeasurement, stages: CorrectionStages, distance: Double)] = []
    private var tooFarFrames = 0
    private var lastRejection: String?
    private var framesUsed: UInt64 = 0
    private let logger: Logger

    public init(config: ScreeningConfig = ScreeningConfig(), calibration: ThermalCalibration, registration: Registration,
                sensor: SensorIdentity, logger: Logger = Logger(label: "checkpointd.screening")) {
        self.config = config
        self.calibration = calibration
        self.measurer = EyeBandMeasurer(config: config.measurement, registration: registration)
        self.sensor = sensor
        self.warmUp = WarmUpGate(durationSeconds: config.warmUpSeconds)
        self.quality = FrameQualityFilter(config: config.quality)
        self.logger = logger
    }

    public var statistic: String { "eye_band_top\(config.measurement.topN)_mean" }

    public func status(at nanos: UInt64) -> ScreeningStatus {
        ScreeningStatus(sensorAvailable: available, warmUpRemainingSeconds: warmUp.remainingSeconds(at: nanos),
                        lastRejection: lastRejection, framesUsed: framesUsed, framesRejected: quality.rejectedFrames,
                        pixelsRepaired: quality.repairedPixels)
    }

    /// Thermal frames collected for the session being measured, of the K that make a result; nil when nobody is
    /// being measured (no ready face, or its session already has its result).
    public var progress: ScreeningView.Progress? {
        guard let event = current, event.face != nil, event.faceCount == 1, event.sessionID != finishedSession else { return nil }
        return ScreeningView.Progress(frames: samples.count, needed: config.framesPerResult)
    }

    /// The link delivered its first frame after an open: the warm-up clock starts (a reconnect restarts it).
    public mutating func sensorAvailable(at nanos: UInt64) {
        if !available { warmUp.sensorStarted(at: nanos) }
        available = true
    }

    /// The link reports the sensor unavailable; a session in progress ends invalid.
    public mutating func sensorUnavailable(at nanos: UInt64) -> ScreeningResult? {
        available = false
        warmUp.sensorLost()
        guard let session = current?.sessionID, session != finishedSession else { return nil }
        return finish(invalid: .sensorUnavailable, detail: "the thermal sensor stopped delivering valid frames", session: session, at: nanos)
    }

    public mutating func faces(_ event: FacesInView) -> ScreeningResult? {
        if event.sessionID == finishedSession { return nil }
        if current?.sessionID != event.sessionID {
            samples.removeAll()
            tooFarFrames = 0
        }
        if event.faceCount > 1 {
            current = event
            return finish(invalid: .severalFaces, detail: "\(event.faceCount) faces in view; one person at a time", session: event.sessionID, at: event.monotonicNanos)
        }
        guard event.faceCount == 1, event.face != nil else {
            current = nil
            return nil
        }
        current = event
        if calibration.isExample {
            return finish(invalid: .notCalibrated,
                          detail: "not calibrated: calibration '\(calibration.id)' is an example; calibrate this kiosk's sensor (checkpointctl calibrate thermal)",
                          session: event.sessionID, at: event.monotonicNanos)
        }
        if !available {
            return finish(invalid: .sensorUnavailable, detail: "no thermal sensor is delivering frames", session: event.sessionID, at: event.monotonicNanos)
        }
        if let remaining = warmUp.remainingSeconds(at: event.monotonicNanos), remaining > 0 {
            return finish(invalid: .warmingUp, detail: "sensor warming up, \(Int(remaining.rounded(.up))) s left", session: event.sessionID, at: event.monotonicNanos)
        }
        return nil
    }

    public mutating func thermal(_ frame: ThermalFrame, nowNanos: UInt64) -> ScreeningResult? {
        sensorAvailable(at: frame.monotonicNanos)
        let checked: ThermalFrame
        switch quality.check(frame, nowNanos: nowNanos) {
        case .failure(let why):
            lastRejection = why.description
            logger.debug("thermal frame rejected", metadata: ["reason": "\(why)"])
            return nil
        case .success(let f): checked = f
        }
        guard let event = current, let face = event.face, event.sessionID != finishedSession else { return nil }
        let skew = Double(max(frame.monotonicNanos, event.monotonicNanos) - min(frame.monotonicNanos, event.monotonicNanos)) / 1e6
        guard skew <= config.maxFaceSkewMillis else { return nil }
        if let remaining = warmUp.remainingSeconds(at: frame.monotonicNanos), remaining > 0 {
            return finish(invalid: .warmingUp, detail: "sensor warming up, \(Int(remaining.rounded(.up))) s left", session: event.sessionID, at: frame.monotonicNanos)
        }
        let drift: Double
        switch calibration.referenceDrift(in: checked) {
        case .success(let d): drift = d
        case .failure(.missing(let why)):
            return finish(invalid: .referenceMissing, detail: why, session: event.sessionID, at: frame.monotonicNanos)
        case .failure(.noisy(let sd, let limit)):
            return finish(invalid: .referenceNoisy, detail: "reference region noise \(fmt(sd)) °C exceeds \(fmt(limit)) °C", session: event.sessionID, at: frame.monotonicNanos)
        }
        switch measurer.measure(face, in: checked) {
        case .failure(.notCentred):
            return nil
        case .failure(.tooFar(let px, let required)):
            tooFarFrames += 1
            if tooFarFrames >= config.framesPerResult {
                return finish(invalid: .tooFar, detail: "\(px) thermal pixels on the face, \(required) needed; distance \(fmt(face.distanceM)) m",
                              session: event.sessionID, at: frame.monotonicNanos, distance: face.distanceM)
            }
            return nil
        case .success(let m):
            let stages = calibration.correct(rawC: m.statisticC, ambientC: m.ambientC, distanceM: face.distanceM, referenceDriftC: drift)
            samples.append((m, stages, face.distanceM))
            framesUsed += 1
            if samples.count >= config.framesPerResult { return finishMeasured(session: event.sessionID, at: frame.monotonicNanos) }
            return nil
        }
    }

    private func fmt(_ v: Double) -> String { String(Int((v * 100).rounded())) .withDecimal }

    private mutating func finishMeasured(session: UInt64, at nanos: UInt64) -> ScreeningResult {
        let sorted = samples.sorted { $0.stages.correctedC < $1.stages.correctedC }
        let mid = sorted.count / 2
        let picks = sorted.count % 2 == 1 ? [sorted[mid]] : [sorted[mid - 1], sorted[mid]]
        func avg(_ f: (CorrectionStages) -> Double) -> Double { picks.reduce(0) { $0 + f($1.stages) } / Double(picks.count) }
        func med(_ f: (ThermalMeasurement) -> Double) -> Double {
            let v = samples.map { f($0.m) }.sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        }
        let stages = CorrectionStages(rawC: avg(\.rawC), fittedC: avg(\.fittedC), referenceDriftC: avg(\.referenceDriftC),
                                      ambientTermC: avg(\.ambientTermC), distanceTermC: avg(\.distanceTermC),
                                      skinToBodyC: avg(\.skinToBodyC), correctedC: avg(\.correctedC))
        let distance = picks.reduce(0) { $0 + $1.distance } / Double(picks.count)
        if let plausible = config.plausibleC, stages.correctedC < plausible.lowerBound {
            return finish(invalid: .implausible,
                          detail: "corrected \(fmt(stages.correctedC)) °C is below the plausible \(fmt(plausible.lowerBound)) °C: no warm skin in the eye band (hair, glasses, hat, or a face the sensor cannot see)",
                          session: session, at: nanos, distance: samples.last?.distance)
        }
        let outcome = ScreeningResult.outcome(correctedC: stages.correctedC, thresholds: config.thresholds)
        var detail: String?
        if let plausible = config.plausibleC, stages.correctedC > plausible.upperBound {
            detail = "implausibly high: corrected \(fmt(stages.correctedC)) °C is above \(fmt(plausible.upperBound)) °C (a hot object in view?); kept as elevated"
        }
        let result = ScreeningResult(
            outcome: outcome, invalidReason: nil, detail: detail, sessionID: session, rawC: stages.rawC, correctedC: stages.correctedC,
            stages: stages, statistic: statistic, maxC: med(\.maxC), meanC: med(\.meanC), p90C: med(\.p90C), frameCount: samples.count,
            ambientC: med(\.ambientC), distanceM: distance, emissivity: calibration.emissivity, calibrationID: calibration.id,
            sensor: sensor, thresholdC: config.thresholds.elevatedC, monotonicNanos: nanos)
        logger.info("screening result", metadata: [
            "outcome": "\(outcome.rawValue)", "raw_c": "\(stages.rawC)", "fitted_c": "\(stages.fittedC)",
            "reference_drift_c": "\(stages.referenceDriftC)", "ambient_term_c": "\(stages.ambientTermC)",
            "distance_term_c": "\(stages.distanceTermC)", "skin_to_body_c": "\(stages.skinToBodyC)",
            "corrected_c": "\(stages.correctedC)", "frames": "\(samples.count)", "calibration": "\(calibration.id)",
        ])
        end(session)
        return result
    }

    private mutating func finish(invalid reason: ScreeningResult.InvalidReason, detail: String, session: UInt64, at nanos: UInt64,
                                 distance: Double? = nil) -> ScreeningResult {
        logger.info("screening invalid", metadata: ["reason": "\(reason.rawValue)", "detail": "\(detail)"])
        let result = ScreeningResult(
            outcome: .invalid, invalidReason: reason, detail: detail, sessionID: session, rawC: nil, correctedC: nil, stages: nil,
            statistic: statistic, maxC: nil, meanC: nil, p90C: nil, frameCount: samples.count, ambientC: nil,
            distanceM: distance ?? current?.face?.distanceM, emissivity: calibration.emissivity, calibrationID: calibration.id,
            sensor: sensor, thresholdC: config.thresholds.elevatedC, monotonicNanos: nanos)
        end(session)
        return result
    }

    private mutating func end(_ session: UInt64) {
        finishedSession = session
        samples.removeAll()
        tooFarFrames = 0
    }
}

private extension String {
    /// "3650" → "36.50" (formats hundredths without Foundation).
    var withDecimal: String {
        let negative = hasPrefix("-")
        var digits = negative ? String(dropFirst()) : self
        while digits.count < 3 { digits = "0" + digits }
        return (negative ? "-" : "") + digits.dropLast(2) + "." + digits.suffix(2)
    }
}

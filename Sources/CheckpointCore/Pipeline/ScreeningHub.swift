import Foundation

/// Joins the face side (tracking, readiness, snapshots) and the thermal side (frames, sensor state)
/// into the one screening state the kiosk shows and the declaration API attaches.
///
/// It owns the `ScreeningEngine` (pure), so every face event and thermal frame passes through one
/// actor in arrival order. It never alters a result: the summary carries the engine's outcome,
/// values and flags as they are.
public actor ScreeningHub: ScreeningProvider {
    /// Encodes the best frame of a person's visit as a JPEG (an adapter: OpenCV's encoder).
    public typealias SnapshotEncoder = @Sendable (SnapshotCandidate) -> Data?
    /// Told about every decided result (logging, metrics, the demo's printout).
    public typealias ResultObserver = @Sendable (ScreeningResult, ScreeningCapture) -> Void
    /// Told how long each result took from the person being ready (metrics).
    public typealias TimingObserver = @Sendable (ScreeningTiming) -> Void

    public struct Options: Sendable {
        /// How long a result stays current after the person leaves the camera (the kiosk shows it, and a
        /// declaration posted in that window still gets it).
        public var resultHoldSeconds: Double = 20
        public init() {}
    }

    private var engine: ScreeningEngine
    private let options: Options
    private let encodeSnapshot: SnapshotEncoder
    private var observer: ResultObserver?
    private var timingObserver: TimingObserver?
    /// The session whose face became ready, and the monotonic time of the camera frame in which it first did.
    private var readySince: (session: UInt64, nanos: UInt64)?
    /// Arrival times of the latest thermal frames, for the sensor's measured frame period.
    private var thermalArrivals: [UInt64] = []
    private static let periodWindow = 9
    private var display: ScreeningState = .idle
    private var inView: UInt64?
    private var lastSeenNanos: UInt64 = 0
    private var latest: (session: UInt64, capture: ScreeningCapture, at: UInt64)?
    private var best: [UInt64: SnapshotCandidate] = [:]
    private var waiters: [UUID: CheckedContinuation<ScreeningCapture?, Never>] = [:]
    private let clock: @Sendable () -> UInt64
    private let wallClock: @Sendable () -> Date
    public private(set) var outcomes: [String: Int] = [:]

    public init(engine: ScreeningEngine, options: Options = Options(), clock: @escaping @Sendable () -> UInt64,
                wallClock: @escaping @Sendable () -> Date = { Date() }, encodeSnapshot: @escaping SnapshotEncoder) {
        self.engine = engine
        self.options = options
        self.clock = clock
        self.wallClock = wallClock
        self.encodeSnapshot = encodeSnapshot
    }

    public func setObserver(_ observer: ResultObserver?) { self.observer = observer }

    public func setTimingObserver(_ observer: TimingObserver?) { self.timingObserver = observer }

    /// The sensor's frame period: the mean interval over the latest frames' arrival times, if two have arrived.
    /// (The mean, not the median: a loaded machine delivers frames in bursts, which skews the median interval short.)
    public var thermalFramePeriodNanos: UInt64? {
        guard let first = thermalArrivals.first, let last = thermalArrivals.last, thermalArrivals.count >= 2, last >= first else { return nil }
        return (last - first) / UInt64(thermalArrivals.count - 1)
    }

    /// Replaces thresholds and calibration on reload; a session in progress restarts with the new engine.
    public func replaceEngine(_ newEngine: ScreeningEngine) { engine = newEngine }

    public func engineStatus() -> ScreeningStatus { engine.status(at: clock()) }

    // MARK: Inputs

    /// One detection pass: the readiness verdict for the frame, and the best snapshot candidate so far
    /// for the judged face.
    public func faces(_ assessment: FaceAssessment, cameraWidth: Int, cameraHeight: Int, at nanos: UInt64,
                      candidate: SnapshotCandidate?) {
        let visibleCount: Int
        if case .multipleFaces(let n)? = assessment.reasons.first(where: { if case .multipleFaces = $0 { return true } else { return false } }) {
            visibleCount = n
        } else {
            visibleCount = assessment.face == nil ? 0 : 1
        }
        guard let face = assessment.face else {
            inView = nil
            _ = engine.faces(FaceReadiness(sessionID: 0, faceCount: 0, face: nil, monotonicNanos: nanos))
            refreshDisplay(now: nanos)
            return
        }
        inView = face.id
        lastSeenNanos = nanos
        if let candidate, candidate.trackID == face.id { best[face.id] = candidate }
        var observation: FaceObservation?
        if assessment.isReady, let distance = assessment.distanceMeters {
            let b = face.face.box
            observation = FaceObservation(box: PixelRect(x: b.x, y: b.y, width: b.width, height: b.height),
                                          cameraWidth: cameraWidth, cameraHeight: cameraHeight, distanceM: distance)
        }
        let event = FaceReadiness(sessionID: face.id, faceCount: visibleCount, face: visibleCount == 1 ? observation : nil,
                                  monotonicNanos: nanos)
        if event.face != nil, readySince?.session != face.id { readySince = (face.id, nanos) }
        if let result = engine.faces(event) { deliver(result) }
        refreshDisplay(now: nanos, ready: assessment.isReady)
    }

    public func thermal(_ frame: ThermalFrame) {
        thermalArrivals.append(frame.monotonicNanos)
        if thermalArrivals.count > Self.periodWindow { thermalArrivals.removeFirst(thermalArrivals.count - Self.periodWindow) }
        if let result = engine.thermal(frame, nowNanos: clock()) { deliver(result) }
    }

    public func sensorAvailable() { engine.sensorAvailable(at: clock()) }

    public func sensorUnavailable() {
        if let result = engine.sensorUnavailable(at: clock()) { deliver(result) }
    }

    // MARK: ScreeningProvider

    public func currentState() async -> ScreeningState {
        refreshDisplay(now: clock())
        return display
    }

    public func awaitCapture(timeout: Duration) async -> ScreeningCapture? {
        if let current = currentCapture(now: clock()) { return current }
        let id = UUID()
        let nanos = UInt64(max(0, Double(timeout.components.seconds) * 1e9 + Double(timeout.components.attoseconds) / 1e9))
        return await withCheckedContinuation { (continuation: CheckedContinuation<ScreeningCapture?, Never>) in
            waiters[id] = continuation
            Task { [weak self] in
                try? await Task.sleep(nanoseconds: nanos)
                await self?.expire(id)
            }
        }
    }

    // MARK: Internals

    /// The result of the person in view, or of the one who just left within the hold time.
    private func currentCapture(now: UInt64) -> ScreeningCapture? {
        guard let latest else { return nil }
        if let inView, inView == latest.session { return latest.capture }
        if inView == nil, now >= latest.at, now - latest.at <= UInt64(options.resultHoldSeconds * 1e9) { return latest.capture }
        return nil
    }

    private func expire(_ id: UUID) {
        waiters.removeValue(forKey: id)?.resume(returning: nil)
    }

    private func deliver(_ result: ScreeningResult) {
        var jpeg: Data?
        if let candidate = best[result.sessionID] { jpeg = encodeSnapshot(candidate) }
        let capture = ScreeningCapture(summary: ScreeningSummary(result, measuredAt: wallClock()), faceJPEG: jpeg)
        latest = (result.sessionID, capture, clock())
        best = best.filter { $0.key == inView }
        outcomes[result.outcome.rawValue, default: 0] += 1
        observer?(result, capture)
        reportTiming(result)
        let pending = waiters
        waiters.removeAll()
        for (_, continuation) in pending { continuation.resume(returning: capture) }
        refreshDisplay(now: clock())
    }

    /// The time from the session's first ready frame to this result, next to the thermal frames' own time.
    private func reportTiming(_ result: ScreeningResult) {
        guard let start = readySince, start.session == result.sessionID else { return }
        readySince = nil
        let now = clock()
        let timing = ScreeningTiming(outcome: result.outcome, readyToResultNanos: now >= start.nanos ? now - start.nanos : 0,
                                     thermalFrames: result.frameCount, thermalFramePeriodNanos: thermalFramePeriodNanos)
        timingObserver?(timing)
    }

    private func refreshDisplay(now: UInt64, ready: Bool? = nil) {
        if let capture = currentCapture(now: now) {
            display = .result(capture.summary)
        } else if inView != nil {
            if let ready { display = ready ? .measuring : .faceSeen }
            else if display == .idle { display = .faceSeen }
        } else {
            display = .idle
        }
    }
}

/// How long one person's screening took (times and a count only; no personal data).
///
/// A measured result needs K thermal frames taken while the face is ready, so its latency is at least about
/// (K − 1) sensor periods and at most K periods plus the pipeline's own time; `overheadNanos` is the latency
/// minus K periods, the part the target (≤ K thermal frames + 50 ms) bounds.
public struct ScreeningTiming: Sendable, Equatable {
    public var outcome: ScreeningResult.Outcome
    /// From the camera frame in which the face first became ready (the session start) to the decided result.
    public var readyToResultNanos: UInt64
    /// Thermal frames the decision used (K for a measured result, fewer for an invalid one).
    public var thermalFrames: Int
    /// The sensor's frame period, measured from the arrival times of its latest frames.
    public var thermalFramePeriodNanos: UInt64?

    public init(outcome: ScreeningResult.Outcome, readyToResultNanos: UInt64, thermalFrames: Int, thermalFramePeriodNanos: UInt64?) {
        self.outcome = outcome
        self.readyToResultNanos = readyToResultNanos
        self.thermalFrames = thermalFrames
        self.thermalFramePeriodNanos = thermalFramePeriodNanos
    }

    /// The thermal frames' own time: `thermalFrames` sensor periods.
    public var thermalFramesNanos: UInt64? { thermalFramePeriodNanos.map { $0 * UInt64(thermalFrames) } }

    /// Latency minus the thermal frames' own time; negative when the first frame came soon after readiness.
    public var overheadNanos: Int64? { thermalFramesNanos.map { Int64(clamping: readyToResultNanos) - Int64(clamping: $0) } }
}

extension ScreeningSummary {
    /// The engine's result as stored with a declaration: outcome, values and flags unchanged.
    public init(_ result: ScreeningResult, measuredAt: Date) {
        let outcome: Result
        switch result.outcome {
        case .normal: outcome = .normal
        case .elevated: outcome = .elevated
        case .invalid: outcome = .invalid
        }
        var flags: [String] = []
        if let reason = result.invalidReason { flags.append(reason.rawValue) }
        if result.secondaryCheckRequired { flags.append("secondary_check_required") }
        self.init(result: outcome, rawTemperatureC: result.rawC, correctedTemperatureC: result.correctedC, flags: flags,
                  calibrationId: result.calibrationID,
                  sensor: "\(result.sensor.model)#\(result.sensor.serial)" + (result.sensor.port.map { "@\($0)" } ?? ""),
                  measuredAt: measuredAt)
        self.detail = result.detail
        self.statistic = result.statistic
        self.frameCount = result.frameCount
        self.ambientC = result.ambientC
        self.distanceM = result.distanceM
        self.emissivity = result.emissivity
        self.thresholdC = result.thresholdC
    }
}

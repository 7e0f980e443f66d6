import Foundation

/// Joins the face side (tracking, readiness, snapshots) and the thermal side (frames, sensor state)
/// into the one screening view the kiosk shows, and keeps each decided screening for the declaration of the
/// person it belongs to.
///
/// It owns the `ScreeningEngine` (pure), so every face event and thermal frame passes through one
/// actor in arrival order. It never alters a result: the summary carries the engine's outcome,
/// values and flags as they are.
///
/// Binding: every decided result gets a `screeningId` (shown in the view). A declaration names it and
/// `claim`s it; each id can be claimed once, for `declarationHoldSeconds` after it was decided. A declaration
/// without a valid id gets no screening: never the result that happens to be current.
public actor ScreeningHub: ScreeningProvider {
    /// Encodes the best frame of a person's visit as a JPEG (an adapter: OpenCV's encoder).
    public typealias SnapshotEncoder = @Sendable (SnapshotCandidate) -> Data?
    /// Told about every decided result (logging, metrics, the demo's printout).
    public typealias ResultObserver = @Sendable (ScreeningResult, ScreeningCapture) -> Void
    /// Told how long each result took from the person being ready (metrics).
    public typealias TimingObserver = @Sendable (ScreeningTiming) -> Void

    public struct Options: Sendable {
        /// How long after its decision a result stays on screen once its person has left the camera (while they stay,
        /// it stays; the view's `personInView` is false during this hold).
        public var resultHoldSeconds: Double = 20
        /// How long a decided screening can be claimed by a declaration (`[screening] declaration_hold_seconds`).
        public var declarationHoldSeconds: Double = 300
        /// Decided screenings kept for declarations at most; the oldest (and its face) is dropped beyond it.
        public var maxPendingScreenings: Int = 64
        public init() {}
    }

    /// A decided screening waiting for its declaration.
    private struct Pending {
        var capture: ScreeningCapture
        var decidedAt: UInt64
        var claimed: Bool
    }

    private var engine: ScreeningEngine
    private var options: Options
    private let encodeSnapshot: SnapshotEncoder
    private var observer: ResultObserver?
    private var timingObserver: TimingObserver?
    /// The session whose face became ready, and the monotonic time of the camera frame in which it first did.
    private var readySince: (session: UInt64, nanos: UInt64)?
    /// Arrival times of the latest thermal frames, for the sensor's measured frame period.
    private var thermalArrivals: [UInt64] = []
    private static let periodWindow = 9
    private var inView: UInt64?
    /// The latest readiness verdict while a face is in view (what the screen explains).
    private var lastAssessment: (faces: Int, reasons: [String], distance: Double?, ready: Bool)?
    /// The result on screen: the person's session, its screening id and when it was decided.
    private var latest: (session: UInt64, id: UUID, capture: ScreeningCapture, at: UInt64)?
    private var pending: [UUID: Pending] = [:]
    /// Pending ids, oldest first.
    private var pendingOrder: [UUID] = []
    private var best: [UInt64: SnapshotCandidate] = [:]
    private var view = ScreeningView()
    private let broadcaster = Broadcaster<ScreeningView>(bufferSize: 8)
    private let clock: @Sendable () -> UInt64
    private let wallClock: @Sendable () -> Date
    private let makeID: @Sendable () -> UUID
    public private(set) var outcomes: [String: Int] = [:]

    public init(engine: ScreeningEngine, options: Options = Options(), clock: @escaping @Sendable () -> UInt64,
                wallClock: @escaping @Sendable () -> Date = { Date() }, makeID: @escaping @Sendable () -> UUID = { UUID() },
                encodeSnapshot: @escaping SnapshotEncoder) {
        self.engine = engine
        self.options = options
        self.clock = clock
        self.wallClock = wallClock
        self.makeID = makeID
        self.encodeSnapshot = encodeSnapshot
    }

    public func setObserver(_ observer: ResultObserver?) { self.observer = observer }

    public func setTimingObserver(_ observer: TimingObserver?) { self.timingObserver = observer }

    /// Applies a reloaded `declaration_hold_seconds`; pending screenings are judged by the new hold from now on.
    public func setDeclarationHold(seconds: Double) {
        options.declarationHoldSeconds = seconds
        prunePending(now: clock())
    }

    /// The sensor's frame period: the mean interval over the latest frames' arrival times, if two have arrived.
    /// (The mean, not the median: a loaded machine delivers frames in bursts, which skews the median interval short.)
    public var thermalFramePeriodNanos: UInt64? {
        guard let first = thermalArrivals.first, let last = thermalArrivals.last, thermalArrivals.count >= 2, last >= first else { return nil }
        return (last - first) / UInt64(thermalArrivals.count - 1)
    }

    /// Replaces thresholds and calibration on reload; a session in progress restarts with the new engine.
    public func replaceEngine(_ newEngine: ScreeningEngine) {
        engine = newEngine
        refreshView(now: clock())
    }

    public func engineStatus() -> ScreeningStatus { engine.status(at: clock()) }

    /// Decided screenings currently held for declarations (claimed or not).
    public var pendingCount: Int { pending.count }

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
            liveFace = nil
            lastAssessment = nil
            _ = engine.faces(FacesInView(sessionID: 0, faceCount: 0, face: nil, monotonicNanos: nanos))
            refreshView(now: nanos)
            return
        }
        inView = face.id
        liveFace = assessment.distanceMeters.map { d in
            let b = face.face.box
            return FaceObservation(box: PixelRect(x: b.x, y: b.y, width: b.width, height: b.height), cameraWidth: cameraWidth,
                                   cameraHeight: cameraHeight, distanceM: d)
        }
        lastAssessment = (visibleCount, assessment.reasons.map(\.code), assessment.distanceMeters, assessment.isReady)
        if let candidate, candidate.trackID == face.id { best[face.id] = candidate }
        var observation: FaceObservation?
        if assessment.isReady, let distance = assessment.distanceMeters {
            let b = face.face.box
            observation = FaceObservation(box: PixelRect(x: b.x, y: b.y, width: b.width, height: b.height),
                                          cameraWidth: cameraWidth, cameraHeight: cameraHeight, distanceM: distance)
        }
        let event = FacesInView(sessionID: face.id, faceCount: visibleCount, face: visibleCount == 1 ? observation : nil,
                                  monotonicNanos: nanos)
        if event.face != nil, readySince?.session != face.id { readySince = (face.id, nanos) }
        if let result = engine.faces(event) { deliver(result) }
        refreshView(now: nanos)
    }

    public func thermal(_ frame: ThermalFrame) {
        liveThermal = frame
        thermalArrivals.append(frame.monotonicNanos)
        if thermalArrivals.count > Self.periodWindow { thermalArrivals.removeFirst(thermalArrivals.count - Self.periodWindow) }
        if let result = engine.thermal(frame, nowNanos: clock()) { deliver(result) }
        refreshView(now: clock())
    }

    public func sensorAvailable() {
        engine.sensorAvailable(at: clock())
        refreshView(now: clock())
    }

    public func sensorUnavailable() {
        if let result = engine.sensorUnavailable(at: clock()) { deliver(result) }
        refreshView(now: clock())
    }

    /// Marks each face whose registered region in the newest thermal frame is at room temperature (`warmSkin`
    /// false: a poster, a phone photo), so readiness does not count it as a second person. `distances` are the
    /// faces' estimated distances (nil: the registration's nominal distance).
    public func markWarmSkin(_ faces: [DetectedFace], distances: [Double?]) -> [DetectedFace] {
        guard let frame = liveThermal, faces.count == distances.count else { return faces }
        let registration = engine.measurer.registration, now = clock()
        return zip(faces, distances).map { face, distance in
            var face = face
            let b = face.box
            face.warmSkin = warmSkinCheck.warmSkin(face: PixelRect(x: b.x, y: b.y, width: b.width, height: b.height),
                                                   distanceM: distance ?? registration.nominalDistanceM, frame: frame,
                                                   registration: registration, calibration: engine.calibration, nowNanos: now)
            return face
        }
    }

    private let warmSkinCheck = WarmSkinCheck()

    // MARK: Technician

    /// The newest thermal frame and the face in view (ready or not), for `thermalLive()`.
    private var liveThermal: ThermalFrame?
    private var liveFace: FaceObservation?

    /// The newest thermal frame raw and calibrated, with the face in view mapped onto it; nil before the first frame.
    public func thermalLive() async -> ThermalLiveView? {
        guard let frame = liveThermal else { return nil }
        return engine.liveView(frame, face: liveFace, nowNanos: clock())
    }

    /// What a technician's camera snapshot draws besides the faces: the thermal overlay (registered at the face's
    /// distance, else the nominal one) and the lines of text (state, readiness reasons, distance, the face's reading).
    public func snapshotContext() async -> TechnicianSnapshot.Context {
        refreshView(now: clock())
        let registration = engine.measurer.registration
        let thermal = liveThermal.map {
            TechnicianSnapshot.Thermal(frame: $0, registration: registration, calibration: engine.calibration,
                                       distanceM: liveFace?.distanceM ?? registration.nominalDistanceM)
        }
        var lines = ["STATE \(view.state.rawValue)  FACES \(view.faces)" + (view.distanceM.map { String(format: "  DISTANCE %.2f M", $0) } ?? "")]
        lines.append("REASONS " + (view.reasons.isEmpty ? "-" : view.reasons.joined(separator: ", ")))
        if let frame = liveThermal {
            let live = engine.liveView(frame, face: liveFace, nowNanos: clock())
            var t = String(format: "SENSOR AMBIENT %.1f°C", live.ambientC)
            if let f = live.face {
                if let raw = f.statisticRawC, let s = f.stages { t += String(format: "  FACE RAW %.2f = %.2f°C", raw, s.correctedC) }
                if let p = f.problem { t += "  FACE: " + p }
            }
            lines.append(t)
        } else {
            lines.append("NO THERMAL FRAME")
        }
        return TechnicianSnapshot.Context(thermal: thermal, lines: lines)
    }

    // MARK: ScreeningProvider

    public func currentView() async -> ScreeningView {
        refreshView(now: clock())
        return view
    }

    public func views() async -> AsyncStream<ScreeningView> {
        refreshView(now: clock())
        return broadcaster.subscribe(startingWith: view)
    }

    /// Screens watching the view now.
    public var viewSubscribers: Int { broadcaster.subscriberCount }

    public func claim(_ id: UUID) async -> ScreeningClaim {
        prunePending(now: clock())
        guard var entry = pending[id] else { return .unknownOrExpired }
        if entry.claimed { return .alreadyUsed }
        entry.claimed = true
        pending[id] = entry
        return .claimed(entry.capture)
    }

    public func release(_ id: UUID) async {
        pending[id]?.claimed = false
    }

    // MARK: Internals

    /// The result on screen: the person in view's, or the one who just left within the on-screen hold.
    private func shownResult(now: UInt64) -> (id: UUID, capture: ScreeningCapture, personInView: Bool)? {
        guard let latest else { return nil }
        if let inView, inView == latest.session { return (latest.id, latest.capture, true) }
        if inView == nil, now >= latest.at, now - latest.at <= UInt64(options.resultHoldSeconds * 1e9) { return (latest.id, latest.capture, false) }
        return nil
    }

    private func deliver(_ result: ScreeningResult) {
        var jpeg: Data?
        if let candidate = best[result.sessionID] { jpeg = encodeSnapshot(candidate) }
        let capture = ScreeningCapture(summary: ScreeningSummary(result, measuredAt: wallClock()), faceJPEG: jpeg)
        let now = clock()
        let id = makeID()
        latest = (result.sessionID, id, capture, now)
        pending[id] = Pending(capture: capture, decidedAt: now, claimed: false)
        pendingOrder.append(id)
        prunePending(now: now)
        best = best.filter { $0.key == inView }
        outcomes[result.outcome.rawValue, default: 0] += 1
        observer?(result, capture)
        reportTiming(result)
    }

    /// Drops screenings older than the declaration hold, then the oldest beyond the count limit.
    private func prunePending(now: UInt64) {
        let hold = UInt64(max(0, options.declarationHoldSeconds) * 1e9)
        var dropped = 0
        for id in pendingOrder {
            guard let entry = pending[id] else { dropped += 1; continue }
            let expired = now >= entry.decidedAt && now - entry.decidedAt > hold
            if expired || pendingOrder.count - dropped > options.maxPendingScreenings {
                pending.removeValue(forKey: id)
                dropped += 1
            } else {
                break
            }
        }
        if dropped > 0 { pendingOrder.removeFirst(dropped) }
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

    /// Recomputes the view and publishes it when something the screen shows changed.
    private func refreshView(now: UInt64) {
        var next = ScreeningView(seq: view.seq)
        let status = engine.status(at: now)
        let warmUp = status.sensorAvailable ? status.warmUpRemainingSeconds.flatMap { $0 > 0 ? $0.rounded(.up) : nil } : nil
        next.sensor = ScreeningView.Sensor(available: status.sensorAvailable, warmUpRemainingSeconds: warmUp)
        if let a = lastAssessment, inView != nil {
            next.faces = a.faces
            next.distanceM = a.distance
        }
        if let shown = shownResult(now: now) {
            next.state = .result
            next.screeningId = shown.id.uuidString.lowercased()
            next.screening = shown.capture.summary
            next.personInView = shown.personInView
        } else if let a = lastAssessment, inView != nil, a.ready {
            next.state = .measuring
            next.progress = engine.progress
        } else if let a = lastAssessment, inView != nil, warmUp == nil {
            next.state = .faceSeen
            next.reasons = a.reasons
        } else if warmUp != nil {
            next.state = .warmingUp
            next.reasons = lastAssessment?.reasons ?? []
        } else {
            next.state = .idle
        }
        if next.differs(from: view) {
            next.seq = view.seq + 1
            next.publishedAtMs = (wallClock().timeIntervalSince1970 * 10_000).rounded() / 10
            view = next
            broadcaster.publish(view)
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

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CCurl
import CheckpointCore
import Foundation
import Logging
import Synchronization

/// Sends the kiosk's heartbeats (`POST …/v1/heartbeats`) on its own `CurlUploader` — its own thread and curl
/// handle — so a heartbeat never waits behind, or delays, a declaration upload. Latest-only: nothing is queued; when
/// to send is `HeartbeatSchedule`'s decision, what to send is built from a fresh `KioskStatus` each time.
///
/// A heartbeat's reply may carry an operator's request for a monitoring still (`HeartbeatReceipt.stillRequest`): it
/// is answered on the same thread and handle, never queued — the still (`POST …/v1/monitoring/stills`) or a refusal
/// (`POST …/v1/monitoring/still-refusals`), one attempt and one retry, then dropped. Every request is logged with its
/// id, outcome and size; never the image.
public final class HeartbeatSender: Sendable {
    /// A still as the camera side hands it over: JPEG bytes, ready to upload.
    public struct Still: Sendable {
        public var jpeg: Data
        /// Faces detected (and blurred, when `facesBlurred`).
        public var faces: Int
        public var facesBlurred: Bool
        public init(jpeg: Data, faces: Int, facesBlurred: Bool) {
            self.jpeg = jpeg
            self.faces = faces
            self.facesBlurred = facesBlurred
        }
    }

    /// What became of one still request (logged, counted, returned for tests).
    public enum StillOutcome: Sendable, Equatable {
        case sent(bytes: Int)
        case refused(StillRefusal.Reason)
        case dropped(String)
        case ignored(String)
    }

    public struct Status: Sendable, Equatable {
        public var sent = 0
        public var failed = 0
        public var lastSentAt: Date?
        public var lastError: String?
        /// Monitoring still requests received, and the last one's outcome.
        public var stillRequests = 0
        public var lastStillOutcome: StillOutcome?
    }

    private let transport: Mutex<CurlUploader>
    private let identity: HeartbeatIdentity
    private let statusProvider: @Sendable () async -> KioskStatus
    private let conditionsProvider: @Sendable () async -> HeartbeatConditions
    private let logger: Logger
    private let schedule: Mutex<HeartbeatSchedule>
    private let tally = Mutex(ScreeningTally())
    private let statusBox = Mutex(Status())
    private let sequence = Mutex(0)
    private let started = ContinuousClock.now
    /// How often the watched conditions are looked at.
    private let pollInterval: Duration
    /// `[monitoring]`: whether still requests are answered with a still, and whether faces are blurred.
    private let stillPolicy: Mutex<StillRequestPolicy>
    /// The newest camera frame as a still (nil: no frame in time); nil when the kiosk has no camera stage.
    private let stillSource: (@Sendable (_ blurFaces: Bool) async -> Still?)?
    /// Wait before the one retry of a still or refusal.
    private let stillRetryDelay: Duration

    /// - Parameters:
    ///   - upload: the `[upload]` transfer settings; heartbeats go to `Heartbeat.endpoint(forUpload:)` with the same TLS.
    ///   - intervalSeconds: `[heartbeat] interval_s`.
    ///   - conditions: the watched conditions, looked at every `pollInterval` (keep it cheap).
    ///   - status: the whole state, gathered only when a heartbeat is sent.
    ///   - monitoring: `[monitoring]` (stills off unless `stillEnabled`).
    ///   - still: takes the newest camera frame as a still (faces blurred when asked); nil without a camera stage.
    public convenience init(upload: UploadConfiguration, intervalSeconds: Double, identity: HeartbeatIdentity, pollInterval: Duration = .seconds(1),
                            logger: Logger = Logger(label: "checkpointd.heartbeat"),
                            monitoring: StillRequestPolicy = StillRequestPolicy(stillEnabled: false, blurFaces: true),
                            stillRetryDelay: Duration = .seconds(2),
                            still: (@Sendable (_ blurFaces: Bool) async -> Still?)? = nil,
                            conditions: @escaping @Sendable () async -> HeartbeatConditions,
                            status: @escaping @Sendable () async -> KioskStatus) throws {
        // The curl handle is made before any stored property exists: a designated init that throws after its Mutex
        // properties are initialized crashes Swift 6.3.1's optimizer (CopyPropagation, release builds only).
        let transport = try CurlUploader(configuration: Self.transfer(upload))
        self.init(transport: transport, intervalSeconds: intervalSeconds, identity: identity, pollInterval: pollInterval,
                  logger: logger, monitoring: monitoring, stillRetryDelay: stillRetryDelay, still: still, conditions: conditions, status: status)
    }

    private init(transport: CurlUploader, intervalSeconds: Double, identity: HeartbeatIdentity, pollInterval: Duration, logger: Logger,
                 monitoring: StillRequestPolicy, stillRetryDelay: Duration, still: (@Sendable (_ blurFaces: Bool) async -> Still?)?,
                 conditions: @escaping @Sendable () async -> HeartbeatConditions, status: @escaping @Sendable () async -> KioskStatus) {
        self.stillPolicy = Mutex(monitoring)
        self.stillSource = still
        self.stillRetryDelay = stillRetryDelay
        self.transport = Mutex(transport)
        self.identity = identity
        self.statusProvider = status
        self.conditionsProvider = conditions
        self.logger = logger
        self.schedule = Mutex(HeartbeatSchedule(interval: intervalSeconds))
        self.pollInterval = pollInterval
    }

    /// The heartbeat transfer for an upload configuration: same TLS and identity, heartbeat URL, short timeouts
    /// (a heartbeat is 1 KB; a slow one is simply replaced by the next).
    static func transfer(_ upload: UploadConfiguration) -> UploadConfiguration {
        var c = upload
        c.endpoint = Heartbeat.endpoint(forUpload: upload.endpoint)
        c.totalTimeout = min(upload.totalTimeout, .seconds(30))
        return c
    }

    public var status: Status { statusBox.withLock { $0 } }

    /// A screening was decided (counted into the next heartbeat).
    public func screening(_ outcome: ScreeningResult.Outcome) { tally.withLock { $0.add(outcome) } }

    /// Applies a reload of `[upload]`, `[heartbeat] interval_s` and `[monitoring]`.
    public func reconfigure(upload: UploadConfiguration, intervalSeconds: Double, stillEnabled: Bool? = nil, blurFaces: Bool? = nil) throws {
        stillPolicy.withLock { p in
            if let stillEnabled { p.stillEnabled = stillEnabled }
            if let blurFaces { p.blurFaces = blurFaces }
        }
        schedule.withLock { $0.interval = max(1, intervalSeconds) }
        try transport.withLock { try $0.reconfigure(Self.transfer(upload)) }
    }

    /// Runs until the task is cancelled.
    public func run() async {
        logger.info("heartbeats started", metadata: ["endpoint": "\(transport.withLock { $0.configuration.endpoint })",
                                                     "interval_s": "\(Int(schedule.withLock { $0.interval }))"])
        let curl = transport.withLock { $0 }
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                await tick()
                try? await Task.sleep(for: pollInterval)
            }
        } onCancel: {
            curl.shutdown()
        }
        logger.info("heartbeats stopped")
    }

    /// One look at the conditions; sends when the schedule says so. Returns whether a heartbeat was sent.
    @discardableResult
    public func tick() async -> Bool {
        let now = monotonicSeconds()
        let watched = await conditionsProvider()
        guard schedule.withLock({ $0.decide(now: now, conditions: watched) }) != nil else { return false }
        // Decide again on the whole status: it is what the heartbeat says and what the schedule remembers.
        let kiosk = await statusProvider()
        let conditions = kiosk.conditions
        guard let decision = schedule.withLock({ $0.decide(now: now, conditions: conditions) }) else { return false }
        let counts = tally.withLock { $0.counts }
        let seq = sequence.withLock { s in
            defer { s += 1 }
            return s
        }
        let heartbeat = Heartbeat(identity: identity, status: kiosk, decision: decision, sequence: seq, now: Date(),
                                  clockSynced: SystemRecordClock.clockSynced(), uptimeSeconds: now, screenings: counts)
        let outcome: PostResult
        do { outcome = await post(try heartbeat.encoded(), to: nil, contentType: "application/json") } catch {
            outcome = PostResult(ok: false, status: 0, detail: "cannot encode: \(error)", body: [])
        }
        let done = monotonicSeconds()
        if outcome.ok {
            schedule.withLock { $0.succeeded(at: done, conditions: conditions) }
            tally.withLock { $0.acknowledge(counts) }
            let wasFailing = statusBox.withLock { s in
                defer { s.sent += 1; s.lastSentAt = Date(); s.lastError = nil }
                return s.lastError != nil
            }
            if wasFailing { logger.notice("heartbeats delivered again") }
            if decision.reason == .stateChange {
                logger.notice("heartbeat sent on state change", metadata: ["changes": "\(decision.changes.map(\.rawValue).joined(separator: ","))"])
            }
            if let request = HeartbeatReceipt.decode(outcome.body)?.stillRequest { await answer(request) }
        } else {
            schedule.withLock { $0.failed(at: done, conditions: conditions) }
            let first = statusBox.withLock { s in
                defer { s.failed += 1; s.lastError = outcome.detail }
                return s.lastError == nil
            }
            // Once per outage, not every retry: the uplink's own alerts are the uploader's business.
            if first { logger.warning("heartbeat not delivered; retrying with the state of that moment", metadata: ["reason": "\(outcome.detail)"]) }
        }
        return outcome.ok
    }

    private func monotonicSeconds() -> Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: Monitoring stills

    /// Answers one still request from a heartbeat's reply: a still, a refusal, or nothing (a malformed or repeated
    /// id). Logged in every case with the request id, the outcome and the size; never the image.
    @discardableResult
    public func answer(_ request: StillRequest) async -> StillOutcome {
        let action = stillPolicy.withLock { $0.action(for: request) }
        let outcome: StillOutcome
        switch action {
        case .ignore(let why):
            outcome = .ignored(why)
        case .refuse(let reason):
            outcome = await refuse(request, reason)
        case .capture(let blur):
            if let still = await stillSource?(blur) {
                let config = transport.withLock { $0.configuration }
                let url = MonitoringStill.endpoint(forUpload: config.endpoint) + "?"
                    + MonitoringStill.query(deviceId: identity.deviceId, requestId: request.id, facesBlurred: still.facesBlurred, faces: still.faces)
                let result = await postOnceAndRetry(still.jpeg, to: url, contentType: "image/jpeg")
                outcome = result.ok ? .sent(bytes: still.jpeg.count) : .dropped(result.detail)
                let meta: Logger.Metadata = ["request_id": "\(request.id)", "bytes": "\(still.jpeg.count)", "faces": "\(still.faces)",
                                             "faces_blurred": "\(still.facesBlurred)"]
                if result.ok {
                    logger.notice("monitoring still sent", metadata: meta)
                } else {
                    logger.warning("monitoring still dropped: not delivered after a retry", metadata: meta.merging(["reason": "\(result.detail)"]) { a, _ in a })
                }
                record(outcome)
                return outcome
            }
            outcome = await refuse(request, .noCameraFrame)
        }
        if case .ignored(let why) = outcome {
            logger.warning("monitoring still request ignored: \(why)", metadata: ["request_id": "\(MonitoringStill.isValidRequestId(request.id) ? request.id : "-")"])
        }
        record(outcome)
        return outcome
    }

    private func record(_ outcome: StillOutcome) {
        statusBox.withLock { s in
            s.stillRequests += 1
            s.lastStillOutcome = outcome
        }
    }

    /// Tells the receiver no still will come for `request`, and why.
    private func refuse(_ request: StillRequest, _ reason: StillRefusal.Reason) async -> StillOutcome {
        let config = transport.withLock { $0.configuration }
        let body = (try? StillRefusal(deviceId: identity.deviceId, requestId: request.id, reason: reason).encoded()) ?? Data()
        let result = await postOnceAndRetry(body, to: MonitoringStill.refusalEndpoint(forUpload: config.endpoint), contentType: "application/json")
        let meta: Logger.Metadata = ["request_id": "\(request.id)", "reason": "\(reason.rawValue)", "bytes": "0",
                                     "delivered": "\(result.ok ? "yes" : "no: \(result.detail)")"]
        switch reason {
        case .disabled: logger.notice("monitoring still request refused: stills are off ([monitoring] still_enabled = false)", metadata: meta)
        case .noCameraFrame: logger.warning("monitoring still request refused: no camera frame", metadata: meta)
        }
        return result.ok ? .refused(reason) : .dropped(result.detail)
    }

    /// One attempt and, after a transport failure, a 5xx or a 429, one retry; then the caller drops it.
    private func postOnceAndRetry(_ body: Data, to url: String, contentType: String) async -> PostResult {
        let first = await post(body, to: url, contentType: contentType)
        guard !first.ok, first.status == 0 || first.status == 429 || first.status >= 500 else { return first }
        try? await Task.sleep(for: stillRetryDelay)
        if Task.isCancelled { return first }
        return await post(body, to: url, contentType: contentType)
    }

    struct PostResult: Sendable {
        var ok: Bool
        var status: Int
        var detail: String
        var body: [UInt8]
    }

    /// One POST on the sender's own thread and handle, to `url` (nil: the heartbeat endpoint). 2xx is delivered.
    private func post(_ body: Data, to url: String?, contentType: String) async -> PostResult {
        let curl = transport.withLock { $0 }
        let flag = curl.shuttingDown
        do {
            return try await curl.thread.run {
                if flag.value.load(ordering: .relaxed) { return PostResult(ok: false, status: 0, detail: "shutting down", body: []) }
                let config = curl.configuration
                let handle: CurlUploader.Handle
                do {
                    handle = try curl.state.withLock { h in
                        if let h, h.configuration == config { return h }
                        let made = try CurlUploader.makeHandle(config, flag: flag)
                        h = made
                        return made
                    }
                } catch { return PostResult(ok: false, status: 0, detail: "\(error)", body: []) }
                return Self.perform(handle, url: url ?? config.endpoint, body: body, contentType: contentType)
            }
        } catch {
            return PostResult(ok: false, status: 0, detail: "\(error)", body: [])
        }
    }

    private static func perform(_ h: CurlUploader.Handle, url: String, body: Data, contentType: String) -> PostResult {
        let curl = h.curl
        let response = CurlUploader.Response()
        let token = Unmanaged.passRetained(response)
        defer { token.release() }
        _ = ccurl_setopt_pointer(curl, CURLOPT_WRITEDATA, token.toOpaque())
        _ = ccurl_setopt_pointer(curl, CURLOPT_HEADERDATA, token.toOpaque())
        _ = ccurl_setopt_string(curl, CURLOPT_URL, url)
        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Content-Type: \(contentType)")
        headers = curl_slist_append(headers, "Accept: application/json")
        headers = curl_slist_append(headers, "Expect:")
        defer { curl_slist_free_all(headers) }
        _ = ccurl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers)
        h.errorBuffer[0] = 0
        let code: CURLcode = body.withUnsafeBytes { buf in
            _ = ccurl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, buf.count)
            _ = ccurl_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: buf.baseAddress))
            defer { _ = ccurl_setopt_pointer(curl, CURLOPT_POSTFIELDS, nil) }
            return curl_easy_perform(curl)
        }
        _ = ccurl_setopt_slist(curl, CURLOPT_HTTPHEADER, nil)
        guard code == CURLE_OK else {
            h.errorBuffer[Int(CURL_ERROR_SIZE)] = 0
            let text = String(cString: h.errorBuffer)
            return PostResult(ok: false, status: 0, detail: "CURLcode \(code.rawValue): \(text.isEmpty ? String(cString: curl_easy_strerror(code)) : text)", body: [])
        }
        var status = 0
        _ = ccurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return PostResult(ok: (200..<300).contains(status), status: status, detail: "HTTP \(status)", body: response.parsed.body)
    }
}

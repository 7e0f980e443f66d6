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
public final class HeartbeatSender: Sendable {
    public struct Status: Sendable, Equatable {
        public var sent = 0
        public var failed = 0
        public var lastSentAt: Date?
        public var lastError: String?
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

    /// - Parameters:
    ///   - upload: the `[upload]` transfer settings; heartbeats go to `Heartbeat.endpoint(forUpload:)` with the same TLS.
    ///   - intervalSeconds: `[heartbeat] interval_s`.
    ///   - conditions: the watched conditions, looked at every `pollInterval` (keep it cheap).
    ///   - status: the whole state, gathered only when a heartbeat is sent.
    public convenience init(upload: UploadConfiguration, intervalSeconds: Double, identity: HeartbeatIdentity, pollInterval: Duration = .seconds(1),
                            logger: Logger = Logger(label: "checkpointd.heartbeat"),
                            conditions: @escaping @Sendable () async -> HeartbeatConditions,
                            status: @escaping @Sendable () async -> KioskStatus) throws {
        // The curl handle is made before any stored property exists: a designated init that throws after its Mutex
        // properties are initialized crashes Swift 6.3.1's optimizer (CopyPropagation, release builds only).
        let transport = try CurlUploader(configuration: Self.transfer(upload))
        self.init(transport: transport, intervalSeconds: intervalSeconds, identity: identity, pollInterval: pollInterval,
                  logger: logger, conditions: conditions, status: status)
    }

    private init(transport: CurlUploader, intervalSeconds: Double, identity: HeartbeatIdentity, pollInterval: Duration, logger: Logger,
                 conditions: @escaping @Sendable () async -> HeartbeatConditions, status: @escaping @Sendable () async -> KioskStatus) {
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

    /// Applies a reload of `[upload]` and `[heartbeat] interval_s`.
    public func reconfigure(upload: UploadConfiguration, intervalSeconds: Double) throws {
        try transport.withLock { try $0.reconfigure(Self.transfer(upload)) }
        schedule.withLock { $0.interval = max(1, intervalSeconds) }
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
        let outcome: (ok: Bool, detail: String)
        do { outcome = await post(try heartbeat.encoded()) } catch { outcome = (false, "cannot encode: \(error)") }
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

    /// One POST on the sender's own thread and handle. Only the status matters: 2xx is delivered.
    private func post(_ body: Data) async -> (ok: Bool, detail: String) {
        let curl = transport.withLock { $0 }
        let flag = curl.shuttingDown
        do {
            return try await curl.thread.run {
                if flag.value.load(ordering: .relaxed) { return (false, "shutting down") }
                let config = curl.configuration
                let handle: CurlUploader.Handle
                do {
                    handle = try curl.state.withLock { h in
                        if let h, h.configuration == config { return h }
                        let made = try CurlUploader.makeHandle(config, flag: flag)
                        h = made
                        return made
                    }
                } catch { return (false, "\(error)") }
                return Self.perform(handle, body: body)
            }
        } catch {
            return (false, "\(error)")
        }
    }

    private static func perform(_ h: CurlUploader.Handle, body: Data) -> (ok: Bool, detail: String) {
        let curl = h.curl
        let response = CurlUploader.Response()
        let token = Unmanaged.passRetained(response)
        defer { token.release() }
        _ = ccurl_setopt_pointer(curl, CURLOPT_WRITEDATA, token.toOpaque())
        _ = ccurl_setopt_pointer(curl, CURLOPT_HEADERDATA, token.toOpaque())
        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Content-Type: application/json")
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
            return (false, "CURLcode \(code.rawValue): \(text.isEmpty ? String(cString: curl_easy_strerror(code)) : text)")
        }
        var status = 0
        _ = ccurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return ((200..<300).contains(status), "HTTP \(status)")
    }
}

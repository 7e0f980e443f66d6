import CheckpointCore
import Foundation
import Logging
import Synchronization

/// What the uploader is doing, for `/healthz`, `/metrics` and the CLI.
public struct UploaderStatus: Sendable, Codable, Equatable {
    public var delivered: Int = 0
    public var deadLettered: Int = 0
    public var failedAttempts: Int = 0
    public var lastDeliveryAt: Date?
    /// The last failure's reason (no personal data: status codes and curl errors only).
    public var lastError: String?
    /// Set when a person must look at the uplink (401/403, certificate problems, answers without a receipt,
    /// permanent rejections in a row); cleared by the next delivery.
    public var alert: String?
    public var pausedUntil: Date?
    /// Records in the dead letter now: permanently rejected declarations the province has not got. They stay until a
    /// person acts, and while there are any the uploader needs attention.
    public var deadLetters: Int = 0
    public init() {}

    /// What a person must look at, if anything: the uplink's alert, else the dead letters. `/healthz`, `STATUS=` and
    /// the `checkpointd_upload_alert` metric report this.
    public var attention: String? {
        if let alert { return alert }
        if deadLetters > 0 {
            return "\(deadLetters) record(s) in the dead letter (rejected by the server): see checkpointctl queue list, then queue retry-dead"
        }
        return nil
    }
}

/// Drains the queue: oldest due record first, one at a time, through one `CurlUploader`.
///
/// Each record has its own backoff, so a failing record never blocks the ones behind it; 429, 503 and
/// connect failures pause the whole loop. Deleted only after a 2xx; 400/413/422 go to the dead-letter table.
public final class UploadService: Sendable {
    private let queue: AsyncQueueStore
    private let uploader: CurlUploader
    private let logger: Logger
    private let scheduler: Mutex<UploadScheduler>
    private let statusBox = Mutex(UploaderStatus())
    private let waker = Waker()
    /// How often retention purge runs while the loop is alive.
    private let purgeInterval: Duration

    public init(store: QueueStore, uploader: CurlUploader, policy: UploadPolicy = UploadPolicy(),
                purgeInterval: Duration = .seconds(3600), logger: Logger = Logger(label: "checkpointd.upload")) {
        self.queue = AsyncQueueStore(store)
        self.uploader = uploader
        self.logger = logger
        self.scheduler = Mutex(UploadScheduler(policy: policy))
        self.purgeInterval = purgeInterval
    }

    public var status: UploaderStatus { statusBox.withLock { $0 } }

    /// Applies a reload. The new retry policy judges the next outcome. When the endpoint or its TLS settings
    /// changed, the backoff earned against the old ones is dropped: the pause is lifted, every waiting record is
    /// due at once, and the alert is cleared until the new endpoint earns its own.
    public func reconfigured(policy: UploadPolicy, transportChanged: Bool) async {
        scheduler.withLock { s in
            s.policy = policy
            if transportChanged { s.transportChanged() }
        }
        if transportChanged {
            do { try await queue.makeAllDue() } catch {
                logger.error("cannot reschedule the queue after a reload", metadata: ["error": "\(error)"])
            }
            update { s in
                s.pausedUntil = nil
                s.alert = nil
            }
            logger.notice("upload endpoint or TLS settings changed; retrying waiting records now",
                          metadata: ["endpoint": "\(uploader.configuration.endpoint)"])
        }
        waker.wake()
    }

    /// Tells the loop a new record is waiting (call after each enqueue).
    public func wake() { waker.wake() }

    /// Runs until the task is cancelled. On cancellation, a transfer in flight is aborted through curl's
    /// progress callback; the record stays queued.
    public func run() async {
        logger.info("uploader started", metadata: ["endpoint": "\(uploader.configuration.endpoint)"])
        await refreshDeadLetters()
        await withTaskCancellationHandler {
            try? await loop(.service)
        } onCancel: {
            uploader.shutdown()
            waker.wake()
        }
        logger.info("uploader stopped")
    }

    /// Uploads everything due now and returns when nothing due is left or `deadline` passes (CLI and tests).
    /// Records still backing off are skipped. Returns how many were delivered.
    public func drain(until deadline: Date, makeDue: Bool = true) async throws -> Int {
        if makeDue { try await queue.makeAllDue() }
        let before = status.delivered
        try await loop(.drain(until: deadline))
        return status.delivered - before
    }

    /// How the one upload loop ends and waits.
    private enum Mode {
        /// The daemon's loop: until cancelled; purges hourly; waits on the waker (a new record, a reload); a queue
        /// read error is logged and retried.
        case service
        /// Until nothing due is left or the deadline passes; sleeps; errors are thrown.
        case drain(until: Date)
    }

    /// Oldest due record first, one at a time, honouring the scheduler's pause.
    private func loop(_ mode: Mode) async throws {
        var lastPurge = ContinuousClock.now - purgeInterval
        while true {
            switch mode {
            case .service:
                if Task.isCancelled { return }
                if ContinuousClock.now - lastPurge >= purgeInterval {
                    lastPurge = .now
                    do {
                        let faces = try await queue.purge()
                        if faces > 0 { logger.info("retention purge", metadata: ["faces": "\(faces)"]) }
                        await refreshDeadLetters()
                    } catch { logger.error("retention purge failed", metadata: ["error": "\(error)"]) }
                }
            case .drain(let deadline):
                if Date() >= deadline { return }
            }
            let now = Date()
            let paused = scheduler.withLock { $0.pause(now: now) }
            let horizon = scheduler.withLock { $0.policy.longestDelay }
            if now < paused {
                // Woken early (a new record, a reload), the loop just checks the pause again.
                try await wait(mode, seconds: paused.timeIntervalSince(now))
                continue
            }
            let next: StoredRecord?
            do { next = try await queue.nextDue(now: now, horizon: horizon) } catch {
                guard case .service = mode else { throw error }
                logger.error("cannot read queue", metadata: ["error": "\(error)"])
                try await wait(mode, seconds: 5)
                continue
            }
            guard let record = next else {
                let due: Date?
                switch mode {
                case .service: due = (try? await queue.earliestDue()) ?? nil
                case .drain:
                    due = try await queue.earliestDue()
                    if due == nil { return }   // nothing left at all
                }
                try await wait(mode, seconds: min(due.map { max(0.01, $0.timeIntervalSinceNow) } ?? 60, 60))
                continue
            }
            await attempt(record)
        }
    }

    /// The daemon waits on the waker (or the timeout); a drain sleeps, never past its deadline.
    private func wait(_ mode: Mode, seconds: Double) async throws {
        switch mode {
        case .service:
            await waker.wait(timeout: seconds, honourWake: true)
        case .drain(let deadline):
            let wait = min(seconds, deadline.timeIntervalSinceNow, 60)
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        }
    }

    private func attempt(_ stored: StoredRecord) async {
        let outcome = await uploader.upload(id: stored.record.id, json: stored.json, face: stored.face)
        if case .transport(.aborted, _) = outcome { return }   // shutdown: leave it as it was
        let now = Date()
        let action = scheduler.withLock { $0.record(outcome, attempts: stored.attempts, now: now, unit: Double.random(in: 0..<1)) }
        let alert = scheduler.withLock { $0.alert }
        let pausedUntil = scheduler.withLock { $0.pausedUntil }
        do {
            switch action {
            case .delete:
                try await queue.markDelivered(id: stored.record.id)
                update { s in
                    s.delivered += 1
                    s.lastDeliveryAt = now
                    s.alert = nil
                }
                logger.info("record delivered", metadata: ["record_id": "\(stored.record.id.uuidString.lowercased())"])
            case .deadLetter(let reason):
                try await queue.deadLetter(id: stored.record.id, reason: reason)
                update { s in
                    s.deadLettered += 1
                    s.lastError = reason
                }
                logger.error("record rejected by server; moved to dead letter", metadata: ["record_id": "\(stored.record.id.uuidString.lowercased())", "reason": "\(reason)"])
                await refreshDeadLetters()
            case .reschedule(let notBefore, let attempts, let reason):
                try await queue.reschedule(id: stored.record.id, notBefore: notBefore, attempts: attempts, error: reason)
                update { s in
                    s.failedAttempts += 1
                    s.lastError = reason
                    s.alert = alert
                    s.pausedUntil = pausedUntil > now ? pausedUntil : nil
                }
                if alert != nil {
                    logger.critical("upload needs attention", metadata: ["record_id": "\(stored.record.id.uuidString.lowercased())", "reason": "\(reason)"])
                } else {
                    logger.warning("upload failed; will retry", metadata: [
                        "id": "\(stored.record.id)", "reason": "\(reason)", "retryIn": "\(Int(notBefore.timeIntervalSince(now)))s",
                    ])
                }
            }
        } catch {
            logger.error("cannot update queue after upload", metadata: ["record_id": "\(stored.record.id.uuidString.lowercased())", "error": "\(error)"])
        }
    }

    /// Reads how many records the dead letter holds (at start, after a rejection, hourly: `retry-dead` from the CLI
    /// empties it behind our back).
    private func refreshDeadLetters() async {
        guard let n = try? await queue.deadLetterCount() else { return }
        if n != status.deadLetters { update { $0.deadLetters = n } }
    }

    private func update(_ body: (inout UploaderStatus) -> Void) {
        statusBox.withLock { body(&$0) }
    }
}

/// A one-waiter wake-up signal with a timeout.
final class Waker: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private let state = Mutex(State())

    func wake() {
        let c: CheckedContinuation<Void, Never>? = state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        c?.resume()
    }

    /// Waits until woken or `timeout` seconds pass. With `honourWake` false only the timeout (or cancellation) ends it.
    func wait(timeout: Double, honourWake: Bool) async {
        if !honourWake {
            try? await Task.sleep(for: .seconds(max(0, timeout)))
            return
        }
        if Task.isCancelled { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let generation: Int? = state.withLock { s in
                if s.pending {
                    s.pending = false
                    return nil
                }
                s.generation += 1
                s.waiter = c
                return s.generation
            }
            guard let generation else {
                c.resume()
                return
            }
            Task { [self] in
                try? await Task.sleep(for: .seconds(max(0, timeout)))
                let w: CheckedContinuation<Void, Never>? = self.state.withLock { s in
                    guard s.generation == generation, let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                w?.resume()
            }
        }
    }
}

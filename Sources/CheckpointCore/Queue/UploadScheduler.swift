import Foundation

/// The uploader's state machine between attempts: per-record backoff (so one failing record never blocks
/// the ones behind it) and one global pause (429, 503, connect failure) so a struggling server is not hammered.
public struct UploadScheduler: Sendable {
    public var policy: UploadPolicy
    /// No attempt at all before this time.
    public private(set) var pausedUntil: Date = .distantPast
    /// Consecutive pause-causing failures, which drive the global backoff.
    public private(set) var consecutivePauses = 0
    /// Set when the last outcome needs a person (401/403, certificate, no receipt, rejections in a row); cleared by a delivery.
    public private(set) var alert: String?
    /// Permanent rejections (400/413/422) since the last delivery. Past `policy.maxRejectionsInARow` the server is
    /// taken to reject everything (a changed contract, a proxy or certificate problem answering 400): uploading
    /// pauses with an alert instead of moving the whole queue into the dead letter.
    public private(set) var rejectionsInARow = 0

    public init(policy: UploadPolicy = UploadPolicy()) { self.policy = policy }

    /// What to do with the record that was just attempted.
    public enum Action: Sendable, Equatable {
        case delete
        case deadLetter(reason: String)
        /// Keep it; next attempt not before `notBefore`. `attempts` is its new failure count.
        case reschedule(notBefore: Date, attempts: Int, reason: String)
    }

    /// Whether an attempt may start now.
    public func mayAttempt(now: Date) -> Bool { now >= pause(now: now) }

    /// When the global pause ends, seen at `now`. A pause reaching further ahead than any decision can set means the
    /// wall clock stepped back since it was set: it is over.
    public func pause(now: Date) -> Date {
        pausedUntil.timeIntervalSince(now) > policy.longestDelay.uplinkSeconds ? now : pausedUntil
    }

    /// Updates the state after an attempt of a record that had failed `attempts` times before.
    public mutating func record(_ outcome: UploadOutcome, attempts: Int, now: Date, unit: Double) -> Action {
        // A global problem is paced by the global failure count, not by the record's own history.
        let probe = policy.decide(outcome, attempt: attempts, now: now, unit: unit)
        switch probe {
        case .delivered:
            consecutivePauses = 0
            rejectionsInARow = 0
            alert = nil
            return .delete
        case .deadLetter(let reason):
            consecutivePauses = 0
            rejectionsInARow += 1
            guard rejectionsInARow > policy.maxRejectionsInARow else { return .deadLetter(reason: reason) }
            let why = "uploads paused: the server permanently rejected \(rejectionsInARow) records in a row (last: \(reason)); "
                + "the rest stay queued. Check the server and the certificates, then run checkpointctl queue retry-dead"
            alert = why
            pausedUntil = now.addingTimeInterval(policy.slowRetryDelay.uplinkSeconds)
            return .reschedule(notBefore: pausedUntil, attempts: attempts + 1, reason: why)
        case .retry(_, let pauseAll, let isAlert, let reason):
            if isAlert { alert = reason }
            if pauseAll {
                guard case .retry(let delay, _, _, _) = policy.decide(outcome, attempt: consecutivePauses, now: now, unit: unit) else {
                    return .reschedule(notBefore: now, attempts: attempts + 1, reason: reason)
                }
                consecutivePauses += 1
                pausedUntil = now.addingTimeInterval(delay.uplinkSeconds)
                // The record keeps its place at the head of the line: eligible as soon as the pause ends.
                return .reschedule(notBefore: pausedUntil, attempts: attempts + 1, reason: reason)
            }
            guard case .retry(let delay, _, _, _) = probe else { fatalError("unreachable") }
            return .reschedule(notBefore: now.addingTimeInterval(delay.uplinkSeconds), attempts: attempts + 1, reason: reason)
        }
    }

    /// A new endpoint or new TLS settings (a reload): the pause, its backoff and the alert were earned against
    /// the old ones, so they are dropped and the next attempt may start at once.
    public mutating func transportChanged() {
        pausedUntil = .distantPast
        consecutivePauses = 0
        rejectionsInARow = 0
        alert = nil
    }

    /// When the uploader should next wake, given the earliest time any queued record becomes due.
    public func nextWake(earliestDue: Date?) -> Date? {
        guard let earliestDue else { return nil }
        return max(earliestDue, pausedUntil)
    }
}

/// Queue size policy: a page limit and a free-disk floor.
///
/// Near full, face images of the oldest records are dropped before any declaration;
/// when full, new records are refused, never overwritten.
public struct QueueCapacity: Sendable, Equatable {
    /// Upper bound on the database's used size in bytes (enforced by SQLite's max_page_count too).
    public var maxBytes: Int64
    /// Refuse new records if the filesystem would have less than this free.
    public var freeDiskFloor: Int64
    /// Start dropping old face images above this fraction of `maxBytes`.
    public var nearFullFraction: Double

    public init(maxBytes: Int64 = 512 * 1024 * 1024, freeDiskFloor: Int64 = 64 * 1024 * 1024, nearFullFraction: Double = 0.8) {
        self.maxBytes = maxBytes
        self.freeDiskFloor = freeDiskFloor
        self.nearFullFraction = nearFullFraction
    }

    public enum State: Sendable, Equatable {
        case ok
        /// Drop old face images until `bytesToFree` are freed.
        case nearFull(bytesToFree: Int64)
        /// The queue's own limit is reached (HTTP 503).
        case queueFull
        /// The filesystem is below the floor (HTTP 507).
        case diskFull
    }

    public func evaluate(usedBytes: Int64, incomingBytes: Int64, freeDiskBytes: Int64) -> State {
        if freeDiskBytes - incomingBytes < freeDiskFloor { return .diskFull }
        let after = usedBytes + incomingBytes
        if after > maxBytes { return .queueFull }
        let threshold = Int64(Double(maxBytes) * nearFullFraction)
        if after > threshold { return .nearFull(bytesToFree: after - threshold) }
        return .ok
    }
}

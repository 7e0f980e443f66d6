/// The conditions whose change sends a heartbeat at once (rather than at the next interval).
public struct HeartbeatConditions: Sendable, Equatable {
    public var sensorConnected: Bool
    public var cameraOK: Bool
    public var queueAlert: Bool
    public var deadLetters: Int

    public init(sensorConnected: Bool, cameraOK: Bool, queueAlert: Bool, deadLetters: Int) {
        self.sensorConnected = sensorConnected
        self.cameraOK = cameraOK
        self.queueAlert = queueAlert
        self.deadLetters = deadLetters
    }

    /// What changed from `old` to `self`, in a fixed order.
    public func changes(from old: HeartbeatConditions) -> [Heartbeat.Change] {
        var c: [Heartbeat.Change] = []
        if old.sensorConnected != sensorConnected { c.append(sensorConnected ? .sensorBack : .sensorLost) }
        if old.cameraOK != cameraOK { c.append(cameraOK ? .cameraBack : .cameraLost) }
        if old.queueAlert != queueAlert { c.append(queueAlert ? .queueAlert : .queueAlertCleared) }
        if deadLetters > old.deadLetters { c.append(.deadLetters) } else if deadLetters == 0 && old.deadLetters > 0 { c.append(.deadLettersCleared) }
        return c
    }
}

/// When a kiosk sends its heartbeat: at start, every `interval`, and at once when a watched condition changes (sensor
/// or camera lost or back, the uplink alert, new dead letters). Latest-only: nothing is queued; a failed send is
/// retried with a backoff (from `retryMin` doubling up to the interval) carrying the state of that moment, so a
/// kiosk back online sends its current state, not a backlog. State changes are at least `minSpacing` apart, so a
/// flapping sensor cannot flood the uplink (the change still goes out, with the state at that time).
///
/// Times are monotonic seconds.
public struct HeartbeatSchedule: Sendable, Equatable {
    public var interval: Double
    public var minSpacing: Double
    public var retryMin: Double

    /// The conditions of the last heartbeat the server acknowledged.
    public private(set) var acknowledged: HeartbeatConditions?
    public private(set) var lastAttempt: Double?
    public private(set) var lastSuccess: Double?
    public private(set) var failures = 0
    /// Changes seen but not yet acknowledged (carried into the next heartbeat when one fails).
    private var pendingChanges: [Heartbeat.Change] = []
    private var sentOnce = false

    public init(interval: Double, minSpacing: Double = 5, retryMin: Double = 5) {
        self.interval = max(1, interval)
        self.minSpacing = minSpacing
        self.retryMin = retryMin
    }

    public struct Decision: Sendable, Equatable {
        public var reason: Heartbeat.Reason
        public var changes: [Heartbeat.Change]
    }

    /// Whether to send now, and why.
    public func decide(now: Double, conditions: HeartbeatConditions) -> Decision? {
        let changes = pendingChangesMerged(with: conditions)
        guard let last = lastAttempt else {
            return Decision(reason: .startup, changes: [])
        }
        let since = now - last
        if failures > 0 {
            // Retrying: the backoff decides, a state change does not shorten it.
            guard since >= retryDelay else { return nil }
            return Decision(reason: !sentOnce ? .startup : (changes.isEmpty ? .interval : .stateChange), changes: changes)
        }
        if !changes.isEmpty && since >= minSpacing { return Decision(reason: .stateChange, changes: changes) }
        if since >= interval { return Decision(reason: changes.isEmpty ? .interval : .stateChange, changes: changes) }
        return nil
    }

    /// Seconds until `decide` may say yes without a state change (for the sender's sleep).
    public func secondsUntilDue(now: Double) -> Double {
        guard let last = lastAttempt else { return 0 }
        let wait = failures > 0 ? retryDelay : interval
        return max(0, last + wait - now)
    }

    /// The current retry delay after `failures` failed sends.
    public var retryDelay: Double {
        guard failures > 0 else { return interval }
        let exp = min(failures - 1, 20)
        return min(interval, retryMin * Double(1 << exp))
    }

    /// A heartbeat built with `conditions` was sent and acknowledged.
    public mutating func succeeded(at now: Double, conditions: HeartbeatConditions) {
        lastAttempt = now
        lastSuccess = now
        failures = 0
        acknowledged = conditions
        pendingChanges = []
        sentOnce = true
    }

    /// A heartbeat built with `conditions` could not be delivered; its changes are kept for the next one.
    public mutating func failed(at now: Double, conditions: HeartbeatConditions) {
        pendingChanges = pendingChangesMerged(with: conditions)
        lastAttempt = now
        failures += 1
    }

    private func pendingChangesMerged(with conditions: HeartbeatConditions) -> [Heartbeat.Change] {
        guard let acknowledged else { return pendingChanges }
        var merged = pendingChanges
        for c in conditions.changes(from: acknowledged) where !merged.contains(c) { merged.append(c) }
        // A condition that flipped back before anything was delivered keeps its change: the province learns the
        // sensor dropped out even though it is back by now.
        return merged
    }
}

/// Screenings by result since the last acknowledged heartbeat. A heartbeat that fails keeps its counts for the next.
public struct ScreeningTally: Sendable, Equatable {
    public private(set) var counts = Heartbeat.Screenings()
    public init() {}

    public mutating func add(_ outcome: ScreeningResult.Outcome) {
        switch outcome {
        case .normal: counts.normal += 1
        case .elevated: counts.elevated += 1
        case .invalid: counts.invalid += 1
        }
    }

    /// The server acknowledged a heartbeat carrying `sent`: those are no longer counted (later ones stay).
    public mutating func acknowledge(_ sent: Heartbeat.Screenings) {
        counts.normal = max(0, counts.normal - sent.normal)
        counts.elevated = max(0, counts.elevated - sent.elevated)
        counts.invalid = max(0, counts.invalid - sent.invalid)
    }
}

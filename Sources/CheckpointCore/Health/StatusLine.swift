/// The one-line summary sent to systemd as `STATUS=` (shown by `systemctl status`): camera fps,
/// sensor state, queue depth and the last upload. No personal data.
public struct StatusLine: Sendable, Equatable {
    public var cameraFPS: Double?
    public var sensor: String
    public var queueDepth: Int
    public var secondsSinceLastUpload: Double?
    public var overall: String
    /// Records in the dead letter (rejected by the server, waiting for a person).
    public var deadLetters: Int
    /// The uploader needs a person (see `UploaderStatus.attention`).
    public var uploadNeedsAttention: Bool
    /// Corrupt queue databases moved aside and still present (they may hold declarations never uploaded).
    public var quarantinedQueues: Int

    public init(cameraFPS: Double?, sensor: String, queueDepth: Int, secondsSinceLastUpload: Double?, overall: String,
                deadLetters: Int = 0, uploadNeedsAttention: Bool = false, quarantinedQueues: Int = 0) {
        self.cameraFPS = cameraFPS
        self.sensor = sensor
        self.queueDepth = queueDepth
        self.secondsSinceLastUpload = secondsSinceLastUpload
        self.overall = overall
        self.deadLetters = deadLetters
        self.uploadNeedsAttention = uploadNeedsAttention
        self.quarantinedQueues = quarantinedQueues
    }

    public var text: String {
        let fps = cameraFPS.map { String(format1: $0) + " fps" } ?? "no frames"
        let upload: String
        if let s = secondsSinceLastUpload { upload = "last upload \(Self.age(s)) ago" } else { upload = "no upload yet" }
        let dead = deadLetters > 0 ? " (\(deadLetters) dead letter\(deadLetters == 1 ? "" : "s"))" : ""
        let attention = uploadNeedsAttention ? "; UPLOAD NEEDS ATTENTION" : ""
        let quarantine = quarantinedQueues > 0 ? "; CORRUPT QUEUE MOVED ASIDE (see /healthz)" : ""
        return "\(overall); camera \(fps); sensor \(sensor); queue \(queueDepth)\(dead); \(upload)\(attention)\(quarantine)"
    }

    /// "42s", "5m", "3h", "2d".
    public static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}

extension String {
    /// One decimal place without Foundation's locale-dependent formatting.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

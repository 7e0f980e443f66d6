import Foundation

/// Where and when a record was made. Wall time alone is not trusted on a kiosk without an RTC, so the
/// boot id and monotonic time travel with it and the server can correct the clock afterwards.
public struct RecordClock: Codable, Sendable, Equatable {
    /// Wall-clock time of capture.
    public var wallTime: Date
    /// Whether the system clock had been synchronised (systemd-timesyncd) when the record was made.
    public var clockSynced: Bool
    /// `/proc/sys/kernel/random/boot_id` at capture.
    public var bootId: String
    /// CLOCK_BOOTTIME at capture, in nanoseconds since boot.
    public var monotonicNanos: UInt64

    public init(wallTime: Date, clockSynced: Bool, bootId: String, monotonicNanos: UInt64) {
        self.wallTime = wallTime
        self.clockSynced = clockSynced
        self.bootId = bootId
        self.monotonicNanos = monotonicNanos
    }
}

/// One confirmed declaration, as stored in the queue and uploaded (the JSON part of the upload;
/// the face JPEG travels beside it as its own part).
public struct QueueRecord: Codable, Sendable, Equatable {
    /// Record id; also the `Idempotency-Key` of every upload attempt.
    public var id: UUID
    public var checkpointId: String
    public var deviceId: String
    public var clock: RecordClock
    /// The validated declaration, as the kiosk sent it.
    public var declaration: [String: JSONValue]
    public var screening: ScreeningSummary
    /// Software version of the daemon that made the record.
    public var softwareVersion: String
    /// Whether a face image was captured with this record (it may since have been dropped for space or retention).
    public var faceCaptured: Bool

    public init(id: UUID = UUID(), checkpointId: String, deviceId: String, clock: RecordClock,
                declaration: [String: JSONValue], screening: ScreeningSummary,
                softwareVersion: String = CheckpointVersion.string, faceCaptured: Bool) {
        self.id = id
        self.checkpointId = checkpointId
        self.deviceId = deviceId
        self.clock = clock
        self.declaration = declaration
        self.screening = screening
        self.softwareVersion = softwareVersion
        self.faceCaptured = faceCaptured
    }

    /// The JSON encoding used both in the store and on the wire (stable key order, ISO-8601 dates).
    public func encoded() throws -> Data {
        try QueueRecord.encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> QueueRecord {
        try decoder.decode(QueueRecord.self, from: data)
    }

    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(QueueRecord.formatDate(date))
        }
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = QueueRecord.parseDate(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO-8601 date: \(s)")
            }
            return date
        }
        return d
    }

    /// Millisecond ISO-8601 (`2026-11-20T02:30:00.135Z`), rounded to the nearest millisecond. A parsed ".135" is
    /// 0.13499… s as a Double and ISO8601FormatStyle truncates, so every decode/encode lost a millisecond (fuzzing).
    static func formatDate(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())   // …:SSZ
        let fraction = ms - seconds * 1000
        return String(whole.dropLast()) + "." + String(format: "%03d", fraction) + "Z"
    }

    static func parseDate(_ s: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }
}

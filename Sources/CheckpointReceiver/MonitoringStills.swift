import CheckpointCore
import Foundation
import Synchronization

/// The receiver's side of monitoring stills (issue #20): an operator asks for a still of one kiosk; the request waits
/// for that kiosk's next heartbeat, whose reply carries it once; the kiosk answers with a still or a refusal. Only the
/// latest still per kiosk is kept, as two files in the stills directory (`DEVICE.jpg`, mode 0600, and `DEVICE.json`,
/// its time, request id and whether its faces were blurred); retention unlinks both.
///
/// Requests live in this process's memory: a receiver restarted between a request and its heartbeat forgets it (the
/// operator asks again); a still for a request this receiver did not hand out is refused (409), so no kiosk can push
/// images nobody asked for.
public final class MonitoringStills: Sendable {
    /// What the receiver knows of one kiosk's stills (`MonitoringStill` in openapi.yaml, in the fleet JSON).
    public struct State: Codable, Sendable, Equatable {
        /// `pending`: asked, waiting for the kiosk's next heartbeat; `delivered`: handed over on a heartbeat's reply,
        /// waiting for the still; `received`: the latest request was answered with a still; `refused`: the kiosk said
        /// no (`refusal`); nil when nothing was asked since this receiver started.
        public enum Request: String, Codable, Sendable { case pending, delivered, received, refused }
        public var request: Request?
        public var requestId: String?
        public var requestedAt: Date?
        /// Why the kiosk refused: `disabled` ([monitoring] still_enabled = false) or `no-camera-frame`.
        public var refusal: StillRefusal.Reason?
        /// The latest still kept, if any.
        public var still: Still?
    }

    /// The latest still's facts (its `.json` file).
    public struct Still: Codable, Sendable, Equatable {
        public var requestId: String
        public var receivedAt: Date
        public var facesBlurred: Bool
        public var faces: Int
        public var bytes: Int
    }

    public let directory: String
    private let requests = Mutex<[String: State]>([:])

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = directory
    }

    /// Whether `deviceId` can name a kiosk's files: letters, digits, `.`, `_`, `-`, not starting with a dot, 1–128.
    public static func isSafeDeviceId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && !id.hasPrefix(".")
            && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// An operator's request: a new id, pending until the kiosk's next heartbeat (a pending one is replaced).
    public func request(deviceId: String, now: Date) -> String {
        let id = UUID().uuidString.lowercased()
        requests.withLock { r in
            var s = r[deviceId] ?? State()
            s.request = .pending
            s.requestId = id
            s.requestedAt = now
            s.refusal = nil
            r[deviceId] = s
        }
        return id
    }

    /// The request to carry on `deviceId`'s heartbeat reply, once: pending becomes delivered.
    public func take(deviceId: String) -> StillRequest? {
        requests.withLock { r in
            guard var s = r[deviceId], s.request == .pending, let id = s.requestId else { return nil }
            s.request = .delivered
            r[deviceId] = s
            return StillRequest(id: id)
        }
    }

    /// Whether `requestId` is the request handed to `deviceId` and not yet answered.
    public func isOutstanding(deviceId: String, requestId: String) -> Bool {
        requests.withLock { r in
            guard let s = r[deviceId], s.requestId == requestId else { return false }
            return s.request == .delivered || s.request == .pending
        }
    }

    /// The kiosk refused `requestId`; false when it is not outstanding.
    public func refused(deviceId: String, requestId: String, reason: StillRefusal.Reason) -> Bool {
        requests.withLock { r in
            guard var s = r[deviceId], s.requestId == requestId, s.request == .delivered || s.request == .pending else { return false }
            s.request = .refused
            s.refusal = reason
            r[deviceId] = s
            return true
        }
    }

    /// Keeps `jpeg` as `deviceId`'s latest still (replacing the previous one) and marks the request answered.
    public func store(deviceId: String, requestId: String, jpeg: Data, facesBlurred: Bool, faces: Int, now: Date) throws -> Still {
        let still = Still(requestId: requestId, receivedAt: now, facesBlurred: facesBlurred, faces: faces, bytes: jpeg.count)
        let meta = try QueueRecord.encoder.encode(still)
        try write(jpeg, to: "\(directory)/\(deviceId).jpg")
        try write(meta, to: "\(directory)/\(deviceId).json")
        requests.withLock { r in
            var s = r[deviceId] ?? State()
            if s.requestId == requestId { s.request = .received }
            r[deviceId] = s
        }
        return still
    }

    /// Written beside, then renamed over: a reader never sees half a still.
    private func write(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ReceiverError(.storage, "cannot write \(tmp)")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw ReceiverError(.storage, "cannot rename \(tmp): errno \(errno)")
        }
    }

    /// The latest still of `deviceId`, with its facts.
    public func latest(deviceId: String) -> (still: Still, jpeg: Data)? {
        guard Self.isSafeDeviceId(deviceId), let still = stillFacts(deviceId),
              let jpeg = FileManager.default.contents(atPath: "\(directory)/\(deviceId).jpg") else { return nil }
        return (still, jpeg)
    }

    private func stillFacts(_ deviceId: String) -> Still? {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(deviceId).json") else { return nil }
        return try? QueueRecord.decoder.decode(Still.self, from: data)
    }

    /// What the fleet view shows for `deviceId` (nil: nothing asked, nothing kept).
    public func state(deviceId: String) -> State? {
        var s = requests.withLock { $0[deviceId] } ?? State()
        if Self.isSafeDeviceId(deviceId) { s.still = stillFacts(deviceId) }
        return s == State() ? nil : s
    }

    /// Retention: unlinks every still (and its facts) received before `cutoff`; returns how many stills went.
    @discardableResult
    public func purge(receivedBefore cutoff: Date) -> Int {
        var n = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".jpg") {
            let device = String(name.dropLast(4))
            let path = "\(directory)/\(name)"
            let received = stillFacts(device)?.receivedAt
                ?? ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date)
            guard let received, received < cutoff else { continue }
            if unlink(path) == 0 { n += 1 }
            unlink("\(directory)/\(device).json")
        }
        return n
    }
}

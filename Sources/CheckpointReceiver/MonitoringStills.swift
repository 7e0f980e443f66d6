import CheckpointCore
import Foundation

/// The receiver's side of monitoring stills (issue #20): an operator asks for a still of one kiosk; the request waits
/// for that kiosk's next heartbeat, whose reply carries it once; the kiosk answers with a still or a refusal. Only the
/// latest still per kiosk is kept, as two files in the stills directory (`DEVICE.jpg`, mode 0600, and `DEVICE.json`,
/// its time, request id and whether its faces were blurred); retention unlinks both.
///
/// The requests live in the receiver's storage (`ReceiverStorage.putStillRequest`), so every receiver on one database
/// sees the same: a still for a request no receiver handed out is refused (409), so no kiosk can push images nobody
/// asked for. With several receivers the stills directory is shared, like the faces directory.
public final class MonitoringStills: Sendable {
    /// What the receiver knows of one kiosk's stills (`MonitoringStill` in openapi.yaml, in the fleet JSON).
    public struct State: Codable, Sendable, Equatable {
        public typealias Request = StillRequestRecord.State
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

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = directory
        FaceSpool.removeLeftovers(in: directory)   // a crash's half-written stills
    }

    /// Whether `deviceId` can name a kiosk's files: letters, digits, `.`, `_`, `-`, not starting with a dot, 1–128.
    public static func isSafeDeviceId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && !id.hasPrefix(".")
            && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// Keeps `jpeg` as `deviceId`'s latest still (replacing the previous one); the service marks the request answered.
    public func store(deviceId: String, requestId: String, jpeg: Data, facesBlurred: Bool, faces: Int, now: Date) async throws -> Still {
        let still = Still(requestId: requestId, receivedAt: now, facesBlurred: facesBlurred, faces: faces, bytes: jpeg.count)
        let meta = try QueueRecord.encoder.encode(still)
        try await write(jpeg, to: "\(directory)/\(deviceId).jpg")
        try await write(meta, to: "\(directory)/\(deviceId).json")
        return still
    }

    /// Through the receiver's one spooled writer (`FaceSpool`: a private temporary file with a unique name, synced,
    /// then renamed over; off the cooperative pool): a reader never sees half a still, and two receivers sharing the
    /// directory never write the same temporary file.
    private func write(_ data: Data, to path: String) async throws {
        let spool = try FaceSpool.create(in: directory)
        do {
            try await spool.write([UInt8](data))
            try await spool.commit(as: path)
        } catch {
            await spool.discard()
            throw error
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

    /// What the fleet view shows for `deviceId`, given its current request (nil: nothing asked, nothing kept).
    public func state(deviceId: String, request: StillRequestRecord?) -> State? {
        var s = State(request: request?.state, requestId: request?.requestId, requestedAt: request?.requestedAt, refusal: request?.refusal)
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

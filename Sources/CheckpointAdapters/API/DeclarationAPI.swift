#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Settings for the kiosk-facing HTTP API.
public struct APIConfiguration: Sendable {
    /// Unix socket path, e.g. /run/checkpointd/api.sock.
    public var socketPath: String?
    /// Group that may use the socket (mode 0660). nil keeps the daemon's group.
    public var socketGroup: String?
    /// Optional loopback TCP port (bound to 127.0.0.1 only).
    public var tcpPort: Int?
    /// How long POST /v1/declarations waits for a screening result.
    public var screeningWait: Duration
    public var maxDeclarationBytes: Int
    public var checkpointId: String
    public var deviceId: String

    public init(socketPath: String? = "/run/checkpointd/api.sock", socketGroup: String? = nil, tcpPort: Int? = nil,
                screeningWait: Duration = .seconds(3), maxDeclarationBytes: Int = DeclarationValidator.defaultMaxBytes,
                checkpointId: String, deviceId: String) {
        self.socketPath = socketPath
        self.socketGroup = socketGroup
        self.tcpPort = tcpPort
        self.screeningWait = screeningWait
        self.maxDeclarationBytes = maxDeclarationBytes
        self.checkpointId = checkpointId
        self.deviceId = deviceId
    }
}

/// Reads the record clock: wall time, sync flag, boot id and CLOCK_BOOTTIME.
public enum SystemRecordClock {
    public static func now() -> RecordClock {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        return RecordClock(wallTime: Date(), clockSynced: access("/run/systemd/timesync/synchronized", F_OK) == 0, bootId: boot,
                           monotonicNanos: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// The kiosk API: POST /v1/declarations, GET /v1/screening, GET /healthz, GET /metrics.
///
/// Run it with `run()` (until cancelled), or add `applications()` to a ServiceGroup.
public final class DeclarationAPI: Sendable {
    public let configuration: APIConfiguration
    let store: QueueStore
    let screening: any ScreeningProvider
    let uploader: UploadService?
    let metrics: UplinkMetrics
    let logger: Logger
    let validator: DeclarationValidator
    /// Extra health fields from other parts of the daemon (camera, sensor…), merged into /healthz.
    let extraHealth: (@Sendable () async -> [String: String])?

    public init(configuration: APIConfiguration, store: QueueStore, screening: any ScreeningProvider, uploader: UploadService?,
                metrics: UplinkMetrics = UplinkMetrics(), logger: Logger = Logger(label: "checkpointd.api"),
                extraHealth: (@Sendable () async -> [String: String])? = nil) {
        self.configuration = configuration
        self.store = store
        self.screening = screening
        self.uploader = uploader
        self.metrics = metrics
        self.logger = logger
        self.validator = DeclarationValidator(maxBytes: configuration.maxDeclarationBytes)
        self.extraHealth = extraHealth
    }

    struct Created: Encodable {
        let id: String
        let screening: ScreeningSummary
    }

    struct Problem: Encodable {
        let error: String
        let field: String?
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/declarations") { [self] request, _ -> Response in
            await self.postDeclaration(request)
        }
        router.get("/v1/screening") { [self] _, _ -> Response in
            Self.json(.ok, await self.screening.currentState())
        }
        router.get("/healthz") { [self] _, _ -> Response in
            await self.health()
        }
        router.get("/metrics") { [self] _, _ -> Response in
            self.metrics.update(queue: try? await self.store.io { try $0.status() }, uploader: self.uploader?.status)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        return router
    }

    func postDeclaration(_ request: Request) async -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxDeclarationBytes)
        } catch {
            metrics.declarationsRejected.increment()
            return Self.problem(.contentTooLarge, "declaration is larger than \(configuration.maxDeclarationBytes) bytes", field: nil)
        }
        let declaration: [String: JSONValue]
        do {
            declaration = try validator.validate(Data(buffer: body))
        } catch {
            metrics.declarationsRejected.increment()
            // Field names only; never the values (personal data).
            logger.notice("declaration refused", metadata: ["status": "\(error.httpStatus)", "field": "\(error.field ?? "-")"])
            return Self.problem(HTTPResponse.Status(code: error.httpStatus), error.message, field: error.field)
        }
        let capture = await screening.awaitCapture(timeout: configuration.screeningWait)
        let summary = capture?.summary ?? .unavailable
        let record = QueueRecord(checkpointId: configuration.checkpointId, deviceId: configuration.deviceId,
                                 clock: SystemRecordClock.now(), declaration: declaration, screening: summary,
                                 faceCaptured: capture?.faceJPEG != nil)
        let start = ContinuousClock.now
        do {
            let face = capture?.faceJPEG
            try await store.io { try $0.enqueue(record, face: face) }
        } catch let e as AdapterError where e.code == .queueFull || e.code == .diskFull {
            metrics.declarationsRefusedFull.increment()
            logger.error("declaration refused: storage full", metadata: ["reason": "\(e.message)"])
            return Self.problem(e.code == .queueFull ? .serviceUnavailable : HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), e.message, field: nil)
        } catch {
            metrics.declarationsRefusedFull.increment()
            logger.error("declaration could not be stored", metadata: ["error": "\(error)"])
            return Self.problem(.serviceUnavailable, "the declaration could not be stored: \(error)", field: nil)
        }
        metrics.enqueueSeconds.record(ContinuousClock.now - start)
        metrics.declarationsAccepted.increment()
        uploader?.wake()
        logger.info("declaration stored", metadata: ["id": "\(record.id)", "screening": "\(summary.result.rawValue)"])
        return Self.json(.created, Created(id: record.id.uuidString.lowercased(), screening: summary))
    }

    func health() async -> Response {
        var fields: [String: String] = ["status": "ok", "version": CheckpointVersion.string]
        var healthy = true
        do {
            let q = try await store.io { try $0.status() }
            fields["queue.pending"] = "\(q.pending)"
            fields["queue.dead"] = "\(q.dead)"
            fields["queue.usedBytes"] = "\(q.usedBytes)"
            fields["queue.maxBytes"] = "\(q.maxBytes)"
            fields["queue.freeDiskBytes"] = "\(q.freeDiskBytes)"
            if let oldest = q.oldestPendingAt { fields["queue.oldestPendingAt"] = oldest.formatted(.iso8601) }
            let quarantined = store.quarantinedFiles
            if !quarantined.isEmpty {
                // A corrupt queue was moved aside: it may hold declarations never uploaded. A person must recover them.
                healthy = false
                fields["queue.quarantined"] = quarantined.joined(separator: " ")
            }
        } catch {
            healthy = false
            fields["queue.error"] = "\(error)"
        }
        if let u = uploader?.status {
            fields["upload.delivered"] = "\(u.delivered)"
            fields["upload.deadLettered"] = "\(u.deadLettered)"
            fields["upload.failedAttempts"] = "\(u.failedAttempts)"
            if let last = u.lastDeliveryAt { fields["upload.lastDeliveryAt"] = last.formatted(.iso8601) }
            if let e = u.lastError { fields["upload.lastError"] = e }
            fields["upload.deadLetters"] = "\(u.deadLetters)"
            if let a = u.attention {
                fields["upload.alert"] = a
                healthy = false
            }
        }
        if let extraHealth { fields.merge(await extraHealth()) { _, new in new } }
        if !healthy { fields["status"] = "degraded" }
        return Self.json(.ok, fields)
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? QueueRecord.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String, field: String?) -> Response {
        json(status, Problem(error: message, field: field))
    }

    /// The Hummingbird applications: the Unix socket one and, if configured, a 127.0.0.1 TCP one.
    public func applications() -> [any ApplicationProtocol] {
        var apps: [any ApplicationProtocol] = []
        let router = router()
        if let path = configuration.socketPath {
            let group = configuration.socketGroup
            let logger = logger
            apps.append(Application(
                router: router,
                configuration: .init(address: .unixDomainSocket(path: path), serverName: "checkpointd"),
                onServerRunning: { _ in Self.secureSocket(path: path, group: group, logger: logger) },
                logger: logger))
        }
        if let port = configuration.tcpPort {
            apps.append(Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "checkpointd"),
                                    logger: logger))
        }
        return apps
    }

    /// Serves until the task is cancelled, then shuts down gracefully (requests in flight finish).
    /// A daemon that already has a ServiceGroup can add `applications()` to it instead.
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: applications().map { $0 as any Service }, logger: logger))
        // Run outside this task so cancelling it asks for a graceful shutdown instead of tearing the server down.
        let runner = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await runner.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    static func secureSocket(path: String, group: String?, logger: Logger) {
        if let group {
            if let g = getgrnam(group) {
                if chown(path, uid_t.max, g.pointee.gr_gid) != 0 {
                    logger.error("cannot give API socket to group", metadata: ["group": "\(group)", "errno": "\(errno)"])
                }
            } else {
                logger.error("API socket group does not exist", metadata: ["group": "\(group)"])
            }
        }
        if chmod(path, 0o660) != 0 { logger.error("cannot chmod API socket", metadata: ["path": "\(path)", "errno": "\(errno)"]) }
    }
}

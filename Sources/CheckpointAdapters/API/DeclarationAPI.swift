#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Settings for the kiosk-facing HTTP API.
public struct APIConfiguration: Sendable {
    /// Unix socket path, e.g. /run/checkpointd/api.sock.
    public var socketPath: String?
    /// Permissions of the socket file (`[api] socket_mode`).
    public var socketMode: Int
    /// Group that may use the socket (`[api] socket_group`). nil keeps the daemon's group.
    public var socketGroup: String?
    /// Optional loopback TCP port (bound to 127.0.0.1 only).
    public var tcpPort: Int?
    public var maxDeclarationBytes: Int
    public var checkpointId: String
    public var deviceId: String
    /// The kiosk screen, served on the TCP listener only; nil = not served.
    public var ui: UIConfiguration?
    /// How often an idle event stream gets a `: keepalive` comment.
    public var keepaliveInterval: Duration
    /// A connection with no request in flight for this long is closed; a request head must arrive within it.
    public var idleTimeout: Duration
    /// Open connections per listener; beyond it new connections wait in the listen backlog (fds stay bounded).
    public var maxConnections: Int
    /// Declaration POSTs being handled at once; beyond it: 503 `busy`.
    public var maxConcurrentDeclarations: Int
    /// The longest a declaration's body may take to arrive once its head has (a slow body is answered 408).
    public var bodyTimeout: Duration

    public init(socketPath: String? = "/run/checkpointd/api.sock", socketMode: Int = 0o660, socketGroup: String? = nil, tcpPort: Int? = nil,
                maxDeclarationBytes: Int = DeclarationValidator.defaultMaxBytes, checkpointId: String, deviceId: String,
                ui: UIConfiguration? = nil, keepaliveInterval: Duration = .seconds(15), idleTimeout: Duration = .seconds(30),
                maxConnections: Int = 64, maxConcurrentDeclarations: Int = 8, bodyTimeout: Duration = .seconds(10)) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.socketGroup = socketGroup
        self.tcpPort = tcpPort
        self.maxDeclarationBytes = maxDeclarationBytes
        self.checkpointId = checkpointId
        self.deviceId = deviceId
        self.ui = ui
        self.keepaliveInterval = keepaliveInterval
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxConcurrentDeclarations = maxConcurrentDeclarations
        self.bodyTimeout = bodyTimeout
    }
}

/// The kiosk screen's files and camera preview (`[ui]`).
public struct UIConfiguration: Sendable {
    /// Directory of index.html and its files.
    public var directory: String
    /// Serve /v1/camera/preview.{mjpeg,jpg}.
    public var preview: Bool
    /// `[queue] face_retention_hours`, for the consent notice (GET /v1/kiosk/settings).
    public var faceRetentionHours: Int?
    /// Serve GET /v1/qr/events (health QR codes read from the camera for the declaration step).
    public var qrScan: Bool
    public init(directory: String, preview: Bool = true, faceRetentionHours: Int? = nil, qrScan: Bool = true) {
        self.directory = directory
        self.preview = preview
        self.faceRetentionHours = faceRetentionHours
        self.qrScan = qrScan
    }
}

/// The kiosk API: POST /v1/declarations, GET /v1/screening, GET /v1/screening/events, GET /healthz, GET /metrics;
/// on the 127.0.0.1 TCP listener also the kiosk screen (GET /, /ui/…), the camera preview and the QR scan events.
///
/// Run it with `run()` (until cancelled), or add `applications()` to a ServiceGroup.
public final class DeclarationAPI: Sendable {
    public let configuration: APIConfiguration
    let store: AsyncQueueStore
    let screening: any ScreeningProvider
    let uploader: UploadService?
    let metrics: UplinkMetrics
    let logger: Logger
    let validator: DeclarationValidator
    let preview: CameraPreview?
    /// A technician's camera snapshot (API socket only).
    let snapshot: LiveSnapshot?
    let qrScanner: QRScanner?
    let files: StaticFiles?
    /// Extra health fields from other parts of the daemon (camera, sensor…), merged into /healthz.
    let extraHealth: (@Sendable () async -> [String: String])?
    /// Declaration POSTs in flight (capped by `maxConcurrentDeclarations`).
    let declarationsInFlight = Mutex(0)
    /// The record clock's fixed part (boot id), read once at start.
    let recordClock: SystemRecordClock
    /// Idempotency-Keys whose declaration is being handled now: a retry with the same key waits for it.
    let keysInFlight = InFlightKeys()

    public init(configuration: APIConfiguration, store: AsyncQueueStore, screening: any ScreeningProvider, uploader: UploadService?,
                metrics: UplinkMetrics = UplinkMetrics(), logger: Logger = Logger(label: "checkpointd.api"),
                preview: CameraPreview? = nil, snapshot: LiveSnapshot? = nil, qrScanner: QRScanner? = nil,
                extraHealth: (@Sendable () async -> [String: String])? = nil) {
        self.configuration = configuration
        self.store = store
        self.screening = screening
        self.uploader = uploader
        self.metrics = metrics
        self.logger = logger
        self.validator = DeclarationValidator(maxBytes: configuration.maxDeclarationBytes)
        self.preview = configuration.ui?.preview == true ? preview : nil
        self.snapshot = snapshot
        self.qrScanner = configuration.ui?.qrScan == true ? qrScanner : nil
        self.files = configuration.ui.map { StaticFiles(root: $0.directory) }
        self.extraHealth = extraHealth
        self.recordClock = SystemRecordClock()
        logger.info("record clock", metadata: ["boot_id": "\(recordClock.bootId)", "sync_source": "\(SystemRecordClock.syncSource())",
                                               "synced": "\(SystemRecordClock.clockSynced())"])
    }

    /// The 201 answer: the record id, a short code people can read out, and the screening stored with it.
    struct Created: Codable {
        let id: String
        let shortCode: String
        let screening: ScreeningSummary
    }

    /// GET /v1/kiosk/settings (TCP, with the screen).
    struct KioskSettings: Encodable, Sendable {
        let faceRetentionHours: Int?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(faceRetentionHours, forKey: .faceRetentionHours)
        }
        private enum CodingKeys: String, CodingKey { case faceRetentionHours }
    }

    struct FieldProblem: Encodable {
        let field: String
        let code: String
    }

    /// Every error body: an English `error`, and where it applies the first `field`, a language-neutral `code`
    /// and (422) every invalid field in `errors`.
    struct Problem: Encodable {
        var error: String
        var field: String?
        var code: String?
        var errors: [FieldProblem]?
        /// `idempotency-key-reused`: the record stored under that key (only its sender knows the key).
        var id: String?
        var shortCode: String?
    }

    /// The routes both listeners serve. On TCP (`requireJSON`) a declaration must say `Content-Type: application/json`:
    /// a cross-site form can post to 127.0.0.1 without a CORS preflight, but not with that type.
    func addAPIRoutes(to router: Router<BasicRequestContext>, requireJSON: Bool = false) {
        router.post("/v1/declarations") { [self] request, _ -> Response in
            if requireJSON, !Self.isJSON(request.headers[.contentType]) {
                self.metrics.declarationsRejected.increment()
                return Self.problem(.unsupportedMediaType, "a declaration must be sent as Content-Type: application/json", field: nil,
                                    code: "unsupported-media-type")
            }
            guard self.enterDeclaration() else {
                self.logger.warning("declaration refused: too many at once", metadata: ["limit": "\(self.configuration.maxConcurrentDeclarations)"])
                return Self.problem(.serviceUnavailable, "the kiosk is busy; please try again", field: nil, code: "busy")
            }
            defer { self.leaveDeclaration() }
            return await self.postDeclaration(request)
        }
        router.get("/v1/screening") { [self] _, _ -> Response in
            Self.json(.ok, await self.screening.currentView())
        }
        router.get("/v1/screening/events") { [self] _, _ -> Response in
            ScreeningEvents.response(screening: self.screening, keepalive: self.configuration.keepaliveInterval)
        }
        router.get("/healthz") { [self] _, _ -> Response in
            await self.health()
        }
        router.get("/metrics") { [self] _, _ -> Response in
            await self.metrics.refreshState()
            self.metrics.update(queue: try? await self.store.status(), uploader: self.uploader?.status)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
    }

    /// The Unix socket's router: the API.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        addAPIRoutes(to: router)
        addTechnicianRoutes(to: router)
        return router
    }

    /// The 127.0.0.1 TCP listener's router: the API, the kiosk screen and the camera preview, behind the
    /// Host/Origin check (DNS rebinding) and the security headers.
    public func tcpRouter(port: Int) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        router.add(middleware: LoopbackGuard(port: port))
        addAPIRoutes(to: router, requireJSON: true)
        if let files {
            router.get("/") { _, _ -> Response in
                Response(status: .found, headers: [.location: "/ui/"])
            }
            // The router treats /ui and /ui/ alike; the page's relative URLs need the slash.
            router.get("/ui/") { request, _ -> Response in
                if !request.uri.path.hasSuffix("/") { return Response(status: .found, headers: [.location: "/ui/"]) }
                return await files.response(for: "index.html")
            }
            router.get("/ui/**") { _, context -> Response in
                await files.response(for: context.parameters.getCatchAll().joined(separator: "/"))
            }
            // What the screen states from the daemon's configuration (the consent notice's retention period).
            let settings = KioskSettings(faceRetentionHours: configuration.ui?.faceRetentionHours)
            router.get("/v1/kiosk/settings") { _, _ -> Response in Self.json(.ok, settings) }
        }
        router.get("/v1/camera/preview.mjpeg") { [self] _, _ -> Response in
            guard let preview = self.preview else { return Self.problem(.notFound, "the camera preview is off", field: nil) }
            return preview.mjpegResponse() ?? Self.problem(.serviceUnavailable, "too many preview clients", field: nil, code: "preview-busy")
        }
        router.get("/v1/camera/preview.jpg") { [self] _, _ -> Response in
            guard let preview = self.preview else { return Self.problem(.notFound, "the camera preview is off", field: nil) }
            return await preview.jpegResponse() ?? Self.problem(.serviceUnavailable, "no camera frame yet", field: nil, code: "no-frame")
        }
        router.get("/v1/qr/events") { [self] _, _ -> Response in
            guard let scanner = self.qrScanner else { return Self.problem(.notFound, "QR scanning is off", field: nil, code: "qr-off") }
            return QREvents.response(scanner: scanner, keepalive: min(self.configuration.keepaliveInterval, .seconds(1)))
                ?? Self.problem(.serviceUnavailable, "too many QR scan streams", field: nil, code: "qr-busy")
        }
        return router
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`), any case.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    /// Takes a declaration slot, or false when `maxConcurrentDeclarations` are in flight.
    func enterDeclaration() -> Bool {
        let limit = configuration.maxConcurrentDeclarations
        return declarationsInFlight.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func leaveDeclaration() { declarationsInFlight.withLock { $0 -= 1 } }

    static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!

    /// An Idempotency-Key is 1–128 printable ASCII characters.
    static func isValidIdempotencyKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 128 && key.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    func postDeclaration(_ request: Request) async -> Response {
        let body: ByteBuffer
        switch await Self.collect(request.body, upTo: configuration.maxDeclarationBytes, within: configuration.bodyTimeout) {
        case .body(let b):
            body = b
        case .tooLarge:
            metrics.declarationsRejected.increment()
            return Self.problem(.contentTooLarge, "declaration is larger than \(configuration.maxDeclarationBytes) bytes", field: nil)
        case .tooSlow:
            metrics.declarationsRejected.increment()
            logger.notice("declaration refused: its body did not arrive in time")
            return Self.problem(.requestTimeout, "the declaration did not arrive in time", field: nil, code: "request-timeout")
        }
        let bodyData = Data(buffer: body)

        // A retry of a declaration already stored gets the same answer and stores nothing.
        var idempotencyKey: String?
        if let key = request.headers[Self.idempotencyHeader] {
            guard Self.isValidIdempotencyKey(key) else {
                metrics.declarationsRejected.increment()
                return Self.problem(.badRequest, "Idempotency-Key must be 1 to 128 printable ASCII characters", field: nil,
                                    code: "invalid-idempotency-key")
            }
            idempotencyKey = key
        }
        let bodyHash = Digest.sha256Hex(bodyData)
        guard let key = idempotencyKey else { return await handleDeclaration(bodyData, bodyHash: bodyHash, idempotencyKey: nil) }
        // One request per key at a time: a retry waits for its first attempt (however slow the disk), then gets
        // that attempt's stored answer, so it never meets its own claim as a 409.
        await keysInFlight.acquire(key)
        defer { keysInFlight.release(key) }
        if let answer = await replay(key: key, bodyHash: bodyHash) { return answer }
        return await handleDeclaration(bodyData, bodyHash: bodyHash, idempotencyKey: key)
    }

    /// Validates, binds the screening and stores; with a key, the caller holds it in `keysInFlight`.
    private func handleDeclaration(_ bodyData: Data, bodyHash: String, idempotencyKey: String?) async -> Response {

        let submission: DeclarationSubmission
        do {
            submission = try validator.validateSubmission(bodyData)
        } catch {
            metrics.declarationsRejected.increment()
            // Field names and codes only; never the values (personal data).
            logger.notice("declaration refused", metadata: [
                "status": "\(error.httpStatus)", "fields": "\(error.errors.map { "\($0.field):\($0.code.rawValue)" }.joined(separator: ","))",
            ])
            if error.kind == .invalid {
                return Self.json(HTTPResponse.Status(code: 422), Problem(
                    error: error.message, field: error.field, code: nil,
                    errors: error.errors.map { FieldProblem(field: $0.field, code: $0.code.rawValue) }))
            }
            return Self.problem(HTTPResponse.Status(code: error.httpStatus), error.message, field: error.field)
        }

        // The declaration gets its own person's screening, or none: never the one that happens to be current.
        var capture: ScreeningCapture?
        var claimedID: UUID?
        let summary: ScreeningSummary
        switch submission.screeningId {
        case nil:
            summary = .unavailable(ScreeningSummary.noScreeningIdFlag)
        case let text?:
            let id = UUID(uuidString: text)
            var claim = ScreeningClaim.unknownOrExpired
            if let id { claim = await screening.claim(id) }
            switch claim {
            case .claimed(let c):
                capture = c
                claimedID = id
                summary = c.summary
            case .alreadyUsed:
                // Not this request's own first attempt: with a key, that one has finished (keysInFlight) and stored
                // nothing under the key (replay), so another declaration holds the screening.
                metrics.declarationsRejected.increment()
                logger.notice("declaration refused: its screening is already used by another declaration")
                return Self.problem(.conflict, "this screening already belongs to another declaration; please be screened again",
                                    field: nil, code: "screening-already-used")
            case .unknownOrExpired:
                summary = .unavailable(ScreeningSummary.unknownOrExpiredFlag)
            }
        }

        let record = QueueRecord(checkpointId: configuration.checkpointId, deviceId: configuration.deviceId,
                                 clock: recordClock.now(), declaration: submission.declaration, screening: summary,
                                 faceCaptured: capture?.faceJPEG != nil)
        let created = Created(id: record.id.uuidString.lowercased(), shortCode: Self.shortCode(record.id), screening: summary)
        let createdJSON = (try? QueueRecord.encoder.encode(created)) ?? Data("{}".utf8)
        let idempotency = idempotencyKey.map { IdempotentResponse(key: $0, bodySHA256: bodyHash, recordId: record.id, response: createdJSON) }
        let start = ContinuousClock.now
        do {
            let face = capture?.faceJPEG
            try await store.enqueue(record, face: face, idempotency: idempotency)
        } catch {
            // Not stored: the screening goes back, for the person's next attempt.
            if let claimedID { await screening.release(claimedID) }
            if let e = error as? AdapterError, e.code == .idempotencyKeyTaken, let key = idempotencyKey,
               let answer = await replay(key: key, bodyHash: bodyHash) {
                return answer
            }
            metrics.declarationsRefusedFull.increment()
            if let e = error as? AdapterError, e.code == .queueFull || e.code == .diskFull {
                logger.error("declaration refused: storage full", metadata: ["reason": "\(e.message)"])
                // Fixed texts: the store's message may carry SQLite's (SQLITE_FULL); it goes to the journal only.
                return e.code == .queueFull
                    ? Self.problem(.serviceUnavailable, "the queue is full; the declaration was not stored", field: nil, code: e.code.rawValue)
                    : Self.problem(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"),
                                   "free disk space is below the floor; the declaration was not stored", field: nil, code: e.code.rawValue)
            }
            // The error (SQLite text, paths) goes to the journal only; it holds no declaration values.
            logger.error("declaration could not be stored", metadata: ["error": "\(error)"])
            return Self.problem(.serviceUnavailable, "the declaration could not be stored; please try again", field: nil,
                                code: "storage-error")
        }
        metrics.enqueueSeconds.record(ContinuousClock.now - start)
        metrics.declarationsAccepted.increment()
        uploader?.wake()
        logger.info("declaration stored", metadata: ["record_id": "\(record.id.uuidString.lowercased())", "screening": "\(summary.result.rawValue)",
                                                      "bound": "\(claimedID != nil)"])
        return Self.rawJSON(.created, createdJSON)
    }

    enum Collected: Sendable {
        case body(ByteBuffer)
        case tooLarge
        case tooSlow
    }

    /// The request body, unless it is larger than `limit` or takes longer than `timeout` to arrive.
    static func collect(_ body: RequestBody, upTo limit: Int, within timeout: Duration) async -> Collected {
        await withTaskGroup(of: Collected?.self) { group in
            group.addTask {
                do { return .body(try await body.collect(upTo: limit)) } catch { return Task.isCancelled ? .tooSlow : .tooLarge }
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return nil }
                return .tooSlow
            }
            var answer: Collected = .tooSlow
            while let next = await group.next() {
                if let next {
                    answer = next
                    break
                }
            }
            group.cancelAll()
            return answer
        }
    }

    /// The stored answer for a retried key: the same 201, or 422 when the key came with another body.
    private func replay(key: String, bodyHash: String) async -> Response? {
        guard let stored = try? await store.idempotentResponse(key: key) else { return nil }
        guard stored.bodySHA256 == bodyHash else {
            // The key's first declaration is stored, with another body (the kiosk changed a field after a lost answer):
            // that first one stands. Its id and short code go back, so the page can say it was saved.
            metrics.declarationsRejected.increment()
            return Self.json(HTTPResponse.Status(code: 422), Problem(
                error: "this Idempotency-Key was used for a different declaration, which is stored", field: nil,
                code: "idempotency-key-reused", id: stored.recordId.uuidString.lowercased(), shortCode: Self.shortCode(stored.recordId)))
        }
        logger.info("declaration retried; answered from the first attempt", metadata: ["record_id": "\(stored.recordId.uuidString.lowercased())"])
        return Self.rawJSON(.created, stored.response)
    }

    /// First 8 hex digits of the record id, upper case, as 4-4 ("8303-A813").
    static func shortCode(_ id: UUID) -> String {
        let hex = id.uuidString.replacingOccurrences(of: "-", with: "").uppercased()
        return String(hex.prefix(4)) + "-" + String(hex.dropFirst(4).prefix(4))
    }

    func health() async -> Response {
        var fields: [String: String] = ["status": "ok", "version": CheckpointVersion.string]
        var healthy = true
        do {
            let q = try await store.status()
            fields["queue.pending"] = "\(q.pending)"
            fields["queue.dead"] = "\(q.dead)"
            fields["queue.usedBytes"] = "\(q.usedBytes)"
            fields["queue.maxBytes"] = "\(q.maxBytes)"
            fields["queue.freeDiskBytes"] = "\(q.freeDiskBytes)"
            if let oldest = q.oldestPendingAt { fields["queue.oldestPendingAt"] = oldest.formatted(.iso8601) }
            let quarantined = try await store.quarantinedFiles()  // a directory listing: off the cooperative pool
            if !quarantined.isEmpty {
                // A corrupt queue was moved aside: it may hold declarations never uploaded. A person must recover them.
                healthy = false
                fields["queue.quarantined"] = quarantined.joined(separator: " ")
            }
        } catch {
            healthy = false
            logger.error("queue status unavailable", metadata: ["error": "\(error)"])
            fields["queue.error"] = "the queue cannot be read (see the journal)"
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
        rawJSON(status, (try? QueueRecord.encoder.encode(value)) ?? Data("{}".utf8))
    }

    static func rawJSON(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String, field: String?, code: String? = nil) -> Response {
        json(status, Problem(error: message, field: field, code: code))
    }

    /// The Hummingbird applications: the Unix socket one and, if configured, a 127.0.0.1 TCP one. Each closes idle
    /// connections after `idleTimeout` and holds at most `maxConnections` open.
    public func applications() -> [any ApplicationProtocol] {
        var apps: [any ApplicationProtocol] = []
        let server = HTTPServerBuilder.http1(configuration: .init(idleTimeout: TimeAmount(configuration.idleTimeout)))
        if let path = configuration.socketPath {
            let group = configuration.socketGroup
            let mode = configuration.socketMode
            let logger = logger
            apps.append(Application(
                router: router(), server: server,
                configuration: .init(address: .unixDomainSocket(path: path), serverName: "checkpointd",
                                     availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
                onServerRunning: { _ in
                    do { try SocketPermissions.apply(path: path, mode: mode, group: group) } catch {
                        logger.critical("cannot set the API socket's permissions", metadata: ["error": "\(error)"])
                    }
                },
                logger: logger))
        }
        if let port = configuration.tcpPort {
            apps.append(Application(
                router: tcpRouter(port: port), server: server,
                configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "checkpointd",
                                     availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
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
}

/// Idempotency-Keys being handled now. `acquire` waits while another request holds the key; `release` hands it to
/// the next waiter. No timeout: the holder's request is bounded by the body timeout and the store's own time.
final class InFlightKeys: Sendable {
    private struct Entry {
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex<[String: Entry]>([:])

    func acquire(_ key: String) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { keys -> Bool in
                if keys[key] == nil {
                    keys[key] = Entry()
                    return true
                }
                keys[key]!.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release(_ key: String) {
        let next = state.withLock { keys -> CheckedContinuation<Void, Never>? in
            guard var entry = keys[key] else { return nil }
            if entry.waiters.isEmpty {
                keys[key] = nil
                return nil
            }
            let first = entry.waiters.removeFirst()
            keys[key] = entry
            return first
        }
        next?.resume()   // the key passes to the next request directly
    }

    /// Keys held now (tests).
    var count: Int { state.withLock { $0.count } }
}

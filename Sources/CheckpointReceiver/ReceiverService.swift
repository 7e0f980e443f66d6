import CheckpointCore
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Synchronization

/// What the receiver does with a request, independent of where it stores and how it listens.
public struct ReceiverOptions: Sendable {
    /// Directory received face images are written to (mode 0600); nil = faces are not kept.
    public var facesDirectory: String?
    /// Largest upload accepted (413 beyond it).
    public var maxBodyBytes: Int
    /// Injected failures: only `checkpoint-receiver test-stand` sets this.
    public var faults: FaultInjection?
    /// What the fleet view calls silent, old or low.
    public var fleet: FleetView.Thresholds
    /// The receiver's clock (tests move it).
    public var clock: @Sendable () -> Date
    /// Client certificates and the devices they may upload for.
    public var devices: DevicePolicy
    /// Most requests (records and heartbeats) one device may make per minute; beyond, 429 with Retry-After. 0 = no limit.
    public var perDevicePerMinute: Int
    /// Monitoring stills (requests, the latest still per kiosk); nil = operators cannot ask for stills.
    public var stills: MonitoringStills?

    public init(facesDirectory: String? = nil, maxBodyBytes: Int = 16 * 1024 * 1024, faults: FaultInjection? = nil,
                fleet: FleetView.Thresholds = .init(), clock: @escaping @Sendable () -> Date = { Date() }, devices: DevicePolicy = .init(),
                perDevicePerMinute: Int = 600, stills: MonitoringStills? = nil) {
        self.stills = stills
        self.devices = devices
        self.perDevicePerMinute = perDevicePerMinute
        self.facesDirectory = facesDirectory
        self.maxBodyBytes = maxBodyBytes
        self.faults = faults
        self.fleet = fleet
        self.clock = clock
    }
}

/// The request context of the receiver's routes: Hummingbird's core storage and the connection it came on
/// (whose TLS session names the client certificate).
public struct ReceiverContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// The upload contract (`Sources/checkpoint-receiver/openapi.yaml`) over a storage backend.
///
/// Each record is stored once, deduplicated by Idempotency-Key; a retry of a stored key gets the original answer back
/// (200 with the same body), a reused key with a different record gets 422.
public final class ReceiverService: Sendable {
    public let storage: any ReceiverStorage
    public let options: ReceiverOptions
    let logger: Logger
    /// Requests per device in the current minute (the core's fixed-window counter, keyed by deviceId).
    private let limiter: Mutex<RateLimiter>

    public init(storage: any ReceiverStorage, options: ReceiverOptions = ReceiverOptions(),
                logger: Logger = Logger(label: "checkpoint-receiver")) {
        self.storage = storage
        self.options = options
        self.logger = logger
        self.limiter = Mutex(RateLimiter(burst: max(1, options.perDevicePerMinute), window: 60))
        if let dir = options.facesDirectory { FaceSpool.removeLeftovers(in: dir) }
    }

    /// 429 with Retry-After when `deviceId` has used up its requests for this minute.
    func overLimit(_ deviceId: String) -> Response? {
        guard options.perDevicePerMinute > 0 else { return nil }
        let now = options.clock().timeIntervalSince1970
        guard !limiter.withLock({ $0.admit(key: deviceId, now: now).emit }) else { return nil }
        var response = Self.problem(.tooManyRequests, "more than \(options.perDevicePerMinute) requests a minute from this device")
        response.headers[.retryAfter] = "60"
        return response
    }

    /// The receiver's routes.
    /// - Parameter fleetView: also serve the fleet page, its JSON and the metrics (when no separate admin listener does).
    public func router(fleetView: Bool = true) -> Router<ReceiverContext> {
        let router = Router(context: ReceiverContext.self)
        router.post("/v1/records") { [self] request, context -> Response in
            if let injected = await self.injectedFault() { return injected }
            return await self.receiveRecord(request, channel: context.channel)
        }
        router.get("/v1/records") { [self] _, _ -> Response in
            let ids = try await self.storage.recordIDs()
            return try Self.json(.ok, Listing(count: ids.count, ids: ids))
        }
        router.post("/v1/heartbeats") { [self] request, context -> Response in
            await self.receiveHeartbeat(request, channel: context.channel)
        }
        router.post("/v1/monitoring/stills") { [self] request, context -> Response in
            await self.receiveStill(request, channel: context.channel)
        }
        router.post("/v1/monitoring/still-refusals") { [self] request, context -> Response in
            await self.receiveStillRefusal(request, channel: context.channel)
        }
        if fleetView { addFleetRoutes(router) }
        router.get("/healthz") { _, _ in "ok\n" }
        return router
    }

    /// The province's side only: the fleet page, its JSON, the metrics (`--admin-port`, apart from the kiosks' port).
    public func adminRouter() -> Router<ReceiverContext> {
        let router = Router(context: ReceiverContext.self)
        addFleetRoutes(router)
        router.get("/healthz") { _, _ in "ok\n" }
        return router
    }

    func addFleetRoutes(_ router: Router<ReceiverContext>) {
        router.get("/v1/fleet") { [self] _, _ -> Response in
            try Self.json(.ok, try await self.fleet(), dates: true)
        }
        router.get("/fleet") { [self] _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: FleetPage.html(try await self.fleet()))))
        }
        router.post("/v1/fleet/:deviceId/still-requests") { [self] request, context -> Response in
            await self.requestStill(request, deviceId: context.parameters.get("deviceId") ?? "")
        }
        router.get("/v1/fleet/:deviceId/still.jpg") { [self] _, context -> Response in
            self.serveStill(deviceId: context.parameters.get("deviceId") ?? "")
        }
        router.get("/metrics") { [self] _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: FleetMetrics.exposition(try await self.fleet(stills: false)))))
        }
    }

    /// Retention: deletes records received more than `recordDays` ago and face images older than `faceDays` (a face
    /// is never kept longer than its record). Returns how many of each went. No personal data is logged: counts only.
    @discardableResult
    public func purge(recordDays: Int?, faceDays: Int?) async throws -> (records: Int, faces: Int) {
        let now = options.clock()
        var faces = 0
        var records = 0
        if let recordDays {
            let ids = try await storage.purgeRecords(receivedBefore: now.addingTimeInterval(-Double(recordDays) * 86400))
            records = ids.count
            if let dir = options.facesDirectory {
                for id in ids where (try? FileManager.default.removeItem(atPath: "\(dir)/\(id).jpg")) != nil { faces += 1 }
            }
        }
        if let faceDays, let dir = options.facesDirectory {
            let cutoff = now.addingTimeInterval(-Double(faceDays) * 86400)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".jpg") {
                let path = "\(dir)/\(name)"
                guard let m = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, m < cutoff else { continue }
                if (try? FileManager.default.removeItem(atPath: path)) != nil { faces += 1 }
            }
        }
        // Stills show people: they go with the faces' retention (else the records'), whichever is set.
        var stills = 0
        if let days = faceDays ?? recordDays, let store = options.stills {
            stills = store.purge(receivedBefore: now.addingTimeInterval(-Double(days) * 86400))
        }
        if records > 0 || faces > 0 || stills > 0 {
            logger.notice("retention purge", metadata: ["records": "\(records)", "faces": "\(faces)", "stills": "\(stills)"])
        }
        return (records, faces)
    }

    /// The fleet as of now; with `stills`, each kiosk's monitoring-still state too (the page and the JSON, not the
    /// Prometheus scrape, which has no use for it).
    public func fleet(stills withStills: Bool = true) async throws -> FleetView {
        var view = FleetView(heartbeats: try await storage.latestHeartbeats(), now: options.clock(), thresholds: options.fleet)
        if withStills, let stills = options.stills {
            view.stillsEnabled = true
            let requests = Dictionary(try await storage.stillRequests().map { ($0.deviceId, $0) }, uniquingKeysWith: { a, _ in a })
            for i in view.kiosks.indices {
                let device = view.kiosks[i].deviceId
                view.kiosks[i].still = stills.state(deviceId: device, request: requests[device])
            }
        }
        return view
    }

    /// The test stand's misbehaviour, if any, for this request.
    func injectedFault() async -> Response? {
        guard let faults = options.faults else { return nil }
        if faults.delayMilliseconds > 0 { try? await Task.sleep(for: .milliseconds(faults.delayMilliseconds)) }
        guard let status = faults.next() else { return nil }
        if (200..<300).contains(status) {
            // A captive portal or maintenance page answering for the server: success status, no receipt.
            return Response(status: .init(code: status), headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>Service maintenance</h1></body></html>\n")))
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let ra = faults.retryAfter { headers[.retryAfter] = ra }
        return Response(status: .init(code: status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"error":"injected fault \#(status)"}"#)))
    }

    struct Stored: Codable {
        let id: String
        let duplicate: Bool
    }

    struct Listing: Codable {
        let count: Int
        let ids: [String]
    }

    /// 401/403 when the connection's client certificate may not speak for `deviceId`; nil when it may.
    func refused(_ channel: (any Channel)?, deviceId: String, what: String) async -> Response? {
        guard options.devices.requireClientCertificate else { return nil }
        let identity: ClientIdentity? = if let channel { await ClientIdentity.of(channel) } else { nil }
        switch options.devices.check(identity, deviceId: deviceId) {
        case .allowed: return nil
        case .unauthenticated:
            logger.warning("\(what) without a client certificate refused", metadata: ["device": "\(deviceId)"])
            return Self.problem(.unauthorized, "a client certificate is required")
        case .forbidden(let why):
            logger.warning("\(what) refused: \(why)", metadata: ["device": "\(deviceId)"])
            return Self.problem(.forbidden, "this client certificate may not upload for this device")
        }
    }

    func receiveRecord(_ request: Request, channel: (any Channel)? = nil) async -> Response {
        guard var key = request.headers.first(where: { $0.name.canonicalName == "idempotency-key" })?.value, !key.isEmpty else {
            return Self.problem(.badRequest, "missing Idempotency-Key header")
        }
        key = key.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased()
        guard UUID(uuidString: key) != nil else { return Self.problem(.badRequest, "Idempotency-Key is not a UUID") }
        guard let contentType = request.headers[.contentType], let boundary = Multipart.boundary(contentType) else {
            return Self.problem(.badRequest, "expected multipart/form-data with a boundary")
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > options.maxBodyBytes {
            return tooLarge(channel)   // refused before a byte of the body is read
        }
        let upload: Upload
        switch await readUpload(request.body, boundary: boundary, channel: channel) {
        case .success(let u): upload = u
        case .failure(let refusal): return refusal.response
        }
        // From here on the face's temporary file is either renamed into place (a new record) or removed.
        let response = await store(upload, key: key, channel: channel)
        if let spool = upload.face { await spool.discard() }   // no-op once committed: the file has moved
        return response
    }

    /// An upload as streamed in: the record part in memory (small, capped), the face part in a temporary file.
    struct Upload {
        var record: Data
        var face: FaceSpool?
        var faceBytes: Int
    }

    /// A refusal while reading an upload.
    struct Refusal: Error {
        let response: Response
    }

    /// Largest `record` part accepted: a record is a few KB.
    static let maxRecordBytes = 1024 * 1024

    /// 413, and the connection is closed once it is sent: the rest of the body is not read.
    func tooLarge(_ channel: (any Channel)?, _ what: String? = nil) -> Response {
        channel?.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        var response = Self.problem(.contentTooLarge, what ?? "upload larger than \(options.maxBodyBytes) bytes")
        response.headers[.connection] = "close"
        return response
    }

    /// Reads the body chunk by chunk through the streaming multipart parser: the record part is kept, the face part
    /// goes to a temporary file in the faces directory (or is only counted when faces are not kept), other parts are
    /// skipped. Stops with 413 as soon as the body passes the cap.
    func readUpload(_ body: RequestBody, boundary: String, channel: (any Channel)?) async -> Result<Upload, Refusal> {
        var parser = Multipart.Parser(boundary: boundary)
        var upload = Upload(record: Data(), face: nil, faceBytes: 0)
        var current: String?        // the part being read: "record", "face" or nil (skipped)
        var seen: Set<String> = []  // parts already read (a repeated part is skipped)
        var total = 0
        do {
            for try await chunk in body {
                total += chunk.readableBytes
                guard total <= options.maxBodyBytes else { throw Refusal(response: tooLarge(channel)) }
                for event in try parser.feed(chunk.readableBytesView) {
                    switch event {
                    case .partStart(let headers):
                        current = headers.name.flatMap { ["record", "face"].contains($0) && !seen.contains($0) ? $0 : nil }
                        if let current { seen.insert(current) }
                        if current == "face", let dir = options.facesDirectory { upload.face = try FaceSpool.create(in: dir) }
                    case .body(let bytes) where current == "record":
                        guard upload.record.count + bytes.count <= Self.maxRecordBytes else {
                            throw Refusal(response: tooLarge(channel, "record part larger than \(Self.maxRecordBytes) bytes"))
                        }
                        upload.record.append(contentsOf: bytes)
                    case .body(let bytes) where current == "face":
                        upload.faceBytes += bytes.count
                        try await upload.face?.write(bytes)
                    case .body, .partEnd:
                        break
                    }
                }
                if parser.isFinished { break }
            }
            try parser.finish()
            guard seen.contains("record") else { throw Refusal(response: Self.problem(.badRequest, "no 'record' part")) }
            return .success(upload)
        } catch {
            await upload.face?.discard()
            switch error {
            case let refusal as Refusal: return .failure(refusal)
            case let malformed as Multipart.Malformed:
                return .failure(Refusal(response: Self.problem(.badRequest, "malformed multipart body: \(malformed)")))
            case let e as ReceiverError:
                logger.error("cannot keep a face image", metadata: ["error": "\(e)"])
                return .failure(Refusal(response: Self.problem(.serviceUnavailable, "storage unavailable; retry later")))
            default:   // the body broke off
                return .failure(Refusal(response: Self.problem(.badRequest, "upload body incomplete")))
            }
        }
    }

    /// Validates the record and stores it once; a new record's face image is moved into place.
    func store(_ upload: Upload, key: String, channel: (any Channel)?) async -> Response {
        let record: QueueRecord
        do { record = try QueueRecord.decode(upload.record) } catch {
            return Self.problem(.unprocessableContent, "record JSON does not match the contract: \(error)")
        }
        guard record.id.uuidString.lowercased() == key else {
            return Self.problem(.unprocessableContent, "Idempotency-Key does not match the record id")
        }
        if let refusal = await refused(channel, deviceId: record.deviceId, what: "record") { return refusal }
        if let limited = overLimit(record.deviceId) { return limited }
        let outcome: InsertOutcome
        do {
            outcome = try await storage.insertRecord(IncomingRecord(id: key, deviceId: record.deviceId, checkpointId: record.checkpointId,
                                                                    json: upload.record, faceBytes: upload.faceBytes, receivedAt: options.clock()))
        } catch {
            logger.error("cannot store a record", metadata: ["id": "\(key)", "error": "\(error)"])
            return Self.problem(.serviceUnavailable, "storage unavailable; retry later")
        }
        switch outcome {
        case .stored:
            if let dir = options.facesDirectory, let face = upload.face {
                do { try await face.commit(as: "\(dir)/\(key).jpg") } catch {
                    logger.error("cannot keep a face image", metadata: ["id": "\(key)", "error": "\(error)"])
                }
            }
            logger.debug("record stored", metadata: ["id": "\(key)", "device": "\(record.deviceId)"])
            return (try? Self.json(.created, Stored(id: key, duplicate: false))) ?? Response(status: .created)
        case .duplicate:
            return (try? Self.json(.ok, Stored(id: key, duplicate: true))) ?? Response(status: .ok)
        case .conflict:
            logger.warning("Idempotency-Key reused with a different record", metadata: ["id": "\(key)", "device": "\(record.deviceId)"])
            return Self.problem(.unprocessableContent, "Idempotency-Key reused with a different record")
        }
    }

    /// Largest heartbeat accepted: a heartbeat is about 1 KB.
    static let maxHeartbeatBytes = 64 * 1024

    func receiveHeartbeat(_ request: Request, channel: (any Channel)? = nil) async -> Response {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            return Self.problem(.unsupportedMediaType, "expected application/json")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: Self.maxHeartbeatBytes) } catch {
            return Self.problem(.contentTooLarge, "heartbeat larger than \(Self.maxHeartbeatBytes) bytes")
        }
        let json = Data(buffer: body)
        let heartbeat: Heartbeat
        do { heartbeat = try Heartbeat.decode(json) } catch {
            return Self.problem(.unprocessableContent, "heartbeat does not match the contract: \(error)")
        }
        if let refusal = await refused(channel, deviceId: heartbeat.deviceId, what: "heartbeat") { return refusal }
        if let limited = overLimit(heartbeat.deviceId) { return limited }
        let now = options.clock()
        do {
            try await storage.storeHeartbeat(IncomingHeartbeat(deviceId: heartbeat.deviceId, checkpointId: heartbeat.checkpointId,
                                                               json: json, receivedAt: now))
        } catch {
            logger.error("cannot store a heartbeat", metadata: ["device": "\(heartbeat.deviceId)", "error": "\(error)"])
            return Self.problem(.serviceUnavailable, "storage unavailable; retry later")
        }
        if !heartbeat.changes.isEmpty {
            logger.notice("kiosk state changed", metadata: [
                "device": "\(heartbeat.deviceId)", "changes": "\(heartbeat.changes.map(\.rawValue).joined(separator: ","))",
            ])
        }
        // An operator's still request rides on this reply, once.
        var still: StillRequest?
        if options.stills != nil {
            do {
                still = try await storage.advanceStillRequest(deviceId: heartbeat.deviceId, requestId: nil, from: [.pending], to: .delivered,
                                                              refusal: nil).map { StillRequest(id: $0.requestId) }
            } catch {
                // The heartbeat is stored; the request stays pending for the next one.
                logger.error("cannot hand out a still request", metadata: ["device": "\(heartbeat.deviceId)", "error": "\(error)"])
            }
        }
        if let still { logger.notice("monitoring still request handed to the kiosk", metadata: ["device": "\(heartbeat.deviceId)", "request_id": "\(still.id)"]) }
        return (try? Self.json(.ok, HeartbeatReceipt(deviceId: heartbeat.deviceId, receivedAt: Self.timestamp(now), stillRequest: still)))
            ?? Response(status: .ok)
    }

    static func timestamp(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }

    // MARK: Monitoring stills

    struct StillRequestAccepted: Codable {
        let deviceId: String
        let requestId: String
        let requestedAt: String
    }

    struct StillReceipt: Codable {
        let deviceId: String
        let requestId: String
        let receivedAt: String
        let bytes: Int
    }

    /// Largest refusal accepted (a refusal is about 100 bytes).
    static let maxRefusalBytes = 4 * 1024

    /// `POST /v1/fleet/{deviceId}/still-requests`: an operator asks for a still of a kiosk that has sent a heartbeat.
    /// 202 (JSON) with the request id; from the fleet page's form, 303 back to the page.
    func requestStill(_ request: Request, deviceId: String) async -> Response {
        guard options.stills != nil else {
            return Self.problem(.conflict, "monitoring stills are not kept by this receiver (start it with --stills DIR)")
        }
        guard MonitoringStills.isSafeDeviceId(deviceId) else { return Self.problem(.notFound, "no such kiosk") }
        let known: Bool
        do { known = try await storage.latestHeartbeats().contains { $0.deviceId == deviceId } } catch {
            return Self.problem(.serviceUnavailable, "storage unavailable; retry later")
        }
        guard known else { return Self.problem(.notFound, "no such kiosk (it has never sent a heartbeat)") }
        let now = options.clock()
        let id = UUID().uuidString.lowercased()
        do {
            try await storage.putStillRequest(StillRequestRecord(deviceId: deviceId, requestId: id, state: .pending, requestedAt: now))
        } catch {
            return Self.problem(.serviceUnavailable, "storage unavailable; retry later")
        }
        logger.notice("monitoring still requested", metadata: ["device": "\(deviceId)", "request_id": "\(id)"])
        if request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            return Response(status: .seeOther, headers: [.location: "/fleet#kiosk-\(deviceId)"])
        }
        return (try? Self.json(.accepted, StillRequestAccepted(deviceId: deviceId, requestId: id, requestedAt: Self.timestamp(now))))
            ?? Response(status: .accepted)
    }

    /// `GET /v1/fleet/{deviceId}/still.jpg`: the latest still of a kiosk.
    func serveStill(deviceId: String) -> Response {
        guard let latest = options.stills?.latest(deviceId: deviceId) else { return Self.problem(.notFound, "no still of this kiosk") }
        var headers: HTTPFields = [.contentType: "image/jpeg", .cacheControl: "no-store"]
        headers[HTTPFields.Element.Name("X-Request-Id")!] = latest.still.requestId
        headers[HTTPFields.Element.Name("X-Faces-Blurred")!] = latest.still.facesBlurred ? "true" : "false"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: latest.jpeg)))
    }

    /// `POST /v1/monitoring/stills?deviceId&requestId&facesBlurred&faces`: a kiosk's still (JPEG) for a request it was
    /// handed. Same device rules as records: a kiosk posts only its own.
    func receiveStill(_ request: Request, channel: (any Channel)? = nil) async -> Response {
        let q = request.uri.queryParameters
        guard let deviceId = q.get("deviceId"), MonitoringStills.isSafeDeviceId(deviceId) else {
            return Self.problem(.badRequest, "deviceId missing or not a device id")
        }
        guard let requestId = q.get("requestId"), MonitoringStill.isValidRequestId(requestId) else {
            return Self.problem(.badRequest, "requestId missing or malformed")
        }
        guard let blurred = q.get("facesBlurred").flatMap(Bool.init) else { return Self.problem(.badRequest, "facesBlurred must be true or false") }
        let faces = q.get("faces").flatMap(Int.init) ?? 0
        guard request.headers[.contentType]?.lowercased().hasPrefix("image/jpeg") == true else {
            return Self.problem(.unsupportedMediaType, "expected image/jpeg")
        }
        if let refusal = await refused(channel, deviceId: deviceId, what: "monitoring still") { return refusal }
        if let limited = overLimit(deviceId) { return limited }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: options.maxBodyBytes) } catch {
            return Self.problem(.contentTooLarge, "still larger than \(options.maxBodyBytes) bytes")
        }
        let jpeg = Data(buffer: body)
        guard jpeg.count > 3, jpeg.prefix(3) == Data([0xFF, 0xD8, 0xFF]) else { return Self.problem(.unprocessableContent, "the body is not a JPEG") }
        guard let stills = options.stills else { return Self.problem(.conflict, "monitoring stills are not kept by this receiver") }
        // The request is claimed first, in one UPDATE: of two posts for it (a retry racing the first, or two receivers
        // sharing the database), exactly one gets 201 and the other 409.
        let claimed: StillRequestRecord?
        do {
            claimed = try await storage.advanceStillRequest(deviceId: deviceId, requestId: requestId, from: [.pending, .delivered],
                                                            to: .received, refusal: nil)
        } catch {
            return Self.problem(.serviceUnavailable, "storage unavailable")
        }
        guard claimed != nil else {
            logger.warning("monitoring still without an outstanding request refused", metadata: ["device": "\(deviceId)", "request_id": "\(requestId)"])
            return Self.problem(.conflict, "no outstanding still request \(requestId) for this device")
        }
        let now = options.clock()
        do {
            _ = try await stills.store(deviceId: deviceId, requestId: requestId, jpeg: jpeg, facesBlurred: blurred, faces: faces, now: now)
        } catch {
            // Not kept: the request is outstanding again, so the kiosk's retry (or the operator's page) can still end it.
            _ = try? await storage.advanceStillRequest(deviceId: deviceId, requestId: requestId, from: [.received], to: .delivered, refusal: nil)
            logger.error("cannot store a monitoring still", metadata: ["device": "\(deviceId)", "request_id": "\(requestId)", "error": "\(error)"])
            return Self.problem(.serviceUnavailable, "storage unavailable")
        }
        logger.notice("monitoring still received", metadata: ["device": "\(deviceId)", "request_id": "\(requestId)", "bytes": "\(jpeg.count)",
                                                            "faces_blurred": "\(blurred)"])
        return (try? Self.json(.created, StillReceipt(deviceId: deviceId, requestId: requestId, receivedAt: Self.timestamp(now), bytes: jpeg.count)))
            ?? Response(status: .created)
    }

    /// `POST /v1/monitoring/still-refusals`: a kiosk says no still will come for a request, and why.
    func receiveStillRefusal(_ request: Request, channel: (any Channel)? = nil) async -> Response {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            return Self.problem(.unsupportedMediaType, "expected application/json")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: Self.maxRefusalBytes) } catch {
            return Self.problem(.contentTooLarge, "refusal larger than \(Self.maxRefusalBytes) bytes")
        }
        guard let refusal = try? JSONDecoder().decode(StillRefusal.self, from: Data(buffer: body)),
              MonitoringStills.isSafeDeviceId(refusal.deviceId), MonitoringStill.isValidRequestId(refusal.requestId) else {
            return Self.problem(.unprocessableContent, "not a StillRefusal of this contract")
        }
        if let denied = await refused(channel, deviceId: refusal.deviceId, what: "monitoring still refusal") { return denied }
        if let limited = overLimit(refusal.deviceId) { return limited }
        let answered: StillRequestRecord?
        do {
            answered = options.stills == nil ? nil : try await storage.advanceStillRequest(
                deviceId: refusal.deviceId, requestId: refusal.requestId, from: [.pending, .delivered], to: .refused, refusal: refusal.reason)
        } catch {
            return Self.problem(.serviceUnavailable, "storage unavailable")
        }
        guard answered != nil else {
            return Self.problem(.conflict, "no outstanding still request \(refusal.requestId) for this device")
        }
        logger.notice("monitoring still refused by the kiosk", metadata: ["device": "\(refusal.deviceId)", "request_id": "\(refusal.requestId)",
                                                                        "reason": "\(refusal.reason.rawValue)"])
        return Response(status: .noContent)
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let data = (try? JSONEncoder().encode(["error": message])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable, dates: Bool = false) throws -> Response {
        let encoder = dates ? QueueRecord.encoder : JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

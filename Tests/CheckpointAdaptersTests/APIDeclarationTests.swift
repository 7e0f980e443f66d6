#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
@testable import CheckpointCore
import Foundation
import Testing

/// A settable monotonic clock for the hub (declaration holds are minutes long).
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 1_000_000_000
    func now() -> UInt64 { lock.withLock { value } }
    func advance(seconds: Double) { lock.withLock { value += UInt64(seconds * 1e9) } }
}

/// A real ScreeningHub driven by scripted faces and synthetic thermal frames.
struct ScreeningScript {
    let clock = ManualClock()
    let hub: ScreeningHub

    init(k: Int = 3) {
        var config = ScreeningConfig()
        config.framesPerResult = k
        config.warmUpSeconds = 0
        let engine = ScreeningEngine(config: config, calibration: .uncalibrated,
                                     registration: .sharedFieldOfView(cameraWidth: 640, cameraHeight: 480),
                                     sensor: SensorIdentity(model: "gy-mcu90640", serial: "SIM-1"))
        let clock = clock
        hub = ScreeningHub(engine: engine, clock: { clock.now() }) { candidate in Data([0xFF, 0xD8, UInt8(truncatingIfNeeded: candidate.trackID), 0xFF, 0xD9]) }
    }

    static func thermal(_ face: Float, at nanos: UInt64) -> ThermalFrame {
        var p = [Float](repeating: 25, count: 768)
        for y in 0..<24 {
            for x in 0..<32 {
                let dx = (Double(x) + 0.5 - 16) / 6, dy = (Double(y) + 0.5 - 12.5) / 8
                if dx * dx + dy * dy <= 1 { p[y * 32 + x] = (8...10).contains(y) ? face : face - 1 }
            }
        }
        return ThermalFrame(width: 32, height: 24, pixels: p, ambientC: 33, sequence: nanos, monotonicNanos: nanos)
    }

    /// Person `id` stands ready until a result is decided; returns its screening id as the screen shows it.
    @discardableResult
    func screen(person id: UInt64, celsius: Float) async throws -> String {
        let tracked = TrackedFace(id: id, face: DetectedFace(box: FaceBox(x: 200, y: 90, width: 240, height: 320), score: 0.9),
                                  frames: 10, stableFrames: 10, missed: 0)
        let ready = FaceAssessment(face: tracked, distanceMeters: 0.5, pose: nil, sharpness: 100, reasons: [])
        let frame = Frame(width: 2, height: 1, layout: .gray8, pixels: [0, 0], sequence: 0, monotonicNanos: clock.now())
        let candidate = SnapshotCandidate(trackID: id, frame: frame, face: tracked.face, quality: 1)
        await hub.thermal(Self.thermal(30, at: clock.now()))
        for _ in 0..<8 {
            clock.advance(seconds: 0.25)
            await hub.faces(ready, cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: candidate)
            await hub.thermal(Self.thermal(celsius, at: clock.now()))
            let view = await hub.currentView()
            if view.state == .result, let sid = view.screeningId { return sid }
        }
        throw AdapterError(.timeout, "no result for person \(id)")
    }

    /// The person walks away.
    func leave() async {
        await hub.faces(FaceAssessment(face: nil, distanceMeters: nil, pose: nil, sharpness: nil, reasons: [.noFace]),
                        cameraWidth: 640, cameraHeight: 480, at: clock.now(), candidate: nil)
    }
}

/// A raw HTTP/1.1 exchange over loopback TCP, so tests control the Host and Origin headers and see every header.
///
/// `close()` closes the socket once, however often it is called: tests run in parallel in one process, and a second
/// `close(2)` of a number the kernel has meanwhile handed to someone else (a server's accepted connection, another
/// test's serial port) closes *their* descriptor — NIO then trips over a stale registration.
final class RawHTTP: @unchecked Sendable {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(); throw AdapterError.posix(.open, "connect 127.0.0.1:\(port)") }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ method: String, _ path: String, host: String, headers: [String] = []) {
        let text = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count - 1, 0) }
    }

    /// Reads until `done` says the text so far is enough, or `timeout` passes; on a thread of its own (see `offPool`).
    func read(timeout: Duration = .seconds(30), until done: @escaping @Sendable (String) -> Bool) async -> String {
        await offPool { [self] in readBlocking(timeout: timeout, until: done) }
    }

    private func readBlocking(timeout: Duration, until done: (String) -> Bool) -> String {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n == 0 { break }
            if done(String(decoding: data, as: UTF8.self)) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    private let lock = NSLock()
    private var open = true

    func close() {
        let wasOpen = lock.withLock { defer { open = false }; return open }
        if wasOpen { Glibc.close(fd) }
    }

    deinit { close() }

    /// One request on its own connection; returns the head (status line and headers, lower-cased names) and the body.
    static func exchange(port: Int, _ path: String, host: String? = nil, headers: [String] = []) async throws -> (status: Int, headers: [String: String], body: String) {
        let c = try RawHTTP(port: port)
        defer { c.close() }
        c.send("GET", path, host: host ?? "127.0.0.1:\(port)", headers: headers + ["Connection: close"])
        let text = await c.read { _ in false }
        return parse(text)
    }

    static func parse(_ text: String) -> (status: Int, headers: [String: String], body: String) {
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.components(separatedBy: "\r\n") ?? []
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = parts.dropFirst().joined(separator: "\r\n\r\n")
        if headers["transfer-encoding"] == "chunked" {
            // De-chunk (enough for the small bodies here).
            var out = "", rest = Substring(body)
            while let nl = rest.range(of: "\r\n"), let size = Int(rest[..<nl.lowerBound], radix: 16), size > 0 {
                let start = nl.upperBound
                let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.utf8.endIndex) ?? rest.endIndex
                out += rest[start..<end]
                rest = rest[end...].dropFirst(2)
            }
            body = out
        }
        return (status, headers, body)
    }
}

@Suite("Kiosk API", .serialized)
struct APIDeclarationTests {
    static let declaration = """
        {"fullName":"LE VAN AN","birthYear":1979,"gender":"Nam","nation":"VN","provinceId":"19",
         "wardId":"05436","address":"3 Quang Trung","phone":" 0987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,
         "consent":true}
        """

    /// The declaration with a `screeningId` (and optionally another phone number).
    static func body(screeningId: String?, phone: String = " 0987654321") -> Data {
        var text = declaration.replacingOccurrences(of: "\" 0987654321\"", with: "\"\(phone)\"")
        if let screeningId { text = text.replacingOccurrences(of: "\"consent\":true", with: "\"consent\":true,\"screeningId\":\"\(screeningId)\"") }
        return Data(text.utf8)
    }

    struct Running {
        let socket: String
        let port: Int?
        let store: QueueStore
        let api: DeclarationAPI
        let task: Task<Void, any Error>
        func stop() async {
            task.cancel()
            _ = await task.result
        }
        func request(_ method: String, _ path: String, body: Data? = nil, headers: [String] = []) async throws -> (Int, Data) {
            let socket = socket
            let r = try await offPool { try LocalHTTPClient.request(method: method, url: "http://localhost\(path)", socketPath: socket, body: body, headers: headers) }
            return (r.status, r.body)
        }
    }

    func start(capacity: QueueCapacity = QueueCapacity(maxBytes: 64 << 20, freeDiskFloor: 0), screening: any ScreeningProvider,
               dir existing: String? = nil, tcp: Bool = false, ui: UIConfiguration? = nil, preview: CameraPreview? = nil,
               qrScanner: QRScanner? = nil, keepalive: Duration = .seconds(15), configure: (inout APIConfiguration) -> Void = { _ in }) async throws -> Running {
        let dir = existing ?? uplinkTempDir("api")
        // A restart on the same directory: the previous daemon's server tasks may still be winding down (and hold its
        // store, and so the queue's lock) for a moment on a busy machine. A real restart waits for the old process too.
        var opened: QueueStore?
        let lockDeadline = ContinuousClock.now + .seconds(60)
        while opened == nil {
            do {
                opened = try QueueStore(path: dir + "/q.db", options: .init(capacity: capacity))
            } catch let e as AdapterError where e.code == .queueLocked && ContinuousClock.now < lockDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let store = opened!
        let defaultSocket = dir + "/api-\(UUID().uuidString.prefix(6)).sock"
        let port = tcp ? RawHTTP.freePort() : nil
        var configuration = APIConfiguration(socketPath: defaultSocket, tcpPort: port, checkpointId: "TN-01", deviceId: "k1", ui: ui,
                                             keepaliveInterval: keepalive)
        configure(&configuration)
        let socket = configuration.socketPath ?? defaultSocket
        let api = DeclarationAPI(
            configuration: configuration,
            store: AsyncQueueStore(store), screening: screening, uploader: nil, preview: preview, qrScanner: qrScanner)
        let task = Task { try await api.run() }
        let deadline = ContinuousClock.now + .seconds(60)  // generous: the socket is usually up within milliseconds
        while ContinuousClock.now < deadline {
            if (try? await offPool { try LocalHTTPClient.request(url: "http://localhost/healthz", socketPath: socket, timeout: .seconds(1)) })?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        if let port {
            for _ in 0..<100 {
                if (try? await RawHTTP.exchange(port: port, "/healthz"))?.status == 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return Running(socket: socket, port: port, store: store, api: api, task: task)
    }

    func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }
    func json(_ text: String) -> [String: Any] { json(Data(text.utf8)) }

    @Test func aDeclarationGetsItsOwnScreeningAndIsStoredBeforeThe201() async throws {
        let script = ScreeningScript()
        let api = try await start(screening: script.hub)
        var st = stat()
        #expect(stat(api.socket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        try await script.screen(person: 1, celsius: 38.6)
        // The kiosk reads the id from the view, as the screen does.
        let (vs, vb) = try await api.request("GET", "/v1/screening")
        #expect(vs == 200)
        let view = json(vb)
        #expect(view["state"] as? String == "result")
        #expect((view["screening"] as? [String: Any])?["result"] as? String == "elevated")
        let sid = try #require(view["screeningId"] as? String)
        let (status, body) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: sid))
        #expect(status == 201)
        let answer = json(body)
        let id = try #require((answer["id"] as? String).flatMap(UUID.init(uuidString:)))
        #expect(answer["id"] as? String == id.uuidString.lowercased())
        let hex = id.uuidString.replacingOccurrences(of: "-", with: "")
        #expect(answer["shortCode"] as? String == "\(hex.prefix(4))-\(hex.dropFirst(4).prefix(4))")
        #expect((answer["screening"] as? [String: Any])?["result"] as? String == "elevated")
        let stored = try #require(try api.store.find(id: id))
        #expect(stored.record.declaration["fullName"] == .string("LE VAN AN"))
        #expect(stored.record.declaration["phone"] == .string("0987654321"), "trimmed before it is stored")
        #expect(stored.record.declaration["screeningId"] == nil, "the screening id is not part of the declaration")
        #expect(stored.record.screening.result == .elevated)
        #expect(stored.record.screening.flags.contains("secondary_check_required"))
        #expect(stored.record.checkpointId == "TN-01")
        #expect(stored.record.clock.bootId.count > 8)
        #expect(stored.face == Data([0xFF, 0xD8, 1, 0xFF, 0xD9]), "person 1's face")
        #expect(stored.record.faceCaptured)
        await api.stop()
    }

    /// The safety hole: the next person's declaration must never carry the previous person's result or face.
    @Test func aDeclarationNeverGetsSomeoneElsesScreening() async throws {
        let script = ScreeningScript()
        let api = try await start(screening: script.hub)
        // A is screened (elevated) and steps away without declaring yet.
        let a = try await script.screen(person: 1, celsius: 38.7)
        await script.leave()

        // B declares without an id, within the on-screen hold of A's result.
        let (s1, b1) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: nil, phone: "0911111111"))
        #expect(s1 == 201)
        let bID = try #require((json(b1)["id"] as? String).flatMap(UUID.init(uuidString:)))
        let bRecord = try #require(try api.store.find(id: bID))
        #expect(bRecord.record.screening.result == .unavailable)
        #expect(bRecord.record.screening.flags == ["no-screening-id"])
        #expect(bRecord.face == nil && !bRecord.record.faceCaptured)

        // A declares with A's id; B then tries A's id: refused, nothing stored.
        let (s2, b2) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a))
        #expect(s2 == 201)
        #expect((json(b2)["screening"] as? [String: Any])?["result"] as? String == "elevated")
        let (s3, b3) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a, phone: "0911111111"))
        #expect(s3 == 409)
        #expect(json(b3)["code"] as? String == "screening-already-used")
        #expect((json(b3)["error"] as? String)?.isEmpty == false)
        #expect(try api.store.status().pending == 2)

        // An unknown id, a malformed one, and an expired one: stored without a screening, never with a current one.
        try await script.screen(person: 2, celsius: 36.6)
        for bogus in [UUID().uuidString.lowercased(), "not-a-uuid"] {
            let (s, b) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: bogus))
            #expect(s == 201)
            #expect((json(b)["screening"] as? [String: Any])?["flags"] as? [String] == ["screening-unknown-or-expired"])
        }
        let c = try await script.screen(person: 3, celsius: 36.6)
        script.clock.advance(seconds: 301)
        let (s4, b4) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: c))
        #expect(s4 == 201)
        let expired = json(b4)["screening"] as? [String: Any]
        #expect(expired?["result"] as? String == "unavailable")
        #expect(expired?["flags"] as? [String] == ["screening-unknown-or-expired"])
        let faces = try api.store.list().filter { $0.face != nil }.count
        #expect(faces == 1, "only A's own declaration carries a face")
        await api.stop()
    }

    @Test func theHoldOutlastsThePersonSteppingAway() async throws {
        let script = ScreeningScript()
        let api = try await start(screening: script.hub)
        let a = try await script.screen(person: 4, celsius: 38.2)
        await script.leave()
        script.clock.advance(seconds: 120)   // long after the 20 s on-screen hold
        #expect(json(try await api.request("GET", "/v1/screening").1)["state"] as? String == "idle")
        let (s, b) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a))
        #expect(s == 201)
        #expect((json(b)["screening"] as? [String: Any])?["result"] as? String == "elevated")
        await api.stop()
    }

    @Test func aRefusedStoreGivesTheScreeningBack() async throws {
        let script = ScreeningScript()
        let floor = try await start(capacity: QueueCapacity(maxBytes: 64 << 20, freeDiskFloor: Int64.max / 4), screening: script.hub)
        let a = try await script.screen(person: 5, celsius: 36.7)
        let (s, b) = try await floor.request("POST", "/v1/declarations", body: Self.body(screeningId: a))
        #expect(s == 507)
        #expect((json(b)["error"] as? String)?.contains("floor") == true)
        #expect(try floor.store.status().pending == 0)
        await floor.stop()
        guard case .claimed = await script.hub.claim(try #require(UUID(uuidString: a))) else {
            Issue.record("the claim was not released when the declaration could not be stored")
            return
        }
    }

    @Test func aRetryWithTheSameIdempotencyKeyStoresNothingNew() async throws {
        let script = ScreeningScript()
        let dir = uplinkTempDir("api-idem")
        let a = try await script.screen(person: 6, celsius: 36.6)
        let key = "Idempotency-Key: kiosk-7f3a-0001"
        var b1 = Data()
        do {  // the first daemon's lifetime: its store (and the queue's lock) go with this scope
        let api = try await start(screening: script.hub, dir: dir)
        let s1: Int
        (s1, b1) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a), headers: [key])
        #expect(s1 == 201)
        let (s2, b2) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a), headers: [key])
        #expect(s2 == 201, "the retry is not refused as a second use of the screening")
        #expect(b2 == b1, "same answer, same record id")
        #expect(try api.store.status().pending == 1)
        // Same key, another body: refused.
        let (s3, b3) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a, phone: "0922222222"), headers: [key])
        #expect(s3 == 422)
        #expect(json(b3)["code"] as? String == "idempotency-key-reused")
        // Keys must be printable ASCII, at most 128 characters.
        let (s4, b4) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: nil),
                                       headers: ["Idempotency-Key: " + String(repeating: "k", count: 129)])
        #expect(s4 == 400)
        #expect(json(b4)["code"] as? String == "invalid-idempotency-key")
        #expect(try api.store.status().pending == 1)
        await api.stop()
        }

        // After a restart (the store re-opened) the retry still gets the first answer.
        let api = try await start(screening: script.hub, dir: dir)
        let (s5, b5) = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a), headers: [key])
        #expect(s5 == 201)
        #expect(b5 == b1)
        #expect(try api.store.status().pending == 1)
        // Delivered and purged later: the key stays for the retention, then goes with its record.
        let id = try #require((json(b1)["id"] as? String).flatMap(UUID.init(uuidString:)))
        try api.store.markDelivered(id: id)
        try api.store.purge(now: Date())
        #expect(try api.store.idempotentResponse(key: "kiosk-7f3a-0001") != nil)
        try api.store.purge(now: Date().addingTimeInterval(2 * 24 * 3600))
        #expect(try api.store.idempotentResponse(key: "kiosk-7f3a-0001") == nil)
        await api.stop()
    }

    /// A slow first attempt (here its screening claim is held up as a slow disk would hold up the commit) and a retry
    /// with the same key while it is still in flight: the retry waits for it and gets its answer, never a 409 for its
    /// own first attempt. A third request with the same key and another body gets 422 idempotency-key-reused naming
    /// the stored record.
    @Test func aRetryWaitsForItsSlowFirstAttemptInsteadOf409() async throws {
        let script = ScreeningScript()
        let slow = SlowClaims(script.hub)
        let api = try await start(screening: slow)
        let a = try await script.screen(person: 8, celsius: 36.6)
        let key = "Idempotency-Key: kiosk-slow-0001"
        let first = Task { try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a), headers: [key]) }
        let deadline = ContinuousClock.now + .seconds(60)
        while await slow.held == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await slow.held == 1, "the first attempt is in flight, its screening claimed")
        let retry = Task { try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a), headers: [key]) }
        let changed = Task {
            try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: a, phone: "0933333333"), headers: [key])
        }
        // Hold the first attempt well past the 2 s the retry used to wait (or until the retry has answered anyway).
        let hold = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < hold { try await Task.sleep(for: .milliseconds(100)) }
        await slow.open()
        let (s1, b1) = try await first.value
        let (s2, b2) = try await retry.value
        let (s3, b3) = try await changed.value
        #expect(s1 == 201)
        #expect(s2 == 201, "the retry gets its first attempt's answer, not \(s2) \(String(decoding: b2, as: UTF8.self))")
        #expect(b2 == b1, "the same record")
        #expect(s3 == 422)
        #expect(json(b3)["code"] as? String == "idempotency-key-reused")
        #expect(json(b3)["shortCode"] as? String == json(b1)["shortCode"] as? String, "the stored record's code, for the page")
        #expect(try api.store.status().pending == 1, "one record")
        await api.stop()
    }

    @Test func badInputIsRefusedWithEveryFieldAndNothingStored() async throws {
        let api = try await start(screening: ScreeningScript().hub)
        let (s400, b400) = try await api.request("POST", "/v1/declarations", body: Data("{not json".utf8))
        #expect(s400 == 400)
        #expect((json(b400)["error"] as? String)?.contains("JSON") == true)
        let big = Data(("{\"address\":\"" + String(repeating: "x", count: 70_000) + "\"}").utf8)
        let (s413, _) = try await api.request("POST", "/v1/declarations", body: big)
        #expect(s413 == 413)
        let bad = Self.declaration
            .replacingOccurrences(of: "\"phone\":\" 0987654321\",", with: "\"phone\":\"12345\",")
            .replacingOccurrences(of: "\"gender\":\"Nam\"", with: "\"gender\":\"X\"")
            .replacingOccurrences(of: "\"consent\":true", with: "\"consent\":false,\"nickname\":\"An\",\"email\":\"no-at-sign\"")
            .replacingOccurrences(of: "\"address\":\"3 Quang Trung\",", with: "")
        let (s422, b422) = try await api.request("POST", "/v1/declarations", body: Data(bad.utf8))
        #expect(s422 == 422)
        let problem = json(b422)
        let errors = (problem["errors"] as? [[String: String]] ?? []).map { "\($0["field"] ?? "?"):\($0["code"] ?? "?")" }
        #expect(Set(errors) == ["nickname:unknown-field", "address:required", "gender:invalid-choice", "phone:invalid-phone",
                                "consent:consent-required", "email:invalid-email"])
        #expect(problem["field"] as? String == (problem["errors"] as? [[String: String]])?.first?["field"])
        #expect((problem["error"] as? String)?.isEmpty == false)
        #expect(!String(decoding: b422, as: UTF8.self).contains("12345"), "values are never echoed")
        #expect(try api.store.status().pending == 0)
        await api.stop()
    }

    @Test func fullQueueAnswers503() async throws {
        let full = try await start(capacity: QueueCapacity(maxBytes: 70 * 1024, freeDiskFloor: 0), screening: ScreeningScript().hub)
        var statuses: [Int] = []
        for _ in 0..<200 {
            statuses.append(try await full.request("POST", "/v1/declarations", body: Self.body(screeningId: nil)).0)
            if statuses.last != 201 { break }
        }
        #expect(statuses.last == 503)
        #expect(try full.store.status().pending == statuses.filter { $0 == 201 }.count)
        await full.stop()
    }

    @Test func healthAndMetrics() async throws {
        let api = try await start(screening: ScreeningScript().hub)
        _ = try await api.request("POST", "/v1/declarations", body: Self.body(screeningId: nil))
        _ = try await api.request("POST", "/v1/declarations", body: Data("[]".utf8))
        let (hs, hb) = try await api.request("GET", "/healthz")
        #expect(hs == 200)
        #expect(json(hb)["status"] as? String == "ok")
        #expect(json(hb)["queue.pending"] as? String == "1")
        let (ms, mb) = try await api.request("GET", "/metrics")
        #expect(ms == 200)
        let text = String(decoding: mb, as: UTF8.self)
        #expect(text.contains("checkpointd_declarations_accepted_total 1"))
        #expect(text.contains("checkpointd_declarations_rejected_total 1"))
        #expect(text.contains("checkpointd_queue_pending 1"))
        func value(_ name: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        #expect((value("checkpointd_queue_used_bytes") ?? 0) > 0)
        #expect((value("checkpointd_queue_max_bytes") ?? 0) >= (value("checkpointd_queue_used_bytes") ?? .infinity))
        let age = try #require(value("checkpointd_queue_oldest_pending_age_seconds"))
        #expect(age >= 0 && age < 30)
        #expect((value("checkpointd_queue_disk_free_bytes") ?? 0) > 0)
        #expect(!text.contains("LE VAN AN") && !String(decoding: hb, as: UTF8.self).contains("LE VAN AN"))
        await api.stop()
    }

    // MARK: The screen: view, events, files, guard, preview

    @Test func theEventStreamSendsTheViewAtOnceThenEachChange() async throws {
        let script = ScreeningScript()
        let api = try await start(screening: script.hub, tcp: true, keepalive: .milliseconds(300))
        let port = try #require(api.port)
        let client = try RawHTTP(port: port)
        defer { client.close() }
        client.send("GET", "/v1/screening/events", host: "127.0.0.1:\(port)", headers: ["Accept: text/event-stream"])
        let first = await client.read { $0.contains("\n\n") && $0.contains("data: ") }
        let head = RawHTTP.parse(first)
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        #expect(head.headers["cache-control"] == "no-store")
        #expect(first.contains("event: screening\ndata: {"))
        let seq0 = try #require(first.components(separatedBy: "id: ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) })
        // Somebody steps in, too far: one change.
        let face = TrackedFace(id: 42, face: DetectedFace(box: FaceBox(x: 280, y: 200, width: 80, height: 100), score: 0.9),
                               frames: 1, stableFrames: 1, missed: 0)
        await script.hub.faces(FaceAssessment(face: face, distanceMeters: 1.6, pose: nil, sharpness: 100, reasons: [.tooFar(meters: 1.6)]),
                               cameraWidth: 640, cameraHeight: 480, at: script.clock.now(), candidate: nil)
        let more = await client.read { $0.contains("id: \(seq0 + 1)\n") && $0.contains("\"face-seen\"") }
        #expect(more.contains("id: \(seq0 + 1)\nevent: screening\ndata: "))
        let line = try #require(more.components(separatedBy: "\n").first { $0.hasPrefix("data: ") && $0.contains("face-seen") })
        let view = json(String(line.dropFirst(6)))
        #expect(view["reasons"] as? [String] == ["too-far"])
        #expect(view["distanceM"] as? Double == 1.6)
        #expect(view["seq"] as? Int == seq0 + 1)
        // Idle: a keepalive comment.
        let idle = await client.read(timeout: .seconds(3)) { $0.contains(": keepalive\n\n") }
        #expect(idle.contains(": keepalive\n\n"))
        // Several screens at once.
        let second = try RawHTTP(port: port)
        defer { second.close() }
        second.send("GET", "/v1/screening/events", host: "localhost:\(port)")
        #expect(await second.read { $0.contains("data: ") }.contains("\"face-seen\""))
        #expect(await script.hub.viewSubscribers == 2)
        // A screen that goes away is cleaned up (at its next event or keepalive).
        client.close()
        second.close()
        for _ in 0..<40 where await script.hub.viewSubscribers > 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(await script.hub.viewSubscribers == 0)
        // A stream open at shutdown does not hold the daemon up.
        let lingering = try RawHTTP(port: port)
        defer { lingering.close() }
        lingering.send("GET", "/v1/screening/events", host: "127.0.0.1:\(port)")
        _ = await lingering.read { $0.contains("data: ") }
        let t0 = ContinuousClock.now
        await api.stop()
        #expect(ContinuousClock.now - t0 < .seconds(10))
    }

    @Test func theScreenIsServedOnlyToLoopbackNamesWithSecurityHeaders() async throws {
        let dir = uplinkTempDir("ui")
        let ui = dir + "/ui"
        try FileManager.default.createDirectory(atPath: ui + "/js", withIntermediateDirectories: true)
        try "<!doctype html><title>kiosk</title>".write(toFile: ui + "/index.html", atomically: true, encoding: .utf8)
        try "console.log(1)".write(toFile: ui + "/js/app.js", atomically: true, encoding: .utf8)
        try "{}".write(toFile: ui + "/js/strings.json", atomically: true, encoding: .utf8)
        try "secret".write(toFile: dir + "/secret.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: ui + "/escape.txt", withDestinationPath: dir + "/secret.txt")
        let api = try await start(screening: ScreeningScript().hub, dir: dir, tcp: true, ui: UIConfiguration(directory: ui, preview: false))
        let port = try #require(api.port)

        let root = try await RawHTTP.exchange(port: port, "/")
        #expect(root.status == 302)
        #expect(root.headers["location"] == "/ui/")
        let index = try await RawHTTP.exchange(port: port, "/ui/")
        #expect(index.status == 200)
        #expect(index.headers["content-type"] == "text/html; charset=utf-8")
        #expect(index.headers["cache-control"] == "no-cache")
        #expect(index.body.contains("<title>kiosk</title>"))
        #expect(index.headers["content-security-policy"]?.hasPrefix("default-src 'none'; script-src 'self'") == true)
        #expect(index.headers["content-security-policy"]?.hasSuffix("frame-ancestors 'none'") == true)
        #expect(index.headers["x-content-type-options"] == "nosniff")
        #expect(index.headers["referrer-policy"] == "no-referrer")
        let js = try await RawHTTP.exchange(port: port, "/ui/js/app.js", host: "localhost:\(port)")
        #expect(js.status == 200 && js.headers["content-type"] == "text/javascript; charset=utf-8")
        #expect(try await RawHTTP.exchange(port: port, "/ui/js/strings.json").headers["content-type"] == "application/json")
        for path in ["/ui/../secret.txt", "/ui/js/../../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/escape.txt", "/ui/js", "/ui/js/", "/ui/missing.css"] {
            let r = try await RawHTTP.exchange(port: port, path)
            #expect(r.status == 404 || r.status == 400, "\(path) answered \(r.status)")
            #expect(!r.body.contains("secret"), "\(path) leaked")
        }
        // DNS rebinding and cross-origin requests are refused, with the headers too.
        let rebound = try await RawHTTP.exchange(port: port, "/v1/screening", host: "evil.example:\(port)")
        #expect(rebound.status == 403)
        #expect(json(rebound.body)["code"] as? String == "forbidden-host")
        #expect(rebound.headers["content-security-policy"] != nil)
        #expect(try await RawHTTP.exchange(port: port, "/v1/screening", host: "127.0.0.1:1").status == 403)
        let cross = try await RawHTTP.exchange(port: port, "/v1/screening", headers: ["Origin: http://evil.example"])
        #expect(cross.status == 403)
        #expect(json(cross.body)["code"] as? String == "forbidden-origin")
        let same = try await RawHTTP.exchange(port: port, "/v1/screening", headers: ["Origin: http://127.0.0.1:\(port)"])
        #expect(same.status == 200)
        #expect(json(same.body)["state"] as? String == "idle")
        #expect(same.headers["x-content-type-options"] == "nosniff")
        // The preview is off: 404.
        #expect(try await RawHTTP.exchange(port: port, "/v1/camera/preview.jpg").status == 404)
        // The Unix socket serves the API, not the screen.
        #expect(try await api.request("GET", "/ui/").0 == 404)
        await api.stop()
    }

    /// A client polling preview.jpg as fast as it can gets at most `maxFPS` encodes a second (the bound is checked
    /// against the time the polling really took, so a slow machine cannot make it fail).
    @Test func aPollingPreviewClientIsHeldToPreviewFPS() async throws {
        let preview = CameraPreview(options: .init(maxFPS: 2, maxWidth: 320, maxClients: 4))
        let dir = uplinkTempDir("preview-poll")
        let api = try await start(screening: ScreeningScript().hub, dir: dir, tcp: true, ui: UIConfiguration(directory: dir, preview: true),
                                  preview: preview)
        let port = try #require(api.port)
        let camera = Task {
            var seq: UInt64 = 0
            while !Task.isCancelled {
                seq += 1
                let frame = Frame(width: 64, height: 48, layout: .bgr24, pixels: [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 64 * 48 * 3),
                                  sequence: seq, monotonicNanos: seq)
                preview.offer(frame, boxes: [])
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { camera.cancel() }
        let start = ContinuousClock.now
        var answered = 0
        for _ in 0..<25 {
            if try await RawHTTP.exchange(port: port, "/v1/camera/preview.jpg").status == 200 { answered += 1 }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(answered == 25, "every poll gets a picture (the last one while encoding is held back)")
        let allowed = Int((seconds * 2).rounded(.up)) + 1
        #expect(preview.encodedCount <= allowed, "\(preview.encodedCount) encodes in \(seconds) s at preview_fps 2")
        #expect(preview.encodedCount >= 1)
        await api.stop()
    }

    @Test func theCameraPreviewIsEncodedOnlyWhileWatchedAndLimitedToFourClients() async throws {
        let preview = CameraPreview(options: .init(maxFPS: 10, maxWidth: 320, maxClients: 4))
        let dir = uplinkTempDir("preview")
        let api = try await start(screening: ScreeningScript().hub, dir: dir, tcp: true, ui: UIConfiguration(directory: dir, preview: true),
                                  preview: preview)
        let port = try #require(api.port)
        // A camera feeding 640×480 frames at 20 fps, as the vision stage would.
        let camera = Task {
            var seq: UInt64 = 0
            while !Task.isCancelled {
                seq += 1
                var pixels = [UInt8](repeating: 90, count: 640 * 480 * 3)
                for i in stride(from: 0, to: pixels.count, by: 3 * 7) { pixels[i] = UInt8(truncatingIfNeeded: seq) }
                let frame = Frame(width: 640, height: 480, layout: .bgr24, pixels: pixels, sequence: seq, monotonicNanos: seq)
                preview.offer(frame, boxes: [PreviewBox(box: FaceBox(x: 100, y: 100, width: 120, height: 150), ready: true)])
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { camera.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(preview.encodedCount == 0, "nobody watches: nothing is encoded")

        let still = try await RawHTTP.exchange(port: port, "/v1/camera/preview.jpg")
        #expect(still.status == 200)
        #expect(still.headers["content-type"] == "image/jpeg")
        #expect(still.headers["cache-control"] == "no-store")
        #expect(preview.encodedCount >= 1)

        var streams: [RawHTTP] = []
        defer { streams.forEach { $0.close() } }
        for _ in 0..<4 {
            let s = try RawHTTP(port: port)
            s.send("GET", "/v1/camera/preview.mjpeg", host: "127.0.0.1:\(port)")
            let text = await s.read { $0.components(separatedBy: "--frame\r\n").count >= 3 }
            #expect(text.contains("multipart/x-mixed-replace; boundary=frame"))
            #expect(text.contains("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "))
            streams.append(s)
        }
        let fifth = try await RawHTTP.exchange(port: port, "/v1/camera/preview.mjpeg")
        #expect(fifth.status == 503)
        // At most ~10 frames per second reach a client.
        let counter = streams[0]
        _ = await counter.read(timeout: .milliseconds(400)) { _ in false }   // what was already sent
        let burst = await counter.read(timeout: .milliseconds(1500)) { _ in false }
        let parts = burst.components(separatedBy: "--frame\r\n").count - 1
        #expect(parts >= 3 && parts <= 17, "\(parts) parts in 1.5 s at most 10 fps")
        streams.forEach { $0.close() }
        streams.removeAll()
        for _ in 0..<30 where preview.streams > 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(preview.streams == 0, "closed streams give their slot back")
        #expect(!preview.isWatched)
        await api.stop()
    }

    @Test func qrEventsStreamWhileOpenAndTheScannerStopsWhenItCloses() async throws {
        let scanner = QRScanner()
        let dir = uplinkTempDir("qr")
        let api = try await start(screening: ScreeningScript().hub, dir: dir, tcp: true, ui: UIConfiguration(directory: dir),
                                  qrScanner: scanner)
        let port = try #require(api.port)
        #expect(try await RawHTTP.exchange(port: port, "/v1/qr/events", headers: ["Origin: http://evil.example"]).status == 403)
        #expect(!scanner.isActive)
        let s = try RawHTTP(port: port)
        s.send("GET", "/v1/qr/events", host: "127.0.0.1:\(port)")
        let head = await s.read { $0.contains("event: scanning") }
        #expect(head.contains("text/event-stream") && head.lowercased().contains("content-security-policy"))
        #expect(scanner.isActive)
        let camera = Task {
            while !Task.isCancelled {
                scanner.offer(ScannerSymbols.frame(ScannerSymbols.cccd))
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { camera.cancel() }
        let text = await s.read { $0.contains("event: qr") && $0.contains("\"source\":\"qr-cccd\"") }
        #expect(text.contains("\"kind\":\"qr-cccd\"") && text.contains("\"source\":\"qr-cccd\""), "\(text.suffix(300))")
        #expect(!text.contains("026111222") && !text.contains("05072022"), "the parts the declaration has no field for are not sent")
        s.close()
        var stopped = false
        for _ in 0..<300 where !stopped {
            try await Task.sleep(for: .milliseconds(100))
            stopped = !scanner.isActive
        }
        #expect(stopped, "the scanner stops when the last stream closes")
        await api.stop()
    }

    @Test func qrEventsAreNotServedWhenQRScanIsOff() async throws {
        let dir = uplinkTempDir("qr-off")
        let api = try await start(screening: ScreeningScript().hub, dir: dir, tcp: true,
                                  ui: UIConfiguration(directory: dir, qrScan: false), qrScanner: QRScanner())
        let port = try #require(api.port)
        let r = try await RawHTTP.exchange(port: port, "/v1/qr/events")
        #expect(r.status == 404 && r.body.contains("qr-off"))
        await api.stop()
    }
}

/// A ScreeningProvider whose first claim takes the screening at once but answers only when the test opens it:
/// a request that stays in flight for as long as the test wants (a slow disk).
actor SlowClaims: ScreeningProvider {
    let hub: ScreeningHub
    private(set) var held = 0
    private var gate: [CheckedContinuation<Void, Never>] = []
    private var opened = false
    init(_ hub: ScreeningHub) { self.hub = hub }
    func open() {
        opened = true
        gate.forEach { $0.resume() }
        gate.removeAll()
    }
    func currentView() async -> ScreeningView { await hub.currentView() }
    func views() async -> AsyncStream<ScreeningView> { await hub.views() }
    func claim(_ id: UUID) async -> ScreeningClaim {
        let answer = await hub.claim(id)
        if case .claimed = answer, !opened {
            held += 1
            await withCheckedContinuation { gate.append($0) }
        }
        return answer
    }
    func release(_ id: UUID) async { await hub.release(id) }
}

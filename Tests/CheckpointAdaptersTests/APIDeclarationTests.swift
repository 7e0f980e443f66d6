#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
import CheckpointCore
import Foundation
import Testing

/// A screening pipeline stand-in: answers with a fixed capture after a delay, or never.
struct FixedScreening: ScreeningProvider {
    var capture: ScreeningCapture?
    var delay: Duration = .zero
    func currentState() async -> ScreeningState { capture.map { .result($0.summary) } ?? .measuring }
    func awaitCapture(timeout: Duration) async -> ScreeningCapture? {
        guard let capture, delay <= timeout else {
            try? await Task.sleep(for: timeout)
            return nil
        }
        try? await Task.sleep(for: delay)
        return capture
    }
}

@Suite("Kiosk API on a Unix socket", .serialized)
struct APIDeclarationTests {
    static let declaration = """
        {"fullName":"LE VAN AN","birthYear":1979,"gender":"Nam","nation":"VN","provinceId":"19","districtId":"164",
         "wardId":"05436","address":"3 Quang Trung","phone":"+84987654321","hasPatient":2,"hasFromSickCountry":2,"hasSick":2,
         "consent":true}
        """

    struct Running {
        let socket: String
        let store: QueueStore
        let task: Task<Void, any Error>
        func stop() async {
            task.cancel()
            _ = await task.result
        }
        func request(_ method: String, _ path: String, body: Data? = nil) throws -> (Int, Data) {
            let r = try LocalHTTPClient.request(method: method, url: "http://localhost\(path)", socketPath: socket, body: body)
            return (r.status, r.body)
        }
    }

    func start(capacity: QueueCapacity = QueueCapacity(maxBytes: 64 << 20, freeDiskFloor: 0),
               screening: FixedScreening = FixedScreening(capture: ScreeningCapture(
                   summary: ScreeningSummary(result: .normal, rawTemperatureC: 34.2, correctedTemperatureC: 36.7, calibrationId: "cal-1",
                                             sensor: "GY-MCU90640"), faceJPEG: Data([0xFF, 0xD8, 0xFF, 0xD9]))),
               wait: Duration = .milliseconds(300)) async throws -> Running {
        let dir = uplinkTempDir("api")
        let store = try QueueStore(path: dir + "/q.db", options: .init(capacity: capacity))
        let socket = dir + "/api.sock"
        let api = DeclarationAPI(configuration: APIConfiguration(socketPath: socket, screeningWait: wait, checkpointId: "TN-01", deviceId: "k1"),
                                 store: store, screening: screening, uploader: nil)
        let task = Task { try await api.run() }
        let deadline = ContinuousClock.now + .seconds(60)  // generous: the socket is usually up within milliseconds
        while ContinuousClock.now < deadline {
            if (try? LocalHTTPClient.request(url: "http://localhost/healthz", socketPath: socket, timeout: .seconds(1)))?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return Running(socket: socket, store: store, task: task)
    }

    func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }

    @Test func acceptedDeclarationIsStoredBeforeThe201() async throws {
        let api = try await start()
        var st = stat()
        #expect(stat(api.socket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        let (status, body) = try api.request("POST", "/v1/declarations", body: Data(Self.declaration.utf8))
        #expect(status == 201)
        let answer = json(body)
        let id = try #require((answer["id"] as? String).flatMap(UUID.init(uuidString:)))
        #expect((answer["screening"] as? [String: Any])?["result"] as? String == "normal")
        #expect((answer["screening"] as? [String: Any])?["correctedTemperatureC"] as? Double == 36.7)
        let stored = try #require(try api.store.find(id: id))
        #expect(stored.record.declaration["fullName"] == .string("LE VAN AN"))
        #expect(stored.record.screening.calibrationId == "cal-1")
        #expect(stored.record.checkpointId == "TN-01")
        #expect(stored.record.clock.bootId.count > 8)
        #expect(stored.face == Data([0xFF, 0xD8, 0xFF, 0xD9]))
        await api.stop()
    }

    @Test func badInputIsRefusedAndNothingStored() async throws {
        let api = try await start()
        let (s400, b400) = try api.request("POST", "/v1/declarations", body: Data("{not json".utf8))
        #expect(s400 == 400)
        #expect((json(b400)["error"] as? String)?.contains("JSON") == true)
        let big = Data(("{\"address\":\"" + String(repeating: "x", count: 70_000) + "\"}").utf8)
        let (s413, _) = try api.request("POST", "/v1/declarations", body: big)
        #expect(s413 == 413)
        let missingPhone = Self.declaration.replacingOccurrences(of: "\"phone\":\"+84987654321\",", with: "")
        let (s422, b422) = try api.request("POST", "/v1/declarations", body: Data(missingPhone.utf8))
        #expect(s422 == 422)
        #expect(json(b422)["field"] as? String == "phone")
        #expect(try api.store.status().pending == 0)
        await api.stop()
    }

    @Test func fullQueueAnswers503AndDiskFloor507() async throws {
        let full = try await start(capacity: QueueCapacity(maxBytes: 70 * 1024, freeDiskFloor: 0))
        var statuses: [Int] = []
        for _ in 0..<200 {
            statuses.append(try full.request("POST", "/v1/declarations", body: Data(Self.declaration.utf8)).0)
            if statuses.last != 201 { break }
        }
        #expect(statuses.last == 503)
        #expect(try full.store.status().pending == statuses.filter { $0 == 201 }.count)
        await full.stop()

        let floor = try await start(capacity: QueueCapacity(maxBytes: 64 << 20, freeDiskFloor: Int64.max / 4))
        let (s, b) = try floor.request("POST", "/v1/declarations", body: Data(Self.declaration.utf8))
        #expect(s == 507)
        #expect((json(b)["error"] as? String)?.contains("floor") == true)
        #expect(try floor.store.status().pending == 0)
        await floor.stop()
    }

    @Test func noScreeningInTimeIsRecordedAsUnavailable() async throws {
        let api = try await start(screening: FixedScreening(capture: nil), wait: .milliseconds(200))
        let t0 = ContinuousClock.now
        let (status, body) = try api.request("POST", "/v1/declarations", body: Data(Self.declaration.utf8))
        #expect(ContinuousClock.now - t0 >= .milliseconds(200))
        #expect(status == 201)
        #expect((json(body)["screening"] as? [String: Any])?["result"] as? String == "unavailable")
        let (_, state) = try api.request("GET", "/v1/screening")
        #expect(json(state)["state"] as? String == "measuring")
        await api.stop()
    }

    @Test func healthAndMetrics() async throws {
        let api = try await start()
        _ = try api.request("POST", "/v1/declarations", body: Data(Self.declaration.utf8))
        _ = try api.request("POST", "/v1/declarations", body: Data("[]".utf8))
        let (hs, hb) = try api.request("GET", "/healthz")
        #expect(hs == 200)
        #expect(json(hb)["status"] as? String == "ok")
        #expect(json(hb)["queue.pending"] as? String == "1")
        let (ms, mb) = try api.request("GET", "/metrics")
        #expect(ms == 200)
        let text = String(decoding: mb, as: UTF8.self)
        #expect(text.contains("checkpointd_declarations_accepted_total 1"))
        #expect(text.contains("checkpointd_declarations_rejected_total 1"))
        #expect(text.contains("checkpointd_queue_pending 1"))
        // queue size and age: the one pending record was stored moments ago
        func value(_ name: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        #expect((value("checkpointd_queue_used_bytes") ?? 0) > 0)
        #expect((value("checkpointd_queue_max_bytes") ?? 0) >= (value("checkpointd_queue_used_bytes") ?? .infinity))
        let age = try #require(value("checkpointd_queue_oldest_pending_age_seconds"))
        #expect(age >= 0 && age < 30)
        #expect((value("checkpointd_queue_disk_free_bytes") ?? 0) > 0)
        // no personal data in metrics or health
        #expect(!text.contains("LE VAN AN") && !String(decoding: hb, as: UTF8.self).contains("LE VAN AN"))
        await api.stop()
    }
}

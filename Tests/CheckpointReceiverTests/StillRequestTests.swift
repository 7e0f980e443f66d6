import CheckpointCore
@testable import CheckpointReceiver
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Monitoring stills on the receiver (#20): an operator's request waits for the kiosk's next heartbeat, rides on its
/// reply once, and the kiosk's still (or refusal) is kept as the latest, served, shown, and deleted by retention.
@Suite("Receiver: monitoring stills")
struct StillRequestTests {
    /// Bytes that start like a JPEG (the receiver checks the SOI marker, not the image).
    static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]) + Data("JFIF still body".utf8)

    func service(_ clock: TestClock, stills: Bool = true) throws -> (ReceiverService, String) {
        let dir = receiverTempDir("stills")
        let storage = try SQLiteReceiverStorage(path: dir + "/r.db")
        let store = stills ? try MonitoringStills(directory: dir + "/stills") : nil
        return (ReceiverService(storage: storage, options: ReceiverOptions(clock: clock.read, stills: store)), dir + "/stills")
    }

    func heartbeat(_ client: some TestClientProtocol, _ device: String) async throws -> [String: Any] {
        try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(bytes: try sampleHeartbeat(device).encoded())) { r in
            #expect(r.status == .ok)
            return jsonObject(r)
        }
    }

    func ask(_ client: some TestClientProtocol, _ device: String) async throws -> (HTTPResponse.Status, String?) {
        try await client.execute(uri: "/v1/fleet/\(device)/still-requests", method: .post) { r in
            (r.status, jsonObject(r)["requestId"] as? String)
        }
    }

    /// A kiosk that has sent a heartbeat, a still asked of it, and the request handed out on its next heartbeat: the id.
    func handedOutRequest(_ client: some TestClientProtocol, _ device: String) async throws -> String {
        _ = try await heartbeat(client, device)
        let (_, asked) = try await ask(client, device)
        let requestId = try #require(asked)
        _ = try await heartbeat(client, device)
        return requestId
    }

    func postStill(_ client: some TestClientProtocol, device: String, request: String, blurred: Bool = true, body: Data = jpeg) async throws -> HTTPResponse.Status {
        try await client.execute(uri: "/v1/monitoring/stills?deviceId=\(device)&requestId=\(request)&facesBlurred=\(blurred)&faces=1",
                                 method: .post, headers: [.contentType: "image/jpeg"], body: ByteBuffer(bytes: body)) { $0.status }
    }

    func fleetKiosk(_ client: some TestClientProtocol, _ device: String) async throws -> [String: Any] {
        try await client.execute(uri: "/v1/fleet", method: .get) { r in
            ((jsonObject(r)["kiosks"] as? [[String: Any]]) ?? []).first { $0["deviceId"] as? String == device } ?? [:]
        }
    }

    func page(_ client: some TestClientProtocol) async throws -> String {
        try await client.execute(uri: "/fleet", method: .get) { String(buffer: $0.body) }
    }

    @Test func aRequestIsCarriedOnceOnTheKiosksNextHeartbeatReply() async throws {
        let clock = TestClock()
        let (svc, _) = try service(clock)
        try await testApplication(svc).test(.router) { client in
            _ = try await heartbeat(client, "K1")
            _ = try await heartbeat(client, "K2")
            #expect(try await heartbeat(client, "K1")["stillRequest"] == nil)
            let (status, id) = try await ask(client, "K1")
            #expect(status == .accepted)
            let requestId = try #require(id)
            #expect((try await fleetKiosk(client, "K1")["still"] as? [String: Any])?["request"] as? String == "pending")
            #expect(try await page(client).contains("waiting for the kiosk's next heartbeat"))
            // Another kiosk's heartbeat does not take it; K1's next one does, and only that one.
            #expect(try await heartbeat(client, "K2")["stillRequest"] == nil)
            #expect((try await heartbeat(client, "K1")["stillRequest"] as? [String: Any])?["id"] as? String == requestId)
            #expect(try await heartbeat(client, "K1")["stillRequest"] == nil)
            #expect((try await fleetKiosk(client, "K1")["still"] as? [String: Any])?["request"] as? String == "delivered")
        }
    }

    /// Posts for one request racing each other (a kiosk's retry beside its first try): exactly one is kept (201), the
    /// others get 409, and the still served is one of them.
    @Test func racingPostsForOneRequestGetExactlyOneCreated() async throws {
        let (svc, _) = try service(TestClock())
        try await testApplication(svc).test(.router) { client in
            let requestId = try await handedOutRequest(client, "K1")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 { group.addTask { try await self.postStill(client, device: "K1", request: requestId) } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .conflict }.count == 7, "\(statuses)")
            #expect((try await fleetKiosk(client, "K1")["still"] as? [String: Any])?["request"] as? String == "received")
            try await client.execute(uri: "/v1/fleet/K1/still.jpg", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func anUnknownKioskOrAReceiverWithoutStillsRefusesTheRequest() async throws {
        let (svc, _) = try service(TestClock())
        try await testApplication(svc).test(.router) { client in
            let (status, _) = try await ask(client, "NEVER-SEEN")
            #expect(status == .notFound)
        }
        let (off, _) = try service(TestClock(), stills: false)
        try await testApplication(off).test(.router) { client in
            _ = try await heartbeat(client, "K1")
            let (status, _) = try await ask(client, "K1")
            #expect(status == .conflict)
            #expect(try await page(client).contains("still-requests") == false)
        }
    }

    @Test func theStillIsKeptServedAndShownAndOnlyForTheRequestHandedOut() async throws {
        let clock = TestClock()
        let (svc, dir) = try service(clock)
        try await testApplication(svc).test(.router) { client in
            _ = try await heartbeat(client, "K1")
            _ = try await heartbeat(client, "K2")
            // Unsolicited: no request outstanding.
            #expect(try await postStill(client, device: "K1", request: "r-unasked") == .conflict)
            let (_, asked) = try await ask(client, "K1")
            let requestId = try #require(asked)
            _ = try await heartbeat(client, "K1")
            // Another kiosk cannot answer K1's request under its own name, nor post a non-JPEG, nor a bad id.
            #expect(try await postStill(client, device: "K2", request: requestId) == .conflict)
            #expect(try await postStill(client, device: "K1", request: requestId, body: Data("<html>".utf8)) == .unprocessableContent)
            #expect(try await postStill(client, device: "../K1", request: requestId) == .badRequest)
            #expect(try await postStill(client, device: "K1", request: requestId) == .created)
            // Answered once: the same request again is refused.
            #expect(try await postStill(client, device: "K1", request: requestId) == .conflict)
            try await client.execute(uri: "/v1/fleet/K1/still.jpg", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "image/jpeg")
                #expect(Data(buffer: r.body) == Self.jpeg)
                #expect(r.headers[HTTPFields.Element.Name("X-Request-Id")!] == requestId)
                #expect(r.headers[HTTPFields.Element.Name("X-Faces-Blurred")!] == "true")
            }
            try await client.execute(uri: "/v1/fleet/K2/still.jpg", method: .get) { #expect($0.status == .notFound) }
            let still = try #require(try await fleetKiosk(client, "K1")["still"] as? [String: Any])
            #expect(still["request"] as? String == "received")
            #expect((still["still"] as? [String: Any])?["facesBlurred"] as? Bool == true)
            #expect((still["still"] as? [String: Any])?["bytes"] as? Int == Self.jpeg.count)
            let html = try await page(client)
            #expect(html.contains("<img src=\"/v1/fleet/K1/still.jpg?r=\(requestId)\""))
            #expect(html.contains("faces blurred"))
        }
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/K1.jpg")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aKioskWithStillsOffSaysSoAndThePageShowsIt() async throws {
        let (svc, _) = try service(TestClock())
        try await testApplication(svc).test(.router) { client in
            let requestId = try await handedOutRequest(client, "K1")
            let refusal = try StillRefusal(deviceId: "K1", requestId: requestId, reason: .disabled).encoded()
            try await client.execute(uri: "/v1/monitoring/still-refusals", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(bytes: refusal)) { #expect($0.status == .noContent) }
            // Not outstanding any more.
            try await client.execute(uri: "/v1/monitoring/still-refusals", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(bytes: refusal)) { #expect($0.status == .conflict) }
            let still = try #require(try await fleetKiosk(client, "K1")["still"] as? [String: Any])
            #expect(still["request"] as? String == "refused" && still["refusal"] as? String == "disabled")
            #expect(try await page(client).contains("monitoring stills are off on this kiosk"))
        }
    }

    @Test func theFleetPagesButtonAsksAndComesBack() async throws {
        let (svc, _) = try service(TestClock())
        try await testApplication(svc).test(.router) { client in
            _ = try await heartbeat(client, "K1")
            #expect(try await page(client).contains("<form method=\"post\" action=\"/v1/fleet/K1/still-requests\">"))
            try await client.execute(uri: "/v1/fleet/K1/still-requests", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer()) { r in
                #expect(r.status == .seeOther)
                #expect(r.headers[.location] == "/fleet#kiosk-K1")
            }
            #expect((try await heartbeat(client, "K1")["stillRequest"] as? [String: Any])?["id"] != nil)
        }
    }

    @Test func retentionReallyDeletesTheStill() async throws {
        let clock = TestClock()
        let (svc, dir) = try service(clock)
        try await testApplication(svc).test(.router) { client in
            let requestId = try await handedOutRequest(client, "K1")
            #expect(try await postStill(client, device: "K1", request: requestId, blurred: false) == .created)
        }
        _ = try await svc.purge(recordDays: nil, faceDays: 7)
        #expect(FileManager.default.fileExists(atPath: dir + "/K1.jpg"))   // just received: kept
        clock.advance(8 * 86400)
        _ = try await svc.purge(recordDays: nil, faceDays: 7)
        #expect(!FileManager.default.fileExists(atPath: dir + "/K1.jpg"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/K1.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        try await testApplication(svc).test(.router) { client in
            try await client.execute(uri: "/v1/fleet/K1/still.jpg", method: .get) { #expect($0.status == .notFound) }
        }
    }

    /// Scaling out: two receivers on one database (each its own connection pool, as two processes would have). A request
    /// made on one is handed out by the other on the kiosk's heartbeat, once; the still is accepted by either; a second
    /// heartbeat to either carries nothing; the fleet view on both shows the same state.
    @Test func twoReceiversOnOneDatabaseShareTheRequests() async throws {
        let clock = TestClock()
        let dir = receiverTempDir("stills-two")
        let stillsDir = dir + "/stills"   // shared, as the faces directory is
        let a = ReceiverService(storage: try SQLiteReceiverStorage(path: dir + "/r.db"),
                                options: ReceiverOptions(clock: clock.read, stills: try MonitoringStills(directory: stillsDir)))
        let b = ReceiverService(storage: try SQLiteReceiverStorage(path: dir + "/r.db"),
                                options: ReceiverOptions(clock: clock.read, stills: try MonitoringStills(directory: stillsDir)))
        try await testApplication(a).test(.router) { onA in
            try await testApplication(b).test(.router) { onB in
                _ = try await heartbeat(onA, "K1")
                let (status, asked) = try await ask(onA, "K1")
                #expect(status == .accepted)
                let requestId = try #require(asked)
                #expect((try await fleetKiosk(onB, "K1")["still"] as? [String: Any])?["request"] as? String == "pending")
                #expect((try await heartbeat(onB, "K1")["stillRequest"] as? [String: Any])?["id"] as? String == requestId)
                #expect(try await heartbeat(onA, "K1")["stillRequest"] == nil)
                #expect(try await postStill(onA, device: "K1", request: requestId) == .created)
                #expect(try await postStill(onB, device: "K1", request: requestId) == .conflict)   // answered already
                for client in [onA, onB] as [any TestClientProtocol] {
                    let still = try await fleetKiosk(client, "K1")["still"] as? [String: Any]
                    #expect(still?["request"] as? String == "received")
                    #expect(still?["requestId"] as? String == requestId)
                }
            }
        }
    }
}

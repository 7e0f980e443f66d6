import CheckpointCore
@testable import CheckpointReceiver
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

func sampleHeartbeat(_ device: String, sentAt: Date = Date(timeIntervalSince1970: 1_790_000_000), sensor: Bool = true,
                     stages: [Heartbeat.Stage] = [.init(name: "camera", state: .ok), .init(name: "thermal", state: .ok)],
                     queue: Int = 0, deadLetters: Int = 0, calibrationAgeDays: Double = 20) -> Heartbeat {
    Heartbeat(deviceId: device, checkpointId: "TN-01", sentAt: sentAt, clockSynced: true, bootId: "b", sequence: 1, reason: .interval,
              uptimeSeconds: 100, health: .init(overall: stages.map(\.state).max() ?? .ok, stages: stages),
              sensor: .init(connected: sensor, ambientC: 30.5, warmUpRemainingSeconds: 0),
              calibration: .init(id: "cal-1", calibratedAt: nil, ageDays: calibrationAgeDays),
              queue: .init(depth: queue, oldestPendingAgeSeconds: queue > 0 ? 60 : nil, deadLetters: deadLetters, lastSuccessfulUploadAt: nil, alert: false),
              freeDiskBytes: 8_000_000_000, screenings: .init(normal: 4, elevated: 1))
}

/// A clock the test moves.
final class TestClock: Sendable {
    let now = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
    func advance(_ s: Double) { now.withLock { $0 += s } }
    var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
}

@Suite("Receiver: heartbeats and the fleet view")
struct FleetTests {
    func service(_ clock: TestClock, silentAfter: Double = 900) throws -> ReceiverService {
        let storage = try SQLiteReceiverStorage(path: receiverTempDir("fleet") + "/r.db")
        return ReceiverService(storage: storage, options: ReceiverOptions(fleet: .init(silentAfterSeconds: silentAfter), clock: clock.read))
    }

    func post(_ client: some TestClientProtocol, _ h: Heartbeat) async throws -> HTTPResponse.Status {
        try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(bytes: try h.encoded())) { $0.status }
    }

    func expectKept(_ client: some TestClientProtocol, _ h: Heartbeat) async throws {
        let status = try await post(client, h)
        #expect(status == .ok, "\(h.deviceId)")
    }

    @Test func onlyTheLatestHeartbeatPerDeviceIsKept() async throws {
        let clock = TestClock()
        let svc = try service(clock)
        try await testApplication(svc).test(.router) { client in
            try await expectKept(client, sampleHeartbeat("K1", queue: 5))
            try await expectKept(client, sampleHeartbeat("K1", queue: 2))
            try await expectKept(client, sampleHeartbeat("K2"))
        }
        let stored = try await svc.storage.latestHeartbeats()
        #expect(stored.map(\.deviceId) == ["K1", "K2"])
        #expect(try Heartbeat.decode(stored[0].json).queue.depth == 2)
    }

    @Test func aHeartbeatOutsideTheContractIsRefused() async throws {
        let svc = try service(TestClock())
        try await testApplication(svc).test(.router) { client in
            var bad = sampleHeartbeat("K1")
            bad.queue.depth = -3
            let refused = try await post(client, bad)
            #expect(refused == .unprocessableContent)
            try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"deviceId":"K1","fullName":"x"}"#)) { #expect($0.status == .unprocessableContent) }
            try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "text/plain"],
                                     body: ByteBuffer(bytes: try sampleHeartbeat("K1").encoded())) { #expect($0.status == .unsupportedMediaType) }
            try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(repeating: 0x20, count: 70_000)) { #expect($0.status == .contentTooLarge) }
        }
        #expect(try await svc.storage.latestHeartbeats().isEmpty)
    }

    @Test func aKioskThatStopsTalkingTurnsSilentAfterTheThresholdAndListsFirst() async throws {
        let clock = TestClock()
        let svc = try service(clock, silentAfter: 600)
        try await testApplication(svc).test(.router) { client in
            try await expectKept(client, sampleHeartbeat("K-quiet"))
            clock.advance(300)
            try await expectKept(client, sampleHeartbeat("K-busy", queue: 3))
            try await expectKept(client, sampleHeartbeat("K-nosensor", sensor: false))
            let before = try await svc.fleet()
            #expect(before.kiosks.map(\.status) == [.attention, .ok, .ok])
            clock.advance(300)   // K-quiet: 600 s, not yet longer than the threshold
            let atThreshold = try await svc.fleet()
            #expect(atThreshold.counts.silent == 0)
            clock.advance(1)
            let fleet = try await svc.fleet()
            #expect(fleet.kiosks.map(\.deviceId) == ["K-quiet", "K-nosensor", "K-busy"])
            #expect(fleet.kiosks[0].status == .silent)
            #expect(fleet.kiosks[0].reasons == ["no heartbeat"])
            #expect(fleet.kiosks[1].reasons == ["sensor lost"])
            #expect(fleet.counts == .init(total: 3, silent: 1, failed: 0, attention: 1, ok: 1))
            // It talks again: no longer silent.
            try await expectKept(client, sampleHeartbeat("K-quiet"))
            let after = try await svc.fleet()
            #expect(after.counts.silent == 0)
            // The JSON the province's tools read.
            try await client.execute(uri: "/v1/fleet", method: .get) { r in
                let obj = jsonObject(r)
                #expect((obj["counts"] as? [String: Any])?["total"] as? Int == 3)
                #expect(((obj["kiosks"] as? [[String: Any]])?.first)?["status"] as? String == "attention")
            }
        }
    }

    @Test func failedStagesOldCalibrationsAndDeadLettersAreNamed() throws {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let hb: [IncomingHeartbeat] = try [
            sampleHeartbeat("A", stages: [.init(name: "detector", state: .failed, detail: "no model")]),
            sampleHeartbeat("B", deadLetters: 2, calibrationAgeDays: 400),
            sampleHeartbeat("C", stages: [.init(name: "camera", state: .recovering, detail: "gone")]),
        ].map { IncomingHeartbeat(deviceId: $0.deviceId, checkpointId: $0.checkpointId, json: try $0.encoded(), receivedAt: now) }
        let fleet = FleetView(heartbeats: hb, now: now, thresholds: .init())
        #expect(fleet.kiosks.map(\.deviceId) == ["A", "B", "C"])
        #expect(fleet.kiosks[0].status == .failed)
        #expect(fleet.kiosks[0].reasons == ["detector failed"])
        #expect(fleet.kiosks[1].reasons == ["dead letters", "old calibration"])
        #expect(fleet.kiosks[2].reasons == ["camera recovering"])
    }

    @Test func thePageIsSelfContainedBilingualAndEscapesWhatKiosksSend() throws {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let evil = sampleHeartbeat("<script>alert(1)</script>")
        let fleet = FleetView(heartbeats: [IncomingHeartbeat(deviceId: evil.deviceId, checkpointId: "TN-01", json: try evil.encoded(),
                                                             receivedAt: now - 2000)],
                              now: now, thresholds: .init(silentAfterSeconds: 900))
        let html = FleetPage.html(fleet)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;"))
        #expect(html.contains("Mất liên lạc"))
        #expect(html.contains("Silent"))
        #expect(html.contains("<html lang=\"vi\">"))
        // Nothing loaded from anywhere: no URL, no script, no external style or image.
        for needle in ["http://", "https://", "<script", "<link", "<img", "src=", "@import", "url("] { #expect(!html.contains(needle), "\(needle)") }
    }

    @Test func prometheusHasAGaugePerKiosk() async throws {
        let clock = TestClock()
        let svc = try service(clock, silentAfter: 600)
        try await testApplication(svc).test(.router) { client in
            try await expectKept(client, sampleHeartbeat("K1", queue: 7))
            clock.advance(700)
            try await expectKept(client, sampleHeartbeat("K2"))
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(text.contains(#"checkpoint_kiosk_silent{device="K1",checkpoint="TN-01"} 1.0"#))
                #expect(text.contains(#"checkpoint_kiosk_silent{device="K2",checkpoint="TN-01"} 0.0"#))
                #expect(text.contains(#"checkpoint_kiosk_queue_depth{device="K1",checkpoint="TN-01"} 7.0"#))
                #expect(text.contains(#"checkpoint_fleet_kiosks{status="silent"} 1.0"#))
                #expect(text.contains("# HELP checkpoint_kiosk_heartbeat_age_seconds"))
            }
        }
    }
}

@Suite("Receiver: per-device rate limit")
struct RateLimitTests {
    func status(_ client: some TestClientProtocol, _ device: String) async throws -> (HTTPResponse.Status, String?) {
        try await client.execute(uri: "/v1/heartbeats", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(bytes: try sampleHeartbeat(device).encoded())) { ($0.status, $0.headers[.retryAfter]) }
    }

    @Test func aDeviceOverItsRequestsPerMinuteGets429UntilTheMinuteIsOver() async throws {
        let clock = TestClock()
        let storage = try SQLiteReceiverStorage(path: receiverTempDir("rate") + "/r.db")
        let svc = ReceiverService(storage: storage, options: ReceiverOptions(clock: clock.read, perDevicePerMinute: 3))
        try await testApplication(svc).test(.router) { client in
            for _ in 0..<3 {
                let ok = try await status(client, "K1")
                #expect(ok.0 == .ok)
            }
            let limited = try await status(client, "K1")
            #expect(limited.0 == .tooManyRequests)
            #expect(limited.1 == "60")
            let other = try await status(client, "K2")   // another kiosk is not held back
            #expect(other.0 == .ok)
            // A record from the limited device too: the limit is per device, whatever it sends.
            let record = sampleRecord(9, device: "K1")
            let r = try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: record.id.uuidString.lowercased()),
                                             body: multipart(json: try record.encoded())) { $0.status }
            #expect(r == .tooManyRequests)
            clock.advance(61)
            let later = try await status(client, "K1")
            #expect(later.0 == .ok)
        }
    }
}

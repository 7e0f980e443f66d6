import CheckpointAdapters
import CheckpointCore
import Foundation
import Testing

/// The daemon's heartbeat sender against the real receiver (built next to the tests).
@Suite("Heartbeat sender", .serialized)
struct HeartbeatSenderTests {
    static func status(depth: Int, sensor: Bool = true) -> KioskStatus {
        KioskStatus(stages: [], overall: .ok, sensorAvailable: sensor, ambientC: 30, warmUpRemainingSeconds: 0, calibrationId: "cal-7",
                    calibratedAt: Date(timeIntervalSinceNow: -3 * 86400), queueDepth: depth, oldestPendingAt: nil, deadLetters: 0,
                    lastDeliveryAt: nil, uplinkAlert: false, freeDiskBytes: 1 << 30)
    }

    func fleet(_ receiver: ReceiverProcess) throws -> [[String: Any]] {
        let r = try LocalHTTPClient.request(url: "http://127.0.0.1:\(receiver.port)/v1/fleet", socketPath: nil)
        return ((try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["kiosks"] as? [[String: Any]]) ?? []
    }

    @Test func theFirstHeartbeatGoesAtOnceTheNextOnlyWhenDueOrOnAChange() async throws {
        let receiver = try ReceiverProcess()
        let sensor = SensorFlag()
        let sender = try HeartbeatSender(
            upload: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true), intervalSeconds: 300,
            identity: HeartbeatIdentity(deviceId: "TN-01-K9", checkpointId: "TN-01", bootId: "b"),
            conditions: { HeartbeatConditions(stages: [], sensorAvailable: sensor.value, uplinkAlert: false, deadLetters: 0) },
            status: { Self.status(depth: 4, sensor: sensor.value) })
        sender.screening(.normal)
        sender.screening(.elevated)
        #expect(await sender.tick())
        var kiosk = try #require(try fleet(receiver).first)
        #expect(kiosk["deviceId"] as? String == "TN-01-K9")
        #expect(kiosk["queueDepth"] as? Int == 4)
        #expect(kiosk["calibrationId"] as? String == "cal-7")
        #expect((kiosk["screenings"] as? [String: Int])?["elevated"] == 1)
        #expect(await sender.tick() == false)   // nothing changed, not due for 300 s
        sensor.value = false
        try await Task.sleep(for: .seconds(5.2))   // state changes are at least 5 s apart
        #expect(await sender.tick())
        kiosk = try #require(try fleet(receiver).first)
        #expect(kiosk["sensorConnected"] as? Bool == false)
        #expect((kiosk["screenings"] as? [String: Int])?["elevated"] == 0)   // counted once, acknowledged
        #expect(sender.status.sent == 2)
    }

    @Test func anUnreachableReceiverCostsOneFailedAttemptAndNothingQueued() async throws {
        let sender = try HeartbeatSender(
            upload: UploadConfiguration(endpoint: "http://127.0.0.1:9/v1/records", allowInsecureHTTP: true, connectTimeout: .seconds(2)),
            intervalSeconds: 60, identity: HeartbeatIdentity(deviceId: "K", checkpointId: "C", bootId: "b"),
            conditions: { HeartbeatConditions(stages: [], sensorAvailable: true, uplinkAlert: false, deadLetters: 0) },
            status: { Self.status(depth: 0) })
        #expect(await sender.tick() == false)
        #expect(sender.status.failed == 1)
        #expect(sender.status.lastError?.contains("CURLcode") == true)
        #expect(await sender.tick() == false)   // backing off (5 s): no second attempt yet
        #expect(sender.status.failed == 1)
    }

    /// Monitoring stills end to end over the real receiver: the request rides on the heartbeat reply, the sender
    /// answers on its own handle, the receiver keeps the JPEG; with stills off only a refusal goes.
    @Test func aStillRequestOnTheReplyIsAnsweredWithOneStillOrARefusal() async throws {
        let receiverDir = uplinkTempDir("stills")
        let receiver = try ReceiverProcess(["--stills", receiverDir + "/stills"])
        let frame = Frame(width: 64, height: 48, layout: .bgr24, pixels: [UInt8](repeating: 120, count: 64 * 48 * 3), sequence: 1, monotonicNanos: 0)
        let jpeg = Data(try ImageCodec.encode(frame.pixels, width: 64, height: 48, channels: 3, quality: 80))
        let asked = SensorFlag()
        asked.value = false
        func sender(_ device: String, enabled: Bool) throws -> HeartbeatSender {
            try HeartbeatSender(
                upload: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true), intervalSeconds: 1,
                identity: HeartbeatIdentity(deviceId: device, checkpointId: "TN-01", bootId: "b"),
                monitoring: StillRequestPolicy(stillEnabled: enabled, blurFaces: true), stillRetryDelay: .milliseconds(100),
                still: { blur in
                    asked.value = true
                    return HeartbeatSender.Still(jpeg: jpeg, faces: 0, facesBlurred: blur)
                },
                conditions: { HeartbeatConditions(stages: [], sensorAvailable: true, uplinkAlert: false, deadLetters: 0) },
                status: { Self.status(depth: 0) })
        }
        func ask(_ device: String) throws -> String {
            let r = try LocalHTTPClient.request(method: "POST", url: "http://127.0.0.1:\(receiver.port)/v1/fleet/\(device)/still-requests", socketPath: nil, body: Data())
            #expect(r.status == 202)
            return ((try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["requestId"] as? String) ?? ""
        }
        /// The next heartbeat (interval 1 s): its reply carries the request, answered before tick returns.
        func nextHeartbeat(_ s: HeartbeatSender) async throws {
            for _ in 0..<100 where !(await s.tick()) { try await Task.sleep(for: .milliseconds(200)) }
        }
        let on = try sender("TN-01-K1", enabled: true)
        #expect(await on.tick())
        let id = try ask("TN-01-K1")
        try await nextHeartbeat(on)
        #expect(on.status.lastStillOutcome == .sent(bytes: jpeg.count))
        #expect(asked.value)
        let still = try LocalHTTPClient.request(url: "http://127.0.0.1:\(receiver.port)/v1/fleet/TN-01-K1/still.jpg", socketPath: nil)
        #expect(still.status == 200 && still.body == jpeg)

        asked.value = false
        let off = try sender("TN-01-K2", enabled: false)
        #expect(await off.tick())
        _ = try ask("TN-01-K2")
        try await nextHeartbeat(off)
        #expect(off.status.lastStillOutcome == .refused(.disabled))
        #expect(asked.value == false, "stills off: the camera is not even asked")
        let k2 = try #require(try fleet(receiver).first { $0["deviceId"] as? String == "TN-01-K2" })
        #expect((k2["still"] as? [String: Any])?["refusal"] as? String == "disabled")
        #expect(try LocalHTTPClient.request(url: "http://127.0.0.1:\(receiver.port)/v1/fleet/TN-01-K2/still.jpg", socketPath: nil).status == 404)
        _ = id
    }
}

/// A flag the test flips while the sender reads it.
final class SensorFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = true
    var value: Bool {
        get { lock.withLock { v } }
        set { lock.withLock { v = newValue } }
    }
}

@Suite("Client certificate expiry")
struct ClientCertificateExpiryTests {
    @Test func theHeartbeatCarriesTheClientCertificatesExpiry() throws {
        let dir = uplinkTempDir("cert")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/k.pem",
                       "-out", dir + "/c.pem", "-days", "10", "-subj", "/CN=TN-01-K3"]
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        let expiry = try #require(ClientCertificateExpiry().expiry(path: dir + "/c.pem"))
        #expect(abs(expiry.timeIntervalSinceNow - 10 * 86400) < 120)
        #expect(ClientCertificateExpiry().expiry(path: dir + "/k.pem") == nil)   // a key, not a certificate
        #expect(ClientCertificateExpiry().expiry(path: nil) == nil)
    }
}

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

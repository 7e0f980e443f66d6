@testable import CheckpointCore
import Foundation
import Testing

@Suite("Heartbeat: when a kiosk reports, and what")
struct HeartbeatTests {
    let fine = HeartbeatConditions(sensorConnected: true, cameraOK: true, queueAlert: false, deadLetters: 0)

    @Test func sendsAtStartThenEveryInterval() {
        var s = HeartbeatSchedule(interval: 60)
        #expect(s.decide(now: 0, conditions: fine) == .init(reason: .startup, changes: []))
        s.succeeded(at: 0, conditions: fine)
        #expect(s.decide(now: 59.9, conditions: fine) == nil)
        #expect(s.decide(now: 60, conditions: fine) == .init(reason: .interval, changes: []))
        #expect(s.secondsUntilDue(now: 30) == 30)
    }

    @Test func aStateChangeSendsAtOnceNamingWhatChanged() {
        var s = HeartbeatSchedule(interval: 300, minSpacing: 5)
        s.succeeded(at: 0, conditions: fine)
        var lost = fine
        lost.sensorConnected = false
        lost.cameraOK = false
        #expect(s.decide(now: 10, conditions: lost) == .init(reason: .stateChange, changes: [.sensorLost, .cameraLost]))
        s.succeeded(at: 10, conditions: lost)
        // Nothing new: quiet until the interval.
        #expect(s.decide(now: 20, conditions: lost) == nil)
        // Back, an alert, dead letters: each named.
        let back = HeartbeatConditions(sensorConnected: true, cameraOK: true, queueAlert: true, deadLetters: 2)
        #expect(s.decide(now: 30, conditions: back) == .init(reason: .stateChange, changes: [.sensorBack, .cameraBack, .queueAlert, .deadLetters]))
        s.succeeded(at: 30, conditions: back)
        let cleared = HeartbeatConditions(sensorConnected: true, cameraOK: true, queueAlert: false, deadLetters: 0)
        #expect(s.decide(now: 40, conditions: cleared)?.changes == [.queueAlertCleared, .deadLettersCleared])
        // Fewer dead letters (one retried) but not none: not a change worth a heartbeat.
        var fewer = back
        fewer.deadLetters = 1
        #expect(s.decide(now: 40, conditions: fewer) == nil)
    }

    @Test func aFlappingSensorCannotFloodTheUplink() {
        var s = HeartbeatSchedule(interval: 300, minSpacing: 5)
        s.succeeded(at: 100, conditions: fine)
        var lost = fine
        lost.sensorConnected = false
        #expect(s.decide(now: 102, conditions: lost) == nil)   // within minSpacing of the last one
        #expect(s.decide(now: 105, conditions: lost)?.reason == .stateChange)
    }

    @Test func aFailedSendIsRetriedWithBackoffCarryingItsChangesNotQueued() {
        var s = HeartbeatSchedule(interval: 60, minSpacing: 5, retryMin: 5)
        s.succeeded(at: 0, conditions: fine)
        var lost = fine
        lost.sensorConnected = false
        #expect(s.decide(now: 10, conditions: lost)?.changes == [.sensorLost])
        s.failed(at: 10, conditions: lost)
        #expect(s.decide(now: 14, conditions: lost) == nil)
        s.failed(at: 15, conditions: lost)
        #expect(s.retryDelay == 10)
        #expect(s.decide(now: 24, conditions: lost) == nil)
        // The sensor came back meanwhile: the next heartbeat says it was lost and is back, with today's state.
        #expect(s.decide(now: 25, conditions: fine) == .init(reason: .stateChange, changes: [.sensorLost]))
        for t in stride(from: 30.0, through: 300, by: 30) { s.failed(at: t, conditions: fine) }
        #expect(s.retryDelay == 60)   // never longer than the interval
        s.succeeded(at: 400, conditions: fine)
        #expect(s.failures == 0)
        #expect(s.decide(now: 401, conditions: fine) == nil)
    }

    @Test func aKioskThatNeverReachedTheServerKeepsSayingStartup() {
        var s = HeartbeatSchedule(interval: 60, retryMin: 5)
        s.failed(at: 0, conditions: fine)
        #expect(s.decide(now: 5, conditions: fine)?.reason == .startup)
    }

    @Test func screeningsCountUntilAcknowledged() {
        var t = ScreeningTally()
        t.add(.normal); t.add(.normal); t.add(.elevated); t.add(.invalid)
        let sent = t.counts
        #expect(sent == Heartbeat.Screenings(normal: 2, elevated: 1, invalid: 1))
        t.add(.normal)   // decided while the heartbeat was in flight
        t.acknowledge(sent)
        #expect(t.counts == Heartbeat.Screenings(normal: 1, elevated: 0, invalid: 0))
    }

    func status() -> KioskStatus {
        KioskStatus(
            stages: [.init(stage: .camera, state: .recovering("/dev/video0 gone"), lastReport: 0, stallLimit: 0, progressCount: 0),
                     .init(stage: .thermal, state: .ok, lastReport: 0, stallLimit: 0, progressCount: 4)],
            overall: .recovering("/dev/video0 gone"), sensorAvailable: true, ambientC: 31.25, warmUpRemainingSeconds: -3,
            calibrationId: "TN-01-2026-11", calibratedAt: Date(timeIntervalSince1970: 1_790_000_000),
            queueDepth: 12, oldestPendingAt: Date(timeIntervalSince1970: 1_790_000_000 + 86400 * 10 - 600), deadLetters: 1,
            lastDeliveryAt: Date(timeIntervalSince1970: 1_790_000_000 + 86400 * 9), uplinkAlert: false, freeDiskBytes: 5_000_000_000)
    }

    @Test func theRecordIsBuiltFromStatusWithAgesAtSendTime() throws {
        let now = Date(timeIntervalSince1970: 1_790_000_000 + 86400 * 10)
        let id = HeartbeatIdentity(deviceId: "TN-01-K3", checkpointId: "TN-01", bootId: "b-1")
        let h = Heartbeat(identity: id, status: status(), decision: .init(reason: .stateChange, changes: [.cameraLost]), sequence: 7, now: now,
                          clockSynced: true, uptimeSeconds: 3600, screenings: .init(normal: 3))
        #expect(h.health.overall == .recovering)
        #expect(h.health.stages.first == .init(name: "camera", state: .recovering, detail: "/dev/video0 gone"))
        #expect(h.health.stages.last?.detail == nil)
        #expect(h.calibration.ageDays == 10)
        #expect(h.queue.oldestPendingAgeSeconds == 600)
        #expect(h.sensor.warmUpRemainingSeconds == 0)
        #expect(h.changes == [.cameraLost])
        #expect(!status().conditions.cameraOK)
        // The wire form round-trips and passes the contract's checks.
        let decoded = try Heartbeat.decode(try h.encoded())
        #expect(decoded == h)
        let json = String(decoding: try h.encoded(), as: UTF8.self)
        #expect(json.contains(#""reason":"state-change""#))
        #expect(json.contains(#""sentAt":"2026-"#))
    }

    @Test func aHeartbeatOutsideTheContractsRangesIsRefused() throws {
        let id = HeartbeatIdentity(deviceId: "K", checkpointId: "C", bootId: "b")
        var h = Heartbeat(identity: id, status: status(), decision: .init(reason: .interval, changes: []), sequence: 0, now: Date(),
                          clockSynced: false, uptimeSeconds: 1, screenings: .init())
        h.queue.depth = -1
        #expect(throws: CoreError.self) { try Heartbeat.decode(try h.encoded()) }
        h.queue.depth = 0
        h.deviceId = ""
        #expect(throws: CoreError.self) { try Heartbeat.decode(try h.encoded()) }
        #expect(throws: (any Error).self) { try Heartbeat.decode(Data(#"{"deviceId":"K"}"#.utf8)) }
    }
}

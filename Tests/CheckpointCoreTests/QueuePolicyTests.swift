@testable import CheckpointCore
import Foundation
import Testing

@Suite("Upload retry policy, scheduler and queue capacity")
struct QueuePolicyTests {
    let policy = UploadPolicy(baseDelay: .seconds(1), maxDelay: .seconds(300), slowRetryDelay: .seconds(600), retryAfterClamp: 1...900)
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func delay(_ d: UploadDecision) -> Double? {
        if case .retry(let delay, _, _, _) = d { return Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18 }
        return nil
    }

    @Test(arguments: [200, 201])
    func aReceiptDeletes(status: Int) {
        #expect(policy.decide(.http(status: status, retryAfter: nil, receipt: true), attempt: 3, now: now, unit: 0.5) == .delivered)
    }

    /// A captive portal, a maintenance page or a proxy answering 2xx for the server: not a delivery. The record stays,
    /// the uploader pauses (every record would get the same answer) and a person is alerted.
    @Test(arguments: [200, 201, 202, 204, 299])
    func aSuccessStatusWithoutReceiptKeepsTheRecordPausesAndAlerts(status: Int) {
        guard case .retry(_, let pause, let alert, let reason) = policy.decide(.http(status: status, retryAfter: nil, receipt: false),
                                                                                attempt: 0, now: now, unit: 0.5) else {
            Issue.record("HTTP \(status) without a receipt must not delete the record"); return
        }
        #expect(pause && alert)
        #expect(reason.contains("receipt"))
        // a 202/204 is not a delivery even with a body that looks like one
        if status != 200 && status != 201 {
            #expect(policy.decide(.http(status: status, retryAfter: nil, receipt: true), attempt: 0, now: now, unit: 0.5) != .delivered)
        }
    }

    /// A server that rejects everything (a changed contract, a proxy answering 400 for an expired certificate) must not
    /// empty the queue into the dead letter: three rejections in a row are dead-lettered, the fourth pauses with an alert.
    @Test func rejectionsInARowPauseUploadingInsteadOfDeadLetteringTheQueue() {
        var s = UploadScheduler(policy: policy)
        let rejected = UploadOutcome.http(status: 422, retryAfter: nil, receipt: false)
        for i in 0..<3 {
            #expect(s.record(rejected, attempts: 0, now: now, unit: 0.5) == .deadLetter(reason: "HTTP 422"), "rejection \(i + 1)")
        }
        #expect(s.alert == nil)
        guard case .reschedule(let notBefore, let attempts, let reason) = s.record(rejected, attempts: 0, now: now, unit: 0.5) else {
            Issue.record("the fourth rejection in a row must keep the record"); return
        }
        #expect(attempts == 1 && notBefore == now.addingTimeInterval(600) && s.pausedUntil == notBefore)
        #expect(reason.contains("4 records in a row") && s.alert == reason)
        // after the pause, the server still rejects: still paused, still nothing dead-lettered
        guard case .reschedule = s.record(rejected, attempts: 1, now: now.addingTimeInterval(601), unit: 0.5) else {
            Issue.record("still rejecting: must stay paused"); return
        }
        // one delivery shows the server takes records again: the count starts over
        #expect(s.record(.http(status: 201, retryAfter: nil, receipt: true), attempts: 0, now: now.addingTimeInterval(1300), unit: 0.5) == .delete)
        #expect(s.alert == nil && s.rejectionsInARow == 0)
        #expect(s.record(rejected, attempts: 0, now: now.addingTimeInterval(1301), unit: 0.5) == .deadLetter(reason: "HTTP 422"))
        // a reload of the endpoint forgets the count too
        s.transportChanged()
        #expect(s.rejectionsInARow == 0)
    }

    /// A kiosk whose RTC ran a day fast after a power cut pauses (503, Retry-After 120 s); NTP then steps the clock
    /// back a day. The pause must not last a day: no decision pauses longer than `longestDelay`.
    @Test func aWallClockStepBackDoesNotStallUploads() {
        var s = UploadScheduler(policy: policy)
        _ = s.record(.http(status: 503, retryAfter: "120", receipt: false), attempts: 0, now: now, unit: 0.5)
        #expect(!s.mayAttempt(now: now.addingTimeInterval(60)))
        #expect(s.mayAttempt(now: now.addingTimeInterval(121)))
        let steppedBack = now.addingTimeInterval(-86_400)
        #expect(s.mayAttempt(now: steppedBack), "paused for a day by a clock step")
        #expect(s.pause(now: steppedBack) == steppedBack)
        // a pause within the longest delay is honoured as it is
        #expect(policy.longestDelay == .seconds(900))
        #expect(!s.mayAttempt(now: now.addingTimeInterval(-700)))
    }

    @Test func theReceiptIsTheContractsStoredObjectWithTheRecordsID() {
        let id = UUID()
        func receipt(_ s: String) -> Bool { UploadResponse.isReceipt(Array(s.utf8), for: id) }
        #expect(receipt(#"{"id":"\#(id.uuidString.lowercased())","duplicate":false}"#))
        #expect(receipt(#"{"duplicate":true,"id":"\#(id.uuidString)"}"#))
        #expect(!receipt(#"{"id":"\#(UUID().uuidString.lowercased())","duplicate":false}"#), "another record's receipt")
        #expect(!receipt("<html><body>Wi-Fi login</body></html>"))
        #expect(!receipt(""))
        #expect(!receipt(#"{"status":"ok"}"#))
        #expect(!receipt(#"["\#(id.uuidString)"]"#))
        #expect(!receipt(#"{"id":42}"#))
    }

    /// Whatever the server says in its body stays out of the reason (it reaches logs, /healthz and the queue's last error).
    @Test func reasonsNeverCarryTheServersBody() {
        var response = UploadResponse()
        response.headerLine("HTTP/1.1 422 Unprocessable\r\n")
        let echo = #"{"error":"phone 0912345678 of Nguyễn Văn An is invalid"}"#
        echo.utf8.withContiguousStorageIfAvailable { response.bodyChunk(UnsafeRawBufferPointer($0)) }
        for status in [200, 400, 401, 404, 422, 500, 503] {
            let d = policy.decide(response.outcome(status: status, recordID: UUID()), attempt: 0, now: now, unit: 0.5)
            let reason: String
            switch d {
            case .delivered: Issue.record("no receipt, yet delivered"); continue
            case .deadLetter(let r): reason = r
            case .retry(_, _, _, let r): reason = r
            }
            #expect(!reason.contains("0912345678") && !reason.contains("Nguy") && !reason.contains("error"), "\(status): \(reason)")
        }
    }

    @Test(arguments: [400, 413, 422])
    func badDataIsDeadLettered(status: Int) {
        guard case .deadLetter(let reason) = policy.decide(.http(status: status, retryAfter: nil, receipt: false), attempt: 0, now: now, unit: 0.5)
        else { Issue.record("HTTP \(status) must dead-letter"); return }
        #expect(reason.contains("\(status)"))
    }

    @Test(arguments: [401, 403])
    func authFailuresRetrySlowlyWithAlert(status: Int) {
        let d = policy.decide(.http(status: status, retryAfter: nil, receipt: false), attempt: 0, now: now, unit: 0.5)
        guard case .retry(let delay, let pause, let alert, _) = d else { Issue.record("must retry"); return }
        #expect(delay == .seconds(600))
        #expect(alert)
        #expect(!pause)
    }

    @Test(arguments: [408, 429, 500, 502, 503, 504])
    func transientStatusesRetry(status: Int) {
        let d = policy.decide(.http(status: status, retryAfter: nil, receipt: false), attempt: 2, now: now, unit: 0.5)
        guard case .retry(_, let pause, let alert, _) = d else { Issue.record("must retry"); return }
        #expect(!alert)
        #expect(pause == (status == 429 || status == 503))
    }

    @Test func transportFailuresRetryAndConnectFailurePausesAll() {
        for f in [TransportFailure.timeout, .broken, .tls] {
            guard case .retry(_, let pause, let alert, _) = policy.decide(.transport(f, detail: ""), attempt: 0, now: now, unit: 0.5) else {
                Issue.record("\(f) must retry"); continue
            }
            #expect(!pause && !alert)
        }
        guard case .retry(_, let pause, _, _) = policy.decide(.transport(.connect, detail: ""), attempt: 0, now: now, unit: 0.5) else {
            Issue.record("connect must retry"); return
        }
        #expect(pause)
        guard case .retry(let d, _, let alert, _) = policy.decide(.transport(.tlsVerification, detail: ""), attempt: 0, now: now, unit: 0.5) else {
            Issue.record("cert failure must retry"); return
        }
        #expect(alert && d == .seconds(600))
    }

    @Test func fullJitterStaysUnderTheCappedCeiling() {
        #expect(policy.ceiling(attempt: 0) == .seconds(1))
        #expect(policy.ceiling(attempt: 3) == .seconds(8))
        #expect(policy.ceiling(attempt: 20) == .seconds(300))
        #expect(policy.ceiling(attempt: 10_000) == .seconds(300))
        #expect(policy.backoff(attempt: 5, unit: 0) == .zero)
        #expect(policy.backoff(attempt: 5, unit: 0.5) == .seconds(16))
        for _ in 0..<1000 {
            let d = policy.backoff(attempt: Int.random(in: 0...50), unit: Double.random(in: 0..<1))
            #expect(d >= .zero && d <= .seconds(300))
        }
    }

    @Test func retryAfterSecondsAndDateAreHonouredWithinTheClamp() {
        #expect(delay(policy.decide(.http(status: 503, retryAfter: "120", receipt: false), attempt: 0, now: now, unit: 0)) == 120)
        #expect(delay(policy.decide(.http(status: 503, retryAfter: "99999", receipt: false), attempt: 0, now: now, unit: 0)) == 900)
        #expect(delay(policy.decide(.http(status: 429, retryAfter: "0", receipt: false), attempt: 0, now: now, unit: 0)) == 1)
        // HTTP-date 90 s in the future
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let header = f.string(from: now.addingTimeInterval(90))
        #expect(delay(policy.decide(.http(status: 503, retryAfter: header, receipt: false), attempt: 0, now: now, unit: 0)) == 90)
        // a date in the past clamps to the minimum instead of going negative (libcurl 7.88's CURLINFO_RETRY_AFTER bug)
        let past = f.string(from: now.addingTimeInterval(-3600))
        #expect(delay(policy.decide(.http(status: 503, retryAfter: past, receipt: false), attempt: 0, now: now, unit: 0)) == 1)
        // garbage is ignored: backoff applies
        #expect(delay(policy.decide(.http(status: 503, retryAfter: "soon", receipt: false), attempt: 3, now: now, unit: 0.5)) == 4)
    }

    @Test func schedulerPausesEverythingOnConnectFailureAndResetsOnSuccess() {
        var s = UploadScheduler(policy: policy)
        #expect(s.mayAttempt(now: now))
        let a = s.record(.transport(.connect, detail: "refused"), attempts: 7, now: now, unit: 1)
        // the global pause follows the global failure count (first: ≤ 1 s), not the record's 7 attempts
        #expect(s.pausedUntil == now.addingTimeInterval(1))
        #expect(a == .reschedule(notBefore: now.addingTimeInterval(1), attempts: 8, reason: "connect failed: refused"))
        #expect(!s.mayAttempt(now: now.addingTimeInterval(0.5)))
        _ = s.record(.transport(.connect, detail: "refused"), attempts: 0, now: now, unit: 1)
        #expect(s.pausedUntil == now.addingTimeInterval(2))
        #expect(s.record(.http(status: 201, retryAfter: nil, receipt: true), attempts: 0, now: now.addingTimeInterval(3), unit: 1) == .delete)
        #expect(s.consecutivePauses == 0)
    }

    @Test func schedulerBacksOffOneRecordWithoutBlockingOthers() {
        var s = UploadScheduler(policy: policy)
        let a = s.record(.http(status: 500, retryAfter: nil, receipt: false), attempts: 4, now: now, unit: 1)
        #expect(a == .reschedule(notBefore: now.addingTimeInterval(16), attempts: 5, reason: "HTTP 500"))
        #expect(s.mayAttempt(now: now))   // other records go ahead
        #expect(s.nextWake(earliestDue: now.addingTimeInterval(3)) == now.addingTimeInterval(3))
    }

    @Test func schedulerRaisesAndClearsAlerts() {
        var s = UploadScheduler(policy: policy)
        _ = s.record(.http(status: 403, retryAfter: nil, receipt: false), attempts: 0, now: now, unit: 0)
        #expect(s.alert?.contains("403") == true)
        _ = s.record(.http(status: 201, retryAfter: nil, receipt: true), attempts: 0, now: now, unit: 0)
        #expect(s.alert == nil)
    }

    @Test func aNewEndpointDropsThePauseAndAlertEarnedByTheOldOne() {
        var s = UploadScheduler(policy: policy)
        for _ in 0..<5 { _ = s.record(.transport(.connect, detail: "refused"), attempts: 0, now: now, unit: 1) }
        _ = s.record(.transport(.tlsVerification, detail: "unknown CA"), attempts: 0, now: now, unit: 1)
        #expect(!s.mayAttempt(now: now.addingTimeInterval(10)))
        #expect(s.alert != nil)
        s.transportChanged()
        #expect(s.mayAttempt(now: now))
        #expect(s.alert == nil && s.consecutivePauses == 0)
        // and the next connect failure starts the backoff from its first step again
        _ = s.record(.transport(.connect, detail: "refused"), attempts: 0, now: now, unit: 1)
        #expect(s.pausedUntil == now.addingTimeInterval(1))
    }

    /// Found by fuzzing: DateFormatter trapped on this non-ASCII Retry-After from a server; it is now no delay.
    @Test func garbledRetryAfterIsIgnoredNotFatal() {
        let garbled = String(decoding: [0x57, 0x65, 0x64, 0x6E, 0x65, 0x73, 0x64, 0x61, 0x79, 0x2C, 0x20, 0x31, 0x38, 0xDC, 0xB1, 0x6F] as [UInt8], as: UTF8.self)
        #expect(UploadPolicy.parseRetryAfter(garbled, now: now) == nil)
        #expect(UploadPolicy.parseRetryAfter("Wednesday, 18 \u{0}", now: now) == nil)
        #expect(UploadPolicy.parseRetryAfter(String(repeating: "1", count: 100), now: now) == nil)
        #expect(UploadPolicy.parseRetryAfter(" 120 ", now: now) == 120)
        #expect(UploadPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: Date(timeIntervalSince1970: 784_111_717)) == 60)
    }

    @Test func capacityPolicy() {
        let c = QueueCapacity(maxBytes: 1000, freeDiskFloor: 100, nearFullFraction: 0.8)
        #expect(c.evaluate(usedBytes: 100, incomingBytes: 100, freeDiskBytes: 10_000) == .ok)
        #expect(c.evaluate(usedBytes: 750, incomingBytes: 100, freeDiskBytes: 10_000) == .nearFull(bytesToFree: 50))
        #expect(c.evaluate(usedBytes: 950, incomingBytes: 100, freeDiskBytes: 10_000) == .queueFull)
        #expect(c.evaluate(usedBytes: 0, incomingBytes: 50, freeDiskBytes: 120) == .diskFull)
    }

    @Test func recordJSONRoundTripsWithStableKeys() throws {
        let r = QueueRecord(checkpointId: "TN-01", deviceId: "kiosk-7",
                            clock: RecordClock(wallTime: now, clockSynced: false, bootId: "b-1", monotonicNanos: 42),
                            declaration: ["fullName": .string("A"), "birthYear": .number(1990)],
                            screening: ScreeningSummary(result: .elevated, rawTemperatureC: 35.2, correctedTemperatureC: 38.1,
                                                        flags: ["face-too-far"], calibrationId: "cal-3", sensor: "GY-MCU90640"),
                            faceCaptured: true)
        let data = try r.encoded()
        #expect(try QueueRecord.decode(data) == r)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"birthYear\":1990"))
        #expect(text.contains("\"wallTime\":\"2023-11-14T22:13:20.000Z\""))
        #expect(try r.encoded() == data)
    }

    /// Found by fuzzing: ".135Z" came back as ".134Z" after a decode and encode, one millisecond per round trip.
    @Test func recordTimesSurviveRepeatedRoundTrips() throws {
        for stamp in ["2026-11-20T02:30:00.135Z", "2026-11-20T02:30:00.001Z", "2026-11-20T02:30:00.999Z", "2026-11-20T02:30:00.290Z"] {
            let wall = try #require(QueueRecord.parseDate(stamp))
            let r = QueueRecord(checkpointId: "cp-1", deviceId: "k", clock: RecordClock(wallTime: wall, clockSynced: true, bootId: "b", monotonicNanos: 1),
                                declaration: [:], screening: ScreeningSummary(result: .unavailable, flags: []), faceCaptured: false)
            var json = try r.encoded()
            for _ in 0..<5 { json = try QueueRecord.decode(json).encoded() }
            #expect(String(decoding: json, as: UTF8.self).contains("\"wallTime\":\"\(stamp)\""), "\(stamp)")
        }
    }
}

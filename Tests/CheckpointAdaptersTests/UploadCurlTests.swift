#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
import CheckpointCore
import Foundation
import Testing

/// The receiver built next to this test binary, on 127.0.0.1 with a free port; with fault options (`--fail-status` …)
/// it runs as the test stand (`checkpoint-receiver test-stand`), the only mode that injects faults.
final class ReceiverProcess {
    let process = Process()
    let port: Int
    let dir: String

    init(_ extra: [String] = []) throws {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var exe = bin.appendingPathComponent("checkpoint-receiver")
        if !FileManager.default.fileExists(atPath: exe.path) {   // xctest bundle layouts put the runner one level deeper
            exe = bin.deletingLastPathComponent().appendingPathComponent("checkpoint-receiver")
        }
        guard FileManager.default.fileExists(atPath: exe.path) else {
            throw AdapterError(.open, "checkpoint-receiver not built next to the tests (\(bin.path)); run swift build first")
        }
        dir = uplinkTempDir("recv")
        process.executableURL = exe
        process.arguments = (extra.isEmpty ? [] : ["test-stand"]) + ["--port", "0", "--db", dir + "/recv.db"] + extra
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let p = text.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            throw AdapterError(.open, "receiver did not report its port: \(text)")
        }
        port = p
    }

    var url: String { "http://127.0.0.1:\(port)/v1/records" }

    func receivedIDs() throws -> [String] {
        let r = try LocalHTTPClient.request(url: url, socketPath: nil)
        let obj = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
        return obj?["ids"] as? [String] ?? []
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

@Suite("libcurl uploader", .serialized)
struct UploadCurlTests {
    @Test func multipartWithIdempotencyKeyIsStoredOnceAtTheReceiver() async throws {
        let receiver = try ReceiverProcess()
        let uploader = try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true))
        let record = sampleRecord(1)
        let json = try record.encoded()
        let face = Data(repeating: 0xAB, count: 30_000)
        let first = await uploader.upload(id: record.id, json: json, face: face)
        guard case .http(201, _, _) = first else { Issue.record("expected 201, got \(first)"); return }
        // a retry of the same key: the receiver answers 200 and keeps one copy
        let again = await uploader.upload(id: record.id, json: json, face: face)
        // … with the receipt (the record's id), so the uploader may delete its copy
        guard case .http(200, _, true) = again else { Issue.record("expected 200 with a receipt for a duplicate, got \(again)"); return }
        #expect(try receiver.receivedIDs() == [record.id.uuidString.lowercased()])
        // the same key with a different record is refused (422 → dead letter by policy)
        var changed = record
        changed.deviceId = "other"
        let conflict = await uploader.upload(id: record.id, json: try changed.encoded(), face: nil)
        guard case .http(422, _, _) = conflict else { Issue.record("expected 422, got \(conflict)"); return }
        #expect(UploadPolicy().decide(conflict, attempt: 0, now: Date(), unit: 0.5) != .delivered)
    }

    @Test func retryAfterHeaderIsReturned() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "503", "--fail-count", "1", "--retry-after", "7"])
        let uploader = try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true))
        let r = sampleRecord(2)
        let outcome = await uploader.upload(id: r.id, json: try r.encoded(), face: nil)
        #expect(outcome == .http(status: 503, retryAfter: "7", receipt: false))
        guard case .http(201, _, _) = await uploader.upload(id: r.id, json: try r.encoded(), face: nil) else {
            Issue.record("second attempt should be stored"); return
        }
    }

    @Test func reconfigureMovesTheNextUploadToTheNewEndpointAndRejectsABadOne() async throws {
        let first = try ReceiverProcess()
        let second = try ReceiverProcess()
        let uploader = try CurlUploader(configuration: UploadConfiguration(endpoint: first.url, allowInsecureHTTP: true))
        let a = sampleRecord(6), b = sampleRecord(7)
        guard case .http(201, _, _) = await uploader.upload(id: a.id, json: try a.encoded(), face: nil) else {
            Issue.record("first upload failed"); return
        }
        // A reload with an invalid transport changes nothing.
        #expect(throws: AdapterError.self) {
            try uploader.reconfigure(UploadConfiguration(endpoint: second.url, caFile: "/nonexistent/ca.pem", allowInsecureHTTP: true))
        }
        #expect(uploader.configuration.endpoint == first.url)
        try uploader.reconfigure(UploadConfiguration(endpoint: second.url, allowInsecureHTTP: true))
        guard case .http(201, _, _) = await uploader.upload(id: b.id, json: try b.encoded(), face: nil) else {
            Issue.record("upload after reconfigure failed"); return
        }
        #expect(try first.receivedIDs() == [a.id.uuidString.lowercased()])
        #expect(try second.receivedIDs() == [b.id.uuidString.lowercased()])
    }

    @Test func connectionRefusedIsAConnectFailure() async throws {
        // a port that was free a moment ago
        let (fd, port) = loopbackSocket(listening: false)
        close(fd)
        let uploader = try CurlUploader(configuration: UploadConfiguration(endpoint: "http://127.0.0.1:\(port)/v1/records", allowInsecureHTTP: true))
        let r = sampleRecord(3)
        let outcome = await uploader.upload(id: r.id, json: try r.encoded(), face: nil)
        guard case .transport(.connect, _) = outcome else { Issue.record("expected a connect failure, got \(outcome)"); return }
    }

    @Test func shutdownAbortsAStalledTransferThroughTheProgressCallback() async throws {
        // a listening socket that never answers: curl connects, sends, and waits
        let (fd, port) = loopbackSocket(listening: true)
        defer { close(fd) }
        let uploader = try CurlUploader(configuration: UploadConfiguration(
            endpoint: "http://127.0.0.1:\(port)/v1/records", allowInsecureHTTP: true, lowSpeedTime: .seconds(60), totalTimeout: .seconds(60)))
        let r = sampleRecord(4)
        let json = try r.encoded()
        let t0 = ContinuousClock.now
        let task = Task { await uploader.upload(id: r.id, json: json, face: Data(repeating: 1, count: 1000)) }
        try await Task.sleep(for: .milliseconds(500))
        uploader.shutdown()
        let outcome = await task.value
        #expect(ContinuousClock.now - t0 < .seconds(5))
        guard case .transport(.aborted, _) = outcome else { Issue.record("expected an abort, got \(outcome)"); return }
    }

    @Test func lowSpeedLimitEndsAStalledTransfer() async throws {
        let (fd, port) = loopbackSocket(listening: true)
        defer { close(fd) }
        let uploader = try CurlUploader(configuration: UploadConfiguration(
            endpoint: "http://127.0.0.1:\(port)/v1/records", allowInsecureHTTP: true,
            lowSpeedTime: .seconds(1), totalTimeout: .seconds(30)))
        let r = sampleRecord(5)
        let t0 = ContinuousClock.now
        let outcome = await uploader.upload(id: r.id, json: try r.encoded(), face: nil)
        #expect(ContinuousClock.now - t0 < .seconds(10))
        guard case .transport(.timeout, _) = outcome else { Issue.record("expected a timeout, got \(outcome)"); return }
    }

    @Test func plainHTTPNeedsTheExplicitFlagAndMTLSNeedsBothFiles() {
        #expect(throws: AdapterError.self) { try CurlUploader(configuration: UploadConfiguration(endpoint: "http://127.0.0.1:1/v1/records")) }
        #expect(throws: AdapterError.self) { try CurlUploader(configuration: UploadConfiguration(endpoint: "ftp://127.0.0.1/x")) }
        #expect(throws: AdapterError.self) {
            try CurlUploader(configuration: UploadConfiguration(endpoint: "https://127.0.0.1/v1/records", clientCertificate: "/etc/hostname"))
        }
        #expect(throws: AdapterError.self) {
            try CurlUploader(configuration: UploadConfiguration(endpoint: "https://127.0.0.1/v1/records", caFile: "/nonexistent/ca.pem"))
        }
    }

    @Test func serviceDrainsTheBacklogThroughServerErrors() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "500", "--fail-rate", "0.3"])
        let store = try QueueStore(path: uplinkTempDir("svc") + "/q.db")
        var ids: [String] = []
        let t0 = Date()
        for i in 0..<15 {
            let r = sampleRecord(i)
            try store.enqueue(r, face: Data(repeating: UInt8(i), count: 2000), now: t0.addingTimeInterval(Double(i) * 0.001))
            ids.append(r.id.uuidString.lowercased())
        }
        let service = UploadService(store: store, uploader: try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true)),
                                    policy: UploadPolicy(baseDelay: .milliseconds(20), maxDelay: .milliseconds(200)))
        let task = Task { await service.run() }
        let deadline = Date().addingTimeInterval(30)
        while try store.status().pending > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        task.cancel()
        await task.value
        #expect(try store.status().pending == 0)
        #expect(Set(try receiver.receivedIDs()) == Set(ids))
        #expect(service.status.delivered == 15)
        #expect(service.status.failedAttempts > 0)
    }

    /// `checkpointctl queue flush`: the same loop as the daemon's, ending when nothing due is left; records that failed
    /// (500s) are waited for through their backoff and delivered within the deadline.
    @Test func drainDeliversEverythingThroughServerErrorsThenReturns() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "500", "--fail-count", "3"])
        let store = try QueueStore(path: uplinkTempDir("drain") + "/q.db")
        var ids: [String] = []
        for i in 0..<5 {
            let r = sampleRecord(300 + i)
            try store.enqueue(r, face: nil, now: Date().addingTimeInterval(Double(i) * 0.001))
            ids.append(r.id.uuidString.lowercased())
        }
        let service = UploadService(store: store, uploader: try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true)),
                                    policy: UploadPolicy(baseDelay: .milliseconds(20), maxDelay: .milliseconds(100)))
        let delivered = try await service.drain(until: Date().addingTimeInterval(120))
        #expect(delivered == 5)
        #expect(service.status.failedAttempts == 3)
        #expect(try store.status().pending == 0)
        #expect(Set(try receiver.receivedIDs()) == Set(ids))
        // An empty queue: the drain ends at once with nothing delivered (it does not wait for its deadline).
        #expect(try await service.drain(until: Date().addingTimeInterval(3600)) == 0)
    }

    /// A gateway or captive portal answering "200 OK" with its own page for the first requests: before receipts were
    /// required, every record sent then was deleted from the queue and never reached the province.
    @Test func aGatewayPageAnswering200DeletesNothingAndEveryRecordArrivesLater() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "200", "--fail-count", "6"])
        let store = try QueueStore(path: uplinkTempDir("gateway") + "/q.db")
        var ids: [String] = []
        for i in 0..<5 {
            let r = sampleRecord(100 + i)
            try store.enqueue(r, face: Data(repeating: UInt8(i), count: 500), now: Date().addingTimeInterval(Double(i) * 0.001))
            ids.append(r.id.uuidString.lowercased())
        }
        let service = UploadService(store: store, uploader: try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true)),
                                    policy: UploadPolicy(baseDelay: .milliseconds(20), maxDelay: .milliseconds(100)))
        let task = Task { await service.run() }
        var sawAlert = false
        let deadline = Date().addingTimeInterval(60)
        while try store.status().pending > 0, Date() < deadline {
            if service.status.alert?.contains("receipt") == true { sawAlert = true }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        await task.value
        #expect(sawAlert, "a 200 without a receipt must raise the upload alert")
        #expect(try store.status().pending == 0)
        #expect(try store.status().dead == 0)
        #expect(Set(try receiver.receivedIDs()) == Set(ids), "every record reached the real receiver once the gateway stepped aside")
        #expect(service.status.delivered == 5)
        #expect(service.status.alert == nil, "a real receipt clears the alert")
    }

    /// The server rejects every record (422): three go to the dead letter, then uploading pauses with an alert and the
    /// rest stay queued. The dead letters are reported until a person acts, even after deliveries resume.
    @Test func aServerRejectingEverythingPausesUploadsAndDeadLettersAreReported() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "422", "--fail-count", "1000"])
        let store = try QueueStore(path: uplinkTempDir("reject") + "/q.db")
        for i in 0..<10 { try store.enqueue(sampleRecord(200 + i), face: nil, now: Date().addingTimeInterval(Double(i) * 0.001)) }
        let service = UploadService(store: store, uploader: try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true)),
                                    policy: UploadPolicy(baseDelay: .milliseconds(10), slowRetryDelay: .seconds(600)))
        let task = Task { await service.run() }
        let deadline = Date().addingTimeInterval(30)
        while service.status.alert?.contains("in a row") != true, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        await task.value
        #expect(try store.status().dead == 3)
        #expect(try store.status().pending == 7, "the rest of the queue is kept, not dead-lettered")
        #expect(service.status.deadLetters == 3)
        #expect(service.status.attention?.contains("in a row") == true)
        var cleared = service.status
        cleared.alert = nil
        #expect(cleared.attention?.contains("3 record(s) in the dead letter") == true, "dead letters alone still need a person")
    }

    @Test func unauthorisedIsKeptAndRaisesAnAlert() async throws {
        let receiver = try ReceiverProcess(["--fail-status", "401", "--fail-count", "1000"])
        let store = try QueueStore(path: uplinkTempDir("auth") + "/q.db")
        let r = sampleRecord(9)
        try store.enqueue(r, face: nil)
        let service = UploadService(store: store, uploader: try CurlUploader(configuration: UploadConfiguration(endpoint: receiver.url, allowInsecureHTTP: true)),
                                    policy: UploadPolicy(slowRetryDelay: .seconds(600)))
        let task = Task { await service.run() }
        let deadline = Date().addingTimeInterval(60)  // generous: returns as soon as the alert is raised
        while service.status.alert == nil, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        task.cancel()
        await task.value
        #expect(service.status.alert?.contains("401") == true)
        let kept = try #require(try store.find(id: r.id))
        #expect(kept.attempts == 1)
        #expect(kept.notBefore.timeIntervalSinceNow > 500)   // slow retry, not hammering
        #expect(try store.status().dead == 0)
    }
}

/// A TCP socket bound to an ephemeral port on 127.0.0.1 (listening, but never accepting, when asked).
private func loopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    if listening { listen(fd, 4) }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

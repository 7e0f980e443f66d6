#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
@testable import CheckpointReceiver
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Receiver: declaration records (POST /v1/records)")
struct RecordContractTests {
    func service(faces: String? = nil, maxBody: Int = 16 << 20, faults: FaultInjection? = nil) throws -> (ReceiverService, String) {
        let dir = receiverTempDir("records")
        let storage = try SQLiteReceiverStorage(path: dir + "/r.db")
        return (ReceiverService(storage: storage, options: ReceiverOptions(facesDirectory: faces, maxBodyBytes: maxBody, faults: faults)), dir)
    }

    @Test func aRecordIsStoredOnceAndARetryGetsTheOriginalReceipt() async throws {
        let facesDir = receiverTempDir("faces")
        let (svc, _) = try service(faces: facesDir)
        let record = sampleRecord(1)
        let key = record.id.uuidString.lowercased()
        let json = try record.encoded()
        try await testApplication(svc).test(.router) { client in
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key),
                                     body: multipart(json: json, face: Data([0xFF, 0xD8, 9]))) { r in
                #expect(r.status == .created)
                #expect(jsonObject(r)["id"] as? String == key)
                #expect(jsonObject(r)["duplicate"] as? Bool == false)
            }
            // The kiosk retries (its 201 was lost): 200, the same receipt, nothing stored twice.
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key.uppercased()),
                                     body: multipart(json: json)) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(r)["id"] as? String == key)
                #expect(jsonObject(r)["duplicate"] as? Bool == true)
            }
            try await client.execute(uri: "/v1/records", method: .get) { r in
                #expect(jsonObject(r)["count"] as? Int == 1)
                #expect(jsonObject(r)["ids"] as? [String] == [key])
            }
        }
        // The face is kept privately under the key.
        var st = stat()
        #expect(stat(facesDir + "/\(key).jpg", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(FileManager.default.contents(atPath: facesDir + "/\(key).jpg") == Data([0xFF, 0xD8, 9]))
    }

    @Test func aKeyReusedWithADifferentRecordIsRefused() async throws {
        let (svc, _) = try service()
        let record = sampleRecord(2)
        var changed = record
        changed.checkpointId = "TN-99"
        let key = record.id.uuidString.lowercased()
        let first = try record.encoded(), second = try changed.encoded()
        try await testApplication(svc).test(.router) { client in
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: multipart(json: first)) { r in
                #expect(r.status == .created)
            }
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: multipart(json: second)) { r in
                #expect(r.status == .unprocessableContent)
                #expect((jsonObject(r)["error"] as? String)?.contains("reused") == true)
            }
        }
    }

    @Test func badRequestsGetTheContractsPermanentStatuses() async throws {
        let facesDir = receiverTempDir("refused-faces")
        let (svc, _) = try service(faces: facesDir, maxBody: 4096)
        let record = sampleRecord(3)
        let key = record.id.uuidString.lowercased()
        let json = try record.encoded()
        try await testApplication(svc).test(.router) { client in
            // No key, or not a UUID: 400.
            var noKey = uploadHeaders(key: key)
            noKey[HTTPFields.Element.Name("Idempotency-Key")!] = nil
            try await client.execute(uri: "/v1/records", method: .post, headers: noKey, body: multipart(json: json)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: "not-a-uuid"), body: multipart(json: json)) {
                #expect($0.status == .badRequest)
            }
            // Not multipart, or a broken body: 400.
            try await client.execute(uri: "/v1/records", method: .post, headers: [.contentType: "application/json", HTTPFields.Element.Name("Idempotency-Key")!: key],
                                     body: ByteBuffer(bytes: json)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: ByteBuffer(string: "--nope")) {
                #expect($0.status == .badRequest)
            }
            // A record that is not the contract's, or a key that is not its id: 422.
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: multipart(json: Data(#"{"id":1}"#.utf8))) {
                #expect($0.status == .unprocessableContent)
            }
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: UUID().uuidString.lowercased()),
                                     body: multipart(json: json, face: Data([0xFF, 0xD8, 1]))) {
                #expect($0.status == .unprocessableContent)
            }
            // A body cut short after its face part: 400.
            let cut = multipart(json: json, face: Data(repeating: 5, count: 1000)).getSlice(at: 0, length: json.count + 900)!
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: cut) { #expect($0.status == .badRequest) }
            // Larger than the cap: 413.
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key),
                                     body: multipart(json: json, face: Data(repeating: 7, count: 8192))) { #expect($0.status == .contentTooLarge) }
            try await client.execute(uri: "/v1/records", method: .get) { #expect(jsonObject($0)["count"] as? Int == 0) }
        }
        // Nothing of the refused uploads' faces is left, not even a temporary file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: facesDir) == [])
    }

    @Test func theTestStandFailsTheFirstRequestsWithRetryAfterThenStores() async throws {
        let (svc, _) = try service(faults: FaultInjection(statuses: [503], count: 2, rate: nil, retryAfter: "7"))
        let record = sampleRecord(4)
        let key = record.id.uuidString.lowercased()
        try await testApplication(svc).test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: multipart(json: try record.encoded())) { r in
                    #expect(r.status == .serviceUnavailable)
                    #expect(r.headers[.retryAfter] == "7")
                }
            }
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: key), body: multipart(json: try record.encoded())) {
                #expect($0.status == .created)
            }
        }
    }

    @Test func aGatewayFaultAnswers200WithAPageAndNoReceipt() async throws {
        let (svc, _) = try service(faults: FaultInjection(statuses: [200], count: 1, rate: nil, retryAfter: nil))
        let record = sampleRecord(5)
        try await testApplication(svc).test(.router) { client in
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: record.id.uuidString.lowercased()),
                                     body: multipart(json: try record.encoded())) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(jsonObject(r)["id"] == nil)
            }
            try await client.execute(uri: "/v1/records", method: .get) { #expect(jsonObject($0)["count"] as? Int == 0) }
        }
    }

    @Test func faultRatesAndCounts() {
        let firstTwo = FaultInjection(statuses: [500], count: 2, rate: nil, retryAfter: nil)
        #expect([firstTwo.next(), firstTwo.next(), firstTwo.next()] == [500, 500, nil])
        // With a rate: each of the first `count` fails with that probability, later ones never.
        let rated = FaultInjection(statuses: [500], count: 2, rate: 0.5, retryAfter: nil)
        #expect(rated.next(unit: 0.4) == 500)
        #expect(rated.next(unit: 0.6) == nil)
        #expect(rated.next(unit: 0.0) == nil)
        let none = FaultInjection(statuses: [], count: 5, rate: nil, retryAfter: nil)
        #expect(none.next() == nil)
        #expect(FaultInjection.statuses("503, 200") == [503, 200])
        #expect(FaultInjection.statuses("503,abc") == nil)
        #expect(FaultInjection.statuses("99") == nil)
    }
}

@Suite("Receiver: SQLite storage, TLS and listening rules")
struct ReceiverStorageTests {
    @Test func theDatabaseIsPrivateAndSurvivesAReopen() async throws {
        let dir = receiverTempDir("sqlite")
        let path = dir + "/r.db"
        do {
            let s = try SQLiteReceiverStorage(path: path)
            let r = sampleRecord(1)
            let incoming = IncomingRecord(id: r.id.uuidString.lowercased(), deviceId: r.deviceId, checkpointId: r.checkpointId, json: try r.encoded())
            #expect(try await s.insertRecord(incoming) == .stored)
            #expect(try await s.insertRecord(incoming) == .duplicate)
            var changed = incoming
            changed.json = Data("{}".utf8)
            #expect(try await s.insertRecord(changed) == .conflict)
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            var st = stat()
            stat(path + suffix, &st)
            #expect(st.st_mode & 0o777 == 0o600, "\(suffix) mode")
        }
        let reopened = try SQLiteReceiverStorage(path: path)
        #expect(try await reopened.recordIDs().count == 1)
        let dups = try await reopened.pool.read { db in try Int.fetchOne(db, sql: "SELECT duplicates FROM received") }
        #expect(dups == 1)
    }

    @Test func anUnwritableDatabaseIsAStorageError() {
        #expect(throws: ReceiverError.self) { try SQLiteReceiverStorage(path: "/proc/no/such/dir/r.db") }
    }

    @Test func plainHTTPOnlyOnLoopback() throws {
        #expect(ReceiverServer.isLoopback("127.0.0.1"))
        #expect(ReceiverServer.isLoopback("::1"))
        #expect(!ReceiverServer.isLoopback("0.0.0.0"))
        #expect(!ReceiverServer.isLoopback("10.0.0.5"))
        let router = Router(context: ReceiverContext.self)
        #expect(throws: ReceiverError.self) {
            _ = try ReceiverServer.application(router: router, host: "0.0.0.0", port: 0, tls: nil, logger: .init(label: "t"))
        }
    }

    @Test func missingTLSFilesAreReportedByName() {
        let tls = ReceiverTLS(certificateChain: "/nonexistent/server.pem", privateKey: "/nonexistent/server.key")
        do {
            _ = try tls.configuration()
            Issue.record("expected an error")
        } catch let e as ReceiverError {
            #expect(e.code == .tls)
            #expect(e.message.contains("/nonexistent/server.pem"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func multipartPartsAndBoundaries() throws {
        #expect(Multipart.boundary("multipart/form-data; boundary=\"abc\"") == "abc")
        #expect(Multipart.boundary("multipart/form-data; charset=utf-8; boundary=x1") == "x1")
        #expect(Multipart.boundary("application/json") == nil)
        #expect(Multipart.boundary("multipart/form-data; boundary=") == nil)
        // Whatever the chunking (a delimiter or header split anywhere), the same parts come out.
        let body = Array(Data(buffer: multipart(json: Data(#"{"a":1}"#.utf8), face: Data([1, 2, 13, 10, 45, 45, 3]))))
        for chunk in [1, 2, 3, 7, 16, 25, body.count] {
            let parts = try streamParts(body, chunk: chunk)
            #expect(parts.map(\.0.name) == ["record", "face"], "chunk \(chunk)")
            #expect(parts[0].1 == Array(#"{"a":1}"#.utf8))
            #expect(parts[1].0.filename == "face.jpg")
            #expect(parts[1].0.contentType == "image/jpeg")
            #expect(parts[1].1 == [1, 2, 13, 10, 45, 45, 3], "a CRLF-- inside a body is not a delimiter (chunk \(chunk))")
        }
        #expect(throws: Multipart.Malformed.self) { try streamParts(Array("--\(boundary)\r\nno end".utf8), chunk: 4) }
        #expect(throws: Multipart.Malformed.self) { try streamParts(Array("no boundary at all".utf8), chunk: 4) }
        #expect(throws: Multipart.Malformed.self) { try streamParts(body.dropLast(4).map { $0 }, chunk: 5) }
    }

    /// The parts of `body` streamed through the parser `chunk` bytes at a time.
    func streamParts(_ body: [UInt8], chunk: Int) throws -> [(Multipart.PartHeaders, [UInt8])] {
        var parser = Multipart.Parser(boundary: boundary)
        var parts: [(Multipart.PartHeaders, [UInt8])] = []
        var offset = 0
        while offset < body.count {
            for event in try parser.feed(body[offset..<min(offset + chunk, body.count)]) {
                switch event {
                case .partStart(let h): parts.append((h, []))
                case .body(let b): parts[parts.count - 1].1 += b
                case .partEnd: break
                }
            }
            offset += chunk
        }
        try parser.finish()
        return parts
    }
}

@Suite("Receiver: retention")
struct RetentionTests {
    @Test func oldRecordsAndFacesAreDeletedAndTheirBytesAreGoneFromTheFile() async throws {
        let clock = TestClock()
        let dir = receiverTempDir("retention")
        let faces = receiverTempDir("retention-faces")
        let storage = try SQLiteReceiverStorage(path: dir + "/r.db")
        let svc = ReceiverService(storage: storage, options: ReceiverOptions(facesDirectory: faces, clock: clock.read))
        let old = sampleRecord(1), recent = sampleRecord(2)
        let marker = "NGUYEN-THI-RETENTION-MARKER"
        let oldJSON = Data(String(decoding: try old.encoded(), as: UTF8.self).replacingOccurrences(of: "TRAN VAN 1", with: marker).utf8)
        try await testApplication(svc).test(.router) { client in
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: old.id.uuidString.lowercased()),
                                     body: multipart(json: oldJSON, face: Data([0xFF, 0xD8, 1]))) { #expect($0.status == .created) }
            clock.advance(40 * 86400)
            try await client.execute(uri: "/v1/records", method: .post, headers: uploadHeaders(key: recent.id.uuidString.lowercased()),
                                     body: multipart(json: try recent.encoded(), face: Data([0xFF, 0xD8, 2]))) { #expect($0.status == .created) }
        }
        let purged = try await svc.purge(recordDays: 30, faceDays: nil)
        #expect(purged.records == 1)
        #expect(purged.faces == 1)
        #expect(try await storage.recordIDs() == [recent.id.uuidString.lowercased()])
        #expect(!FileManager.default.fileExists(atPath: faces + "/\(old.id.uuidString.lowercased()).jpg"))
        #expect(FileManager.default.fileExists(atPath: faces + "/\(recent.id.uuidString.lowercased()).jpg"))
        // Really deleted: the name is in neither the database file nor its WAL.
        for suffix in ["", "-wal"] {
            let bytes = FileManager.default.contents(atPath: dir + "/r.db" + suffix) ?? Data()
            #expect(bytes.range(of: Data(marker.utf8)) == nil, "found in r.db\(suffix)")
        }
    }
}

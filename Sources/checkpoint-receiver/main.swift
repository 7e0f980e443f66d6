#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import CheckpointCore
import Foundation
import GRDB
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Synchronization

/// Reference receiver for the checkpointd upload contract (see openapi.yaml beside this file).
///
/// Stores each record once in SQLite, deduplicated by Idempotency-Key; a retry of a stored key gets the
/// original answer back (200 with the same body), a reused key with a different record gets 422.
/// Fault-injection flags make it misbehave on purpose for the integration tests.
@main
struct Receiver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint-receiver",
        abstract: "Reference HTTPS receiver of checkpointd uploads (stores to SQLite, deduplicates by Idempotency-Key).",
        version: CheckpointVersion.string)

    @Option(help: "Address to listen on (loopback by default).") var host = "127.0.0.1"
    @Option(help: "TCP port (0 = pick one; the chosen port is printed as 'listening on PORT').") var port = 8443
    @Option(help: "SQLite database for received records.") var db: String
    @Option(help: "Directory for received face images (default: none kept).") var faces: String?
    @Option(help: "Server certificate chain (PEM). Without it the receiver speaks plain HTTP (local use only).") var tlsCert: String?
    @Option(help: "Server private key (PEM).") var tlsKey: String?
    @Option(help: "Require client certificates signed by this CA (PEM): mutual TLS.") var clientCA: String?

    @Option(help: "Fault injection: answer this HTTP status instead of storing (e.g. 503, 500, 422, 401; a 2xx answers an HTML page without a receipt, as a captive portal or gateway would). Several, comma-separated, are picked at random per failure.") var failStatus: String?
    @Option(help: "Fault injection: how many requests fail (from the first); with --fail-rate, 0 = no limit.") var failCount = 0
    @Option(help: "Fault injection: fail each request with this probability (0…1) instead of the first N.") var failRate: Double?
    @Option(help: "Fault injection: Retry-After value sent with the failure (seconds or an HTTP date).") var retryAfter: String?
    @Option(help: "Fault injection: wait this many milliseconds before answering each request.") var delayMs = 0

    static func statuses(_ text: String) -> [Int]? {
        let list = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil && (100...599).contains($0!) }) else { return nil }
        return list.map { $0! }
    }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if clientCA != nil && tlsCert == nil { throw ValidationError("--client-ca needs --tls-cert and --tls-key") }
        if let r = failRate, !(0...1).contains(r) { throw ValidationError("--fail-rate must be between 0 and 1") }
        if let f = failStatus, Self.statuses(f) == nil { throw ValidationError("--fail-status must be HTTP statuses (100…599), comma-separated") }
    }

    func run() async throws {
        var logger = Logger(label: "checkpoint-receiver")
        logger.logLevel = .info
        let store = try ReceiverStore(path: db)
        if let faces { try FileManager.default.createDirectory(atPath: faces, withIntermediateDirectories: true) }
        let faults = Faults(statuses: failStatus.flatMap(Self.statuses) ?? [], count: failCount, rate: failRate, retryAfter: retryAfter)
        let delay = delayMs
        let facesDir = faces

        let router = Router()
        router.post("/v1/records") { request, _ -> Response in
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            if let status = faults.next() {
                if (200..<300).contains(status) {
                    // A captive portal or maintenance page answering for the server: success status, no receipt.
                    return Response(status: .init(code: status), headers: [.contentType: "text/html; charset=utf-8"],
                                    body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>Service maintenance</h1></body></html>\n")))
                }
                var headers: HTTPFields = [.contentType: "application/json"]
                if let ra = faults.retryAfter { headers[.retryAfter] = ra }
                return Response(status: .init(code: status), headers: headers,
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"injected fault \#(status)"}"#)))
            }
            return try await Self.receive(request, store: store, facesDir: facesDir)
        }
        router.get("/v1/records") { _, _ -> Response in
            let ids = try store.ids()
            let data = try JSONEncoder().encode(Listing(count: ids.count, ids: ids))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/healthz") { _, _ in "ok\n" }

        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "checkpoint-receiver")
        let announce: @Sendable (any Channel) async -> Void = { channel in
            print("listening on \(channel.localAddress?.port ?? 0)")
            fflush(stdout)
        }
        let app: Application<RouterResponder<BasicRequestContext>>
        if let tlsCert, let tlsKey {
            let chain = try NIOSSLCertificate.fromPEMFile(tlsCert)
            let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            if let clientCA {
                tls.certificateVerification = .noHostnameVerification
                tls.trustRoots = .file(clientCA)
            }
            app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls), configuration: configuration,
                              onServerRunning: announce, logger: logger)
        } else {
            app = Application(router: router, server: .http1(), configuration: configuration, onServerRunning: announce, logger: logger)
        }
        try await app.runService()
    }

    struct Stored: Encodable {
        let id: String
        let duplicate: Bool
    }

    static func receive(_ request: Request, store: ReceiverStore, facesDir: String?) async throws -> Response {
        func fail(_ status: HTTPResponse.Status, _ message: String) -> Response {
            let data = (try? JSONEncoder().encode(["error": message])) ?? Data()
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        guard var key = request.headers.first(where: { $0.name.canonicalName == "idempotency-key" })?.value, !key.isEmpty else {
            return fail(.badRequest, "missing Idempotency-Key header")
        }
        key = key.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased()
        guard UUID(uuidString: key) != nil else { return fail(.badRequest, "Idempotency-Key is not a UUID") }
        guard let contentType = request.headers[.contentType], let boundary = Multipart.boundary(contentType) else {
            return fail(.badRequest, "expected multipart/form-data with a boundary")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 16 * 1024 * 1024) } catch {
            return fail(.contentTooLarge, "upload larger than 16 MiB")
        }
        let parts: [Multipart.Part]
        do { parts = try Multipart.parse(Data(buffer: body), boundary: boundary) } catch {
            return fail(.badRequest, "malformed multipart body: \(error)")
        }
        guard let recordPart = parts.first(where: { $0.name == "record" }) else { return fail(.badRequest, "no 'record' part") }
        let record: QueueRecord
        do { record = try QueueRecord.decode(recordPart.body) } catch {
            return fail(.unprocessableContent, "record JSON does not match the contract: \(error)")
        }
        guard record.id.uuidString.lowercased() == key else {
            return fail(.unprocessableContent, "Idempotency-Key does not match the record id")
        }
        let face = parts.first(where: { $0.name == "face" })?.body
        switch try store.insert(id: key, json: recordPart.body, face: face) {
        case .stored:
            if let facesDir, let face {
                let path = "\(facesDir)/\(key).jpg"
                _ = FileManager.default.createFile(atPath: path, contents: face, attributes: [.posixPermissions: 0o600])
            }
            return try jsonResponse(.created, Stored(id: key, duplicate: false))
        case .duplicate:
            return try jsonResponse(.ok, Stored(id: key, duplicate: true))
        case .conflict:
            return fail(.unprocessableContent, "Idempotency-Key reused with a different record")
        }
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}

struct Listing: Encodable {
    let count: Int
    let ids: [String]
}


/// Injected failures, shared across requests.
final class Faults: Sendable {
    let statuses: [Int]
    let count: Int
    let rate: Double?
    let retryAfter: String?
    private let served = Mutex(0)

    init(statuses: [Int], count: Int, rate: Double?, retryAfter: String?) {
        self.statuses = statuses
        self.count = count
        self.rate = rate
        self.retryAfter = retryAfter
    }

    /// The status to fail this request with, or nil to serve it normally.
    func next() -> Int? {
        guard let status = statuses.randomElement() else { return nil }
        let n = served.withLock { n in
            n += 1
            return n
        }
        if let rate {
            if count > 0 && n > count { return nil }
            return Double.random(in: 0..<1) < rate ? status : nil
        }
        return n <= count ? status : nil
    }
}

/// Received records in SQLite (WAL, synchronous=FULL), one row per Idempotency-Key.
final class ReceiverStore: Sendable {
    enum Result { case stored, duplicate, conflict }
    let pool: DatabasePool

    init(path: String) throws {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)   // private before SQLite creates -wal/-shm from its mode
        if fd >= 0 { fchmod(fd, 0o600); close(fd) }
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        pool = try DatabasePool(path: path, configuration: config)
        // GRDB sets the writer to synchronous=NORMAL when it enables WAL; a 201 must survive a power cut: FULL.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS received (
                    id TEXT PRIMARY KEY, json BLOB NOT NULL, face_bytes INTEGER NOT NULL,
                    received_at REAL NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0)
                """)
        }
        chmod(path, 0o600)
    }

    func insert(id: String, json: Data, face: Data?) throws -> Result {
        try pool.write { db in
            if let existing = try Data.fetchOne(db, sql: "SELECT json FROM received WHERE id = ?", arguments: [id]) {
                guard existing == json else { return .conflict }
                try db.execute(sql: "UPDATE received SET duplicates = duplicates + 1 WHERE id = ?", arguments: [id])
                return .duplicate
            }
            try db.execute(sql: "INSERT INTO received (id, json, face_bytes, received_at) VALUES (?, ?, ?, ?)",
                           arguments: [id, json, face?.count ?? 0, Date().timeIntervalSince1970])
            return .stored
        }
    }

    func ids() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM received ORDER BY received_at") }
    }
}

/// multipart/form-data (RFC 7578) splitting, enough for the upload contract.
enum Multipart {
    struct Part {
        var name: String?
        var filename: String?
        var contentType: String?
        var body: Data
    }

    struct Malformed: Error, CustomStringConvertible { let description: String }

    static func boundary(_ contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for param in contentType.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, kv[0].lowercased() == "boundary" { return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    static func parse(_ data: Data, boundary: String) throws -> [Part] {
        let delimiter = Data("--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8)
        var parts: [Part] = []
        guard var cursor = data.range(of: delimiter)?.upperBound else { throw Malformed(description: "no opening boundary") }
        while true {
            if data[cursor...].starts(with: Data("--".utf8)) { break }   // closing delimiter
            guard data[cursor...].starts(with: crlf) else { throw Malformed(description: "boundary not followed by CRLF") }
            cursor += 2
            guard let headerEnd = data.range(of: Data("\r\n\r\n".utf8), in: cursor..<data.endIndex) else {
                throw Malformed(description: "part headers not terminated")
            }
            let headerText = String(decoding: data[cursor..<headerEnd.lowerBound], as: UTF8.self)
            guard let next = data.range(of: crlf + delimiter, in: headerEnd.upperBound..<data.endIndex) else {
                throw Malformed(description: "part not terminated by a boundary")
            }
            var part = Part(body: Data(data[headerEnd.upperBound..<next.lowerBound]))
            for line in headerText.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-type" { part.contentType = value }
                if name == "content-disposition" {
                    for param in value.split(separator: ";").dropFirst() {
                        let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        guard kv.count == 2 else { continue }
                        let v = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                        if kv[0] == "name" { part.name = v }
                        if kv[0] == "filename" { part.filename = v }
                    }
                }
            }
            parts.append(part)
            cursor = next.upperBound
        }
        return parts
    }
}

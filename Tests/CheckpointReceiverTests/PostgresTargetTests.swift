@testable import CheckpointReceiver
import Foundation
import Testing

@Suite("Receiver: the --postgres URL and its TLS modes")
struct PostgresTargetTests {
    func refusal(_ url: String) -> String? {
        do { _ = try PostgresReceiverStorage.Target(url: url, environment: [:]); return nil } catch { return "\(error)" }
    }

    @Test func plainConnectionsOnlyOnLoopback() throws {
        let local = try PostgresReceiverStorage.Target(url: "postgres://r@127.0.0.1:5433/db", environment: ["PGPASSWORD": "pw"])
        #expect(local.tls == nil && local.port == 5433 && local.database == "db" && local.password == "pw")
        #expect(refusal("postgres://r@db.example.vn/db")?.contains("sslmode=verify-full&sslrootcert=") == true)
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=disable") != nil)
    }

    @Test func verifyModesNeedTheirCAAndAName() throws {
        let dir = receiverTempDir("pg-ca")
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=verify-full")?.contains("needs sslrootcert") == true)
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=verify-full&sslrootcert=\(dir)/missing.pem")?.contains("missing.pem") == true)
        FileManager.default.createFile(atPath: dir + "/empty.pem", contents: Data())
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=verify-ca&sslrootcert=\(dir)/empty.pem") != nil)
        #expect(refusal("postgres://r@10.0.0.5/db?sslmode=verify-full&sslrootcert=\(dir)/empty.pem")?.contains("host name") == true)
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=prefer")?.contains("sslmode must be") == true)
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=require&sslrootcert=x.pem")?.contains("verify-ca or verify-full") == true)
        #expect(refusal("postgres://r@db.example.vn/db?sslmode=require&connect_timeout=5")?.contains("connect_timeout") == true)
        let system = try PostgresReceiverStorage.Target(url: "postgres://r@db.example.vn/db?sslmode=require", environment: [:])
        #expect(system.tls?.certificateVerification == .fullVerification && system.trust == "the system's CAs")
    }
}

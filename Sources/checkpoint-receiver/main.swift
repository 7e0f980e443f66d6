#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import CheckpointCore
import CheckpointReceiver
import Foundation
import Hummingbird
import Logging

/// The province's receiver of checkpointd uploads (contract: openapi.yaml beside this file). Wiring only: the
/// receiver itself is the CheckpointReceiver library.
@main
struct Receiver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint-receiver",
        abstract: "HTTPS receiver of checkpointd uploads (stores each record once, deduplicated by Idempotency-Key).",
        version: CheckpointVersion.string,
        subcommands: [Serve.self, TestStand.self],
        defaultSubcommand: Serve.self)
}

/// Options of every mode.
struct ServeOptions: ParsableArguments {
    @Option(help: "Address to listen on (loopback by default; any other address needs --tls-cert and --tls-key).") var host = "127.0.0.1"
    @Option(help: "TCP port (0 = pick one; the chosen port is printed as 'listening on PORT').") var port = 8443
    @Option(help: "SQLite database for received records (the embedded default: one receiver).") var db: String?
    @Option(help: "PostgreSQL instead of SQLite: postgres://user[:password]@host[:port]/database[?sslmode=MODE[&sslrootcert=CA.pem]] (password also from PGPASSWORD). sslmode: disable (loopback only), require (TLS verified against the system's CAs), verify-ca (against sslrootcert), verify-full (against sslrootcert and the host name; what a province uses). The receiver does not start when the server's certificate does not verify. Several receivers may share one database.") var postgres: String?
    @Option(help: "Directory for received face images (default: none kept).") var faces: String?
    @Option(help: "Directory for monitoring stills (the latest per kiosk, asked for from the fleet page or POST /v1/fleet/DEVICE/still-requests; deleted with --face-retention-days, else --retention-days). Default: operators cannot ask for stills.") var stills: String?
    @Option(help: "Server certificate chain (PEM). Without it the receiver speaks plain HTTP, on loopback only.") var tlsCert: String?
    @Option(help: "Server private key (PEM).") var tlsKey: String?
    @Option(help: "Require client certificates signed by this CA (PEM): mutual TLS; each certificate's subject CN must be the deviceId it uploads for (403 otherwise).") var clientCA: String?
    @Option(help: "Revoked client certificates: one serial number (hex) per line; read again when it changes. Needs --client-ca.") var revoked: String?
    @Option(help: "Largest upload accepted, in bytes (413 beyond it).") var maxBodyBytes = 16 * 1024 * 1024
    @Option(help: "Delete records (and their faces) received more than this many days ago, hourly; at least 30 (the contract keeps Idempotency-Keys 30 days). Default: keep.") var retentionDays: Int?
    @Option(help: "Delete face images older than this many days, hourly. Default: as long as their record.") var faceRetentionDays: Int?
    @Option(help: "Serve the fleet page, /v1/fleet and /metrics on this port instead of the kiosks' port (0 = pick one, printed as 'admin listening on PORT'): the province's staff and Prometheus need no kiosk certificate there.") var adminPort: Int?
    @Option(help: "Address of the admin listener (loopback by default; any other needs --tls-cert, used without client certificates).") var adminHost = "127.0.0.1"
    @Option(help: "Close a connection idle for this many seconds.") var idleTimeout = 60
    @Option(help: "Most requests (records and heartbeats) one device may make per minute (429 with Retry-After beyond; 0 = no limit). Default: 600; the test stand: 0.") var perDevicePerMinute: Int?
    @Option(help: "Fleet view: a kiosk with no heartbeat for this many seconds is silent (a few of its [heartbeat] interval_s).") var silentAfter = 900
    @Option(help: "Fleet view: a calibration older than this many days needs attention.") var calibrationMaxAgeDays = 180

    func validate() throws {
        if (db == nil) == (postgres == nil) { throw ValidationError("give exactly one of --db (SQLite) and --postgres") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if clientCA != nil && tlsCert == nil { throw ValidationError("--client-ca needs --tls-cert and --tls-key") }
        if revoked != nil && clientCA == nil { throw ValidationError("--revoked needs --client-ca") }
        if tlsCert == nil && !ReceiverServer.isLoopback(host) {
            throw ValidationError("plain HTTP is only served on loopback: give --tls-cert and --tls-key to listen on \(host)")
        }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if let d = retentionDays, d < 30 { throw ValidationError("--retention-days must be at least 30 (Idempotency-Keys are kept 30 days)") }
        if let d = faceRetentionDays, d < 1 { throw ValidationError("--face-retention-days must be at least 1") }
        if faceRetentionDays != nil && faces == nil && stills == nil { throw ValidationError("--face-retention-days needs --faces or --stills") }
        if adminPort != nil && tlsCert == nil && !ReceiverServer.isLoopback(adminHost) {
            throw ValidationError("plain HTTP is only served on loopback: the admin listener on \(adminHost) needs --tls-cert and --tls-key")
        }
        if idleTimeout < 1 { throw ValidationError("--idle-timeout must be at least 1 second") }
        if let p = perDevicePerMinute, p < 0 { throw ValidationError("--per-device-per-minute must not be negative") }
        if silentAfter < 1 { throw ValidationError("--silent-after must be at least 1 second") }
        if calibrationMaxAgeDays < 1 { throw ValidationError("--calibration-max-age-days must be at least 1") }
    }

    func run(faults: FaultInjection?) async throws {
        var logger = Logger(label: "checkpoint-receiver")
        logger.logLevel = .info
        if let faces { try FileManager.default.createDirectory(atPath: faces, withIntermediateDirectories: true) }
        if let db {
            try await serve(storage: try SQLiteReceiverStorage(path: db), faults: faults, logger: logger)
            return
        }
        // PostgreSQL: the connection pool runs beside the server; the tables are made (or found) before listening.
        // Checked once before anything runs: a server whose certificate does not verify stops the start, in one line.
        let target = try PostgresReceiverStorage.Target(url: postgres!)
        try await target.check(logger: logger)
        let client = PostgresReceiverStorage.client(target, logger: logger)
        let storage = PostgresReceiverStorage(client: client, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await storage.migrate()
            try await serve(storage: storage, faults: faults, logger: logger)
            group.cancelAll()
        }
    }

    func serve(storage: any ReceiverStorage, faults: FaultInjection?, logger: Logger) async throws {
        let service = ReceiverService(storage: storage, options: ReceiverOptions(
            facesDirectory: faces, maxBodyBytes: maxBodyBytes, faults: faults,
            fleet: FleetView.Thresholds(silentAfterSeconds: Double(silentAfter), calibrationMaxAgeDays: Double(calibrationMaxAgeDays)),
            devices: DevicePolicy(requireClientCertificate: clientCA != nil, revoked: try revoked.map(RevocationList.init(path:))),
            perDevicePerMinute: perDevicePerMinute ?? (faults == nil ? 600 : 0), stills: try stills.map(MonitoringStills.init(directory:))),
                                      logger: logger)
        let tls = tlsCert.map { ReceiverTLS(certificateChain: $0, privateKey: tlsKey!, clientCA: clientCA) }
        let app = try ReceiverServer.application(router: service.router(fleetView: adminPort == nil), host: host, port: port, tls: tls,
                                                 idleTimeout: .seconds(idleTimeout), logger: logger) { port in
            print("listening on \(port)")
            fflush(stdout)
        }
        // Retention: at start, then hourly, while the server runs.
        let retention = (retentionDays != nil || faceRetentionDays != nil) ? Task { [retentionDays, faceRetentionDays] in
            while !Task.isCancelled {
                do { try await service.purge(recordDays: retentionDays, faceDays: faceRetentionDays) } catch {
                    logger.error("retention purge failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        } : nil
        defer { retention?.cancel() }
        guard let adminPort else {
            try await app.runService()
            return
        }
        // The admin listener: same server certificate, no client certificates.
        let adminTLS = tlsCert.map { ReceiverTLS(certificateChain: $0, privateKey: tlsKey!) }
        let admin = try ReceiverServer.application(router: service.adminRouter(), host: adminHost, port: adminPort, tls: adminTLS,
                                                   idleTimeout: .seconds(idleTimeout), logger: logger) { port in
            print("admin listening on \(port)")
            fflush(stdout)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            group.addTask { try await admin.runService() }
            try await group.next()   // one stopped (SIGTERM stops both)
            group.cancelAll()
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Receive kiosk uploads (the default; what a province runs).")
    @OptionGroup var options: ServeOptions
    func run() async throws { try await options.run(faults: nil) }
}

/// The receiver misbehaving on purpose, for the uplink fault tests. Never part of a deployment: it only listens on
/// loopback and says so on every start.
struct TestStand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-stand",
        abstract: "TEST ONLY: the receiver with injected faults (loopback only), for the uplink fault tests.")
    @OptionGroup var options: ServeOptions

    @Option(help: "Answer this HTTP status instead of storing (e.g. 503, 500, 422, 401; a 2xx answers an HTML page without a receipt, as a captive portal or gateway would). Several, comma-separated, are picked at random per failure.") var failStatus: String?
    @Option(help: "How many requests fail (from the first); with --fail-rate, 0 = no limit.") var failCount = 0
    @Option(help: "Fail each request with this probability (0…1) instead of the first N.") var failRate: Double?
    @Option(help: "Retry-After value sent with the failure (seconds or an HTTP date).") var retryAfter: String?
    @Option(help: "Wait this many milliseconds before answering each request.") var delayMs = 0

    func validate() throws {
        guard ReceiverServer.isLoopback(options.host) else { throw ValidationError("test-stand listens on loopback only") }
        if let r = failRate, !(0...1).contains(r) { throw ValidationError("--fail-rate must be between 0 and 1") }
        if let f = failStatus, FaultInjection.statuses(f) == nil { throw ValidationError("--fail-status must be HTTP statuses (100…599), comma-separated") }
        if delayMs < 0 { throw ValidationError("--delay-ms must not be negative") }
    }

    func run() async throws {
        let faults = FaultInjection(statuses: failStatus.flatMap(FaultInjection.statuses) ?? [], count: failCount, rate: failRate,
                                    retryAfter: retryAfter, delayMilliseconds: delayMs)
        FileHandle.standardError.write(Data("checkpoint-receiver test-stand: FAULT INJECTION ON (test use only)\n".utf8))
        try await options.run(faults: faults)
    }
}

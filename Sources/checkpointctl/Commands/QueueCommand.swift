#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging

/// `checkpointctl queue …`: inspect and manage the durable upload queue (safe while the daemon runs: WAL).
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect and manage the durable upload queue.",
        subcommands: [Status.self, List.self, Show.self, RetryDead.self, Export.self, Drain.self, Pump.self])

    struct Location: ParsableArguments {
        @OptionGroup var daemon: DaemonConfigOption
        var config: String { daemon.config }
        @Option(help: "Queue database (instead of the configuration's [queue] database).") var db: String?
        @Option(help: "Queue size limit in MiB (instead of the configuration's [queue] max_bytes).") var maxMib: Int?

        /// The database and its size limit: given on the command line, else the daemon's own configuration, so a
        /// technician on the kiosk looks at the queue the daemon writes without knowing where it is.
        func resolved() throws -> (db: String, maxBytes: Int64) {
            if let db, let maxMib { return (db, Int64(maxMib) * 1024 * 1024) }
            if let db, !FileManager.default.fileExists(atPath: config) {
                return (db, Int64(CheckpointConfig.Queue.defaults.maxBytes))  // a queue away from any kiosk (a copy, a test): the schema's limit
            }
            let queue = try daemon.load(forDefaultsOf: db == nil ? ["--db"] : ["--max-mib"]).queue
            return (db ?? queue.databasePath, maxMib.map { Int64($0) * 1024 * 1024 } ?? Int64(queue.maxBytes))
        }

        /// Read-only by default: safe beside the running daemon, and never moves the live queue aside. `.maintenance`
        /// takes the daemon's lock, so a change refuses while the daemon runs instead of racing it.
        func open(_ access: QueueStore.Access = .readOnly) throws -> QueueStore {
            let (db, maxBytes) = try resolved()
            guard FileManager.default.fileExists(atPath: db) else { throw CtlError.runtime("no queue database at \(db)") }
            var logger = Logger(label: "checkpointctl.queue")
            logger.logLevel = .warning
            return try QueueStore(path: db, options: .init(capacity: QueueCapacity(maxBytes: maxBytes), access: access),
                                  logger: logger)
        }
    }

    /// Where `drain` uploads: the daemon's `[upload]` settings unless `--endpoint` is given.
    struct Endpoint: ParsableArguments {
        @Option(help: "Upload endpoint, https://…/v1/records (default: the configuration's [upload] endpoint and TLS settings).") var endpoint: String?
        @Option(help: "CA bundle for the server (then the only trust; without it, the system store).") var caFile: String?
        @Option(help: "Pin the server's public key: sha256//BASE64[;sha256//…].") var pinnedPublicKey: String?
        @Option(help: "Client certificate for mutual TLS.") var clientCert: String?
        @Option(help: "Client key for mutual TLS.") var clientKey: String?
        @Flag(help: "Allow a plain http:// endpoint (testing only).") var allowInsecureHttp = false
        @Option(help: "Abort a transfer slower than 100 B/s for this many seconds.") var lowSpeedSeconds = 10

        func uploader(config: DaemonConfigOption?) throws -> CurlUploader {
            let configuration = try self.configuration(config: config)
            do { return try CurlUploader(configuration: configuration) } catch { throw CtlError.config("\(error)") }
        }

        /// The transfer settings: these options, or the daemon's `[upload]`.
        func configuration(config: DaemonConfigOption?) throws -> UploadConfiguration {
            let configuration: UploadConfiguration
            if let endpoint {
                configuration = UploadConfiguration(endpoint: endpoint, caFile: caFile, pinnedPublicKey: pinnedPublicKey, clientCertificate: clientCert,
                                                    clientKey: clientKey, allowInsecureHTTP: allowInsecureHttp,
                                                    connectTimeout: .seconds(5), lowSpeedTime: .seconds(lowSpeedSeconds), totalTimeout: .seconds(60))
            } else if let config {
                configuration = UploadConfiguration(try config.load(forDefaultsOf: ["--endpoint"]).upload)
            } else {
                throw ValidationError("--endpoint is required")
            }
            return configuration
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts, size and age of the queue.")
        @OptionGroup var location: Location
        @Flag(help: "One JSON object: the counts, sizes, oldest record and integrity check.") var json = false
        func run() async throws {
            let store = try location.open()
            let s = try store.status()
            let integrity = try store.integrityCheck()
            if json {
                struct Report: Encodable {
                    var database: String
                    var status: QueueStatus
                    var integrity: [String]
                }
                print(try JSONOutput.line(Report(database: try location.resolved().db, status: s, integrity: integrity)))
                return
            }
            print("pending:        \(s.pending) (\(s.withFace) with face image)")
            print("dead letter:    \(s.dead)")
            print("oldest pending: \(s.oldestPendingAt.map { $0.formatted(.iso8601) } ?? "-")")
            print("size:           \(s.usedBytes / 1024) KiB of \(s.maxBytes / 1024) KiB")
            print("free disk:      \(s.freeDiskBytes / 1024 / 1024) MiB")
            print("integrity:      \(integrity.joined(separator: "; "))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pending and dead-lettered records (ids and upload state only).")
        @OptionGroup var location: Location
        @Option(help: "At most this many of each.") var limit = 50
        @Flag(help: "One JSON object per record, one per line (state, id, times, attempts, face size, last error).") var json = false

        /// A record's upload state for scripts: never its contents.
        struct Line: Encodable {
            var state: String, id: String, createdAt: Date?, deadAt: Date?, attempts: Int?, faceBytes: Int?
            var notBefore: Date?, lastError: String?, reason: String?
        }

        func run() async throws {
            let store = try location.open()
            if json {
                for r in try store.list(limit: limit) {
                    print(try JSONOutput.line(Line(state: "pending", id: r.record.id.uuidString.lowercased(), createdAt: r.createdAt, deadAt: nil,
                                                   attempts: r.attempts, faceBytes: r.face?.count ?? 0, notBefore: r.notBefore,
                                                   lastError: r.lastError, reason: nil)))
                }
                for d in try store.listDead(limit: limit) {
                    print(try JSONOutput.line(Line(state: "dead", id: d.id.uuidString.lowercased(), createdAt: nil, deadAt: d.deadAt, attempts: nil,
                                                   faceBytes: nil, notBefore: nil, lastError: nil, reason: d.reason)))
                }
                return
            }
            print("PENDING")
            for r in try store.list(limit: limit) {
                print("  \(r.record.id.uuidString.lowercased())  \(r.createdAt.formatted(.iso8601))  attempts=\(r.attempts)"
                      + "  face=\(r.face?.count ?? 0)B  next=\(r.notBefore.formatted(.iso8601))" + (r.lastError.map { "  last: \($0)" } ?? ""))
            }
            print("DEAD LETTER")
            for d in try store.listDead(limit: limit) {
                print("  \(d.id.uuidString.lowercased())  \(d.deadAt.formatted(.iso8601))  \(d.reason)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one record's JSON (contains personal data: show it only to those entitled).")
        @OptionGroup var location: Location
        @Argument(help: "Record id.") var id: String
        @Flag(help: "One JSON object: {\"state\", \"record\", …} with the record as stored.") var json = false
        func run() async throws {
            guard let uuid = UUID(uuidString: id) else { throw ValidationError("'\(id)' is not a record id (UUID)") }
            let store = try location.open()
            if json {
                struct Shown: Encodable {
                    var state: String, attempts: Int?, faceBytes: Int?, lastError: String?, deadAt: Date?, reason: String?
                    var record: JSONValue
                }
                let shown: Shown
                if let r = try store.find(id: uuid) {
                    shown = Shown(state: "pending", attempts: r.attempts, faceBytes: r.face?.count ?? 0, lastError: r.lastError, deadAt: nil,
                                  reason: nil, record: try JSONDecoder().decode(JSONValue.self, from: r.json))
                } else if let d = try store.findDead(id: uuid) {
                    shown = Shown(state: "dead", attempts: nil, faceBytes: d.face?.count ?? 0, lastError: nil, deadAt: d.deadAt, reason: d.reason,
                                  record: try JSONDecoder().decode(JSONValue.self, from: d.json))
                } else {
                    throw CtlError.runtime("no record \(id) in \(try location.resolved().db) (delivered records are deleted)")
                }
                print(try JSONOutput.line(shown))
                return
            }
            if let r = try store.find(id: uuid) {
                print(String(decoding: r.json, as: UTF8.self))
                print("state: pending, attempts \(r.attempts), face \(r.face?.count ?? 0) bytes" + (r.lastError.map { ", last error: \($0)" } ?? ""))
            } else if let d = try store.findDead(id: uuid) {
                print(String(decoding: d.json, as: UTF8.self))
                print("state: dead letter since \(d.deadAt.formatted(.iso8601)): \(d.reason)")
            } else {
                throw CtlError.runtime("no record \(id) in \(try location.resolved().db) (delivered records are deleted)")
            }
        }
    }

    struct RetryDead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retry-dead", abstract: "Move dead-lettered records back into the queue.")
        @OptionGroup var location: Location
        func run() async throws {
            let n = try location.open(.maintenance).retryDead()
            print("\(n) record(s) moved back to the queue")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every pending and dead-lettered record to DIR as <id>.json (+ <id>.jpg), mode 0600.")
        @OptionGroup var location: Location
        @Argument(help: "Target directory (created with mode 0700).") var dir: String
        func run() async throws {
            let store = try location.open()
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var n = 0
            func write(_ data: Data, _ name: String) throws {
                let path = (dir as NSString).appendingPathComponent(name)
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw CtlError.runtime("cannot write \(path): \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                fchmod(fd, 0o600)
                let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                guard written == data.count else { throw CtlError.runtime("short write to \(path)") }
            }
            for r in try store.list(limit: Int.max) {
                let id = r.record.id.uuidString.lowercased()
                try write(r.json, "\(id).json")
                if let face = r.face { try write(face, "\(id).jpg") }
                n += 1
            }
            for d in try store.listDead(limit: Int.max) {
                let id = d.id.uuidString.lowercased()
                try write(d.json, "\(id).json")
                if let face = d.face { try write(face, "\(id).jpg") }
                n += 1
            }
            print("exported \(n) record(s) to \(dir)")
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload every pending record now (for a technician with a link, and tests).")
        @OptionGroup var location: Location
        @OptionGroup var endpoint: Endpoint
        @Option(help: "Give up after this many seconds.") var timeout = 120.0
        @Option(help: ArgumentHelp("Tests: also send heartbeats for DEVICE every this many seconds while draining, as the daemon does beside its uploads (own thread and connection, latest-only); prints what they did.", visibility: .hidden))
        var heartbeatInterval: Double?
        @Option(help: ArgumentHelp("Tests: the device id of those heartbeats (queue pump's records are device 'pump').", visibility: .hidden))
        var heartbeatDevice = "pump"
        @Option(help: ArgumentHelp("Tests: keep the heartbeats going this many seconds after the drain.", visibility: .hidden))
        var heartbeatLinger = 0.0

        func run() async throws {
            let uploader = try endpoint.uploader(config: location.daemon)
            let store = try location.open(.maintenance)
            var logger = Logger(label: "checkpointctl.upload")
            logger.logLevel = .warning
            let service = UploadService(store: store, uploader: uploader,
                                        policy: UploadPolicy(baseDelay: .milliseconds(200), maxDelay: .seconds(5), slowRetryDelay: .seconds(30),
                                                             retryAfterClamp: 0.2...10),
                                        logger: logger)
            var heartbeats: (sender: HeartbeatSender, task: Task<Void, Never>)?
            if let interval = heartbeatInterval {
                guard interval > 0 else { throw ValidationError("--heartbeat-interval must be positive") }
                var hbLogger = Logger(label: "checkpointctl.heartbeat")
                hbLogger.logLevel = .error
                let sender = try HeartbeatSender(
                    upload: try endpoint.configuration(config: location.daemon), intervalSeconds: interval,
                    identity: HeartbeatIdentity(deviceId: heartbeatDevice, checkpointId: "stress", bootId: SystemRecordClock().bootId),
                    pollInterval: .milliseconds(100), logger: hbLogger,
                    conditions: { HeartbeatConditions(stages: [], sensorAvailable: true, uplinkAlert: service.status.alert != nil,
                                                      deadLetters: service.status.deadLetters) },
                    status: {
                        let q = try? await AsyncQueueStore(store).status()
                        let u = service.status
                        return KioskStatus(stages: [], overall: .ok, sensorAvailable: true, calibrationId: "test", calibratedAt: nil,
                                           queueDepth: q?.pending ?? 0, oldestPendingAt: q?.oldestPendingAt, deadLetters: u.deadLetters,
                                           lastDeliveryAt: u.lastDeliveryAt, uplinkAlert: u.alert != nil, freeDiskBytes: q?.freeDiskBytes ?? 0)
                    })
                heartbeats = (sender, Task { await sender.run() })
            }
            let n = try await service.drain(until: Date().addingTimeInterval(timeout))
            let s = try store.status()
            print("delivered \(n); pending \(s.pending); dead letter \(s.dead)")
            if let heartbeats {
                if heartbeatLinger > 0 { try await Task.sleep(for: .seconds(heartbeatLinger)) }
                heartbeats.task.cancel()
                await heartbeats.task.value
                let h = heartbeats.sender.status
                print("heartbeats sent \(h.sent); failed \(h.failed)")
            }
            if s.pending > 0 { throw ExitCode(1) }
        }
    }

    /// Test/stress helper: enqueues records while uploading, printing "confirmed <id>" after each commit.
    struct Pump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stress helper: enqueue COUNT synthetic records while the uploader runs; prints 'confirmed ID' after each commit.",
            shouldDisplay: false)
        @Option(help: "Queue database (created if missing).") var db: String
        @Option(help: "Queue size limit in KiB.") var maxKib = 512 * 1024
        @Option(help: "Free-disk floor in KiB.") var floorKib = 1024
        @OptionGroup var endpoint: Endpoint
        @Option(help: "Records to enqueue.") var count = 100
        @Option(help: "Face image size in bytes (0 = none).") var faceBytes = 30_000
        @Option(help: "Pause between records, milliseconds.") var intervalMs = 5
        @Flag(help: "Do not upload, only enqueue (prints enqueue latency at the end).") var noUpload = false

        func run() async throws {
            var logger = Logger(label: "checkpointctl.pump")
            logger.logLevel = .error
            let store = try QueueStore(path: db, options: .init(capacity: QueueCapacity(maxBytes: Int64(maxKib) * 1024,
                                                                                   freeDiskFloor: Int64(floorKib) * 1024)), logger: logger)
            let service = UploadService(store: store, uploader: try endpoint.uploader(config: nil),
                                        policy: UploadPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(2), slowRetryDelay: .seconds(5),
                                                             retryAfterClamp: 0.1...3),
                                        logger: logger)
            let uploading = noUpload ? nil : Task { await service.run() }
            var latencies: [Double] = []
            var refused = 0
            var generator = SystemRandomNumberGenerator()
            let baseFace = Data((0..<faceBytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let recordClock = SystemRecordClock()
            for i in 0..<count {
                let record = QueueRecord(checkpointId: "stress", deviceId: "pump", clock: recordClock.now(),
                                         declaration: Self.declaration(i), screening: ScreeningSummary(result: .normal, rawTemperatureC: 34.1,
                                         correctedTemperatureC: 36.6, calibrationId: "test", sensor: "synthetic"), faceCaptured: faceBytes > 0)
                var face: Data?
                if faceBytes > 0 {
                    face = baseFace
                    withUnsafeBytes(of: UInt64(i).littleEndian) { face!.replaceSubrange(0..<min(8, faceBytes), with: $0.prefix(faceBytes)) }
                }
                let t0 = ContinuousClock.now
                do {
                    try store.enqueue(record, face: face)
                } catch let e as AdapterError where e.code == .queueFull || e.code == .diskFull {
                    print("refused \(e.code) \(e.message)")
                    fflush(stdout)
                    refused += 1
                    continue
                }
                let dt = ContinuousClock.now - t0
                latencies.append(Double(dt.components.attoseconds) / 1e15 + Double(dt.components.seconds) * 1000)
                print("confirmed \(record.id.uuidString.lowercased())")
                fflush(stdout)
                service.wake()
                if intervalMs > 0 { try await Task.sleep(for: .milliseconds(intervalMs)) }
            }
            if let uploading {
                // Let the backlog drain, then stop.
                let deadline = Date().addingTimeInterval(60)
                while (try store.status().pending) > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
                uploading.cancel()
                await uploading.value
            }
            latencies.sort()
            if !latencies.isEmpty {
                let p = { (q: Double) in latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] }
                print(String(format: "enqueue_ms p50=%.3f p99=%.3f n=%d refused=%d", p(0.5), p(0.99), latencies.count, refused))
            }
        }

        static func declaration(_ i: Int) -> [String: JSONValue] {
            ["fullName": .string("NGUYEN VAN THU \(i)"), "birthYear": .number(1980), "gender": .string("Nam"), "nation": .string("VN"),
             "provinceId": .string("19"), "districtId": .string("164"), "wardId": .string("05436"), "address": .string("So \(i) Duong Test"),
             "phone": .string("0912345678"), "hasPatient": .number(2), "hasFromSickCountry": .number(2), "hasSick": .number(2),
             "consent": .bool(true)]
        }
    }
}

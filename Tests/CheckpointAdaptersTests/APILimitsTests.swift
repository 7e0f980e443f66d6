#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointAdapters
@testable import CheckpointCore
import Foundation
import Testing

/// #15: the local API holds no connection forever, takes a bounded number of declarations at once, refuses
/// non-JSON declarations on TCP, never puts an error's text (SQLite, paths) in a response, and applies the
/// configured socket mode and group.
@Suite("Kiosk API limits", .serialized)
struct APILimitsTests {
    let base = APIDeclarationTests()

    /// A raw request with a body on a fresh TCP connection.
    /// A declaration whose headers and first 10 body bytes are sent, the rest held back (a slow client).
    static func startSlowDeclaration(port: Int, body: Data) throws -> RawHTTP {
        let slow = try RawHTTP(port: port)
        let head = "POST /v1/declarations HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let first = Data(head.utf8) + body.prefix(10)
        _ = first.withUnsafeBytes { Glibc.send(slow.fd, $0.baseAddress, $0.count, 0) }
        return slow
    }

    static func post(port: Int, headers: [String], body: Data) async throws -> (status: Int, headers: [String: String], body: String) {
        let c = try RawHTTP(port: port)
        defer { c.close() }
        var text = "POST /v1/declarations HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        text += headers.map { $0 + "\r\n" }.joined() + "\r\n"
        let bytes = Data(text.utf8) + body
        _ = bytes.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, 0) }
        return RawHTTP.parse(await c.read { _ in false })
    }

    func json(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }

    @Test func aTCPDeclarationMustSayItIsJSON() async throws {
        let api = try await base.start(screening: ScreeningScript().hub, tcp: true)
        let port = try #require(api.port)
        let body = APIDeclarationTests.body(screeningId: nil)
        for headers in [[], ["Content-Type: text/plain"], ["Content-Type: application/x-www-form-urlencoded"], ["Content-Type: multipart/form-data; boundary=x"]] {
            let r = try await Self.post(port: port, headers: headers, body: body)
            #expect(r.status == 415, "\(headers)")
            #expect(json(r.body)["code"] as? String == "unsupported-media-type")
        }
        #expect(try await Self.post(port: port, headers: ["Content-Type: application/json"], body: body).status == 201)
        #expect(try await Self.post(port: port, headers: ["Content-Type: Application/JSON; charset=utf-8"], body: body).status == 201)
        #expect(try api.store.status().pending == 2)
        // The Unix socket (the kiosk's own client) is not a browser: unchanged.
        #expect(try await api.request("POST", "/v1/declarations", body: body).0 == 201)
        await api.stop()
    }

    @Test func declarationsBeyondTheCapAreAnswered503Busy() async throws {
        let api = try await base.start(screening: ScreeningScript().hub, tcp: true) {
            $0.maxConcurrentDeclarations = 1
            $0.bodyTimeout = .seconds(120)  // the slow one keeps its slot however long the probes take on a busy machine
        }
        let port = try #require(api.port)
        let body = APIDeclarationTests.body(screeningId: nil)
        // One declaration whose body is still arriving holds the only slot.
        var slow = try Self.startSlowDeclaration(port: port, body: body)
        // Wait for the event (the slow one holding the slot), not a fixed time. Until the server has read the slow
        // one's head, a probe takes the slot itself and is simply stored; and if the slow one's head arrives while a
        // probe holds the slot, the slow one is the one answered busy: then it starts again.
        var busy: (status: Int, headers: [String: String], body: String) = (0, [:], "")
        var answeredIn = Duration.zero
        let deadline = ContinuousClock.now + .seconds(60)
        repeat {
            let start = ContinuousClock.now
            busy = try await Self.post(port: port, headers: ["Content-Type: application/json"], body: body)
            answeredIn = ContinuousClock.now - start
            if busy.status != 503 {
                if RawHTTP.parse(await slow.read(timeout: .milliseconds(100)) { $0.contains("\r\n\r\n") }).status == 503 {
                    slow.close()
                    slow = try Self.startSlowDeclaration(port: port, body: body)
                }
            }
        } while busy.status != 503 && ContinuousClock.now < deadline
        #expect(busy.status == 503)
        #expect(json(busy.body)["code"] as? String == "busy")
        #expect(answeredIn < .seconds(5), "answered at once, not after waiting for the slot (the slow body takes 10 s)")
        // The slow one completes; the slot is free again.
        let rest = body.dropFirst(10)
        _ = Data(rest).withUnsafeBytes { Glibc.send(slow.fd, $0.baseAddress, $0.count, 0) }
        #expect(RawHTTP.parse(await slow.read { $0.contains("\"shortCode\"") }).status == 201)
        slow.close()
        #expect(try await Self.post(port: port, headers: ["Content-Type: application/json"], body: body).status == 201)
        await api.stop()
    }

    @Test func aDeclarationBodyThatDoesNotArriveIsAnswered408() async throws {
        let api = try await base.start(screening: ScreeningScript().hub, tcp: true) { $0.bodyTimeout = .seconds(1) }
        let port = try #require(api.port)
        let body = APIDeclarationTests.body(screeningId: nil)
        let slow = try Self.startSlowDeclaration(port: port, body: body)
        let answer = RawHTTP.parse(await slow.read(timeout: .seconds(30)) { $0.contains("request-timeout") })
        slow.close()
        #expect(answer.status == 408)
        #expect(try api.store.status().pending == 0)
        // The slot was given back.
        #expect(try await Self.post(port: port, headers: ["Content-Type: application/json"], body: body).status == 201)
        await api.stop()
    }

    /// A slowloris client (a header byte now and then) and an idle keep-alive connection are both cut off.
    @Test func idleAndSlowConnectionsAreClosed() async throws {
        let api = try await base.start(screening: ScreeningScript().hub, tcp: true) { $0.idleTimeout = .seconds(1) }
        let port = try #require(api.port)
        let slow = try RawHTTP(port: port)
        let idle = try RawHTTP(port: port)
        idle.send("GET", "/healthz", host: "127.0.0.1:\(port)")
        #expect(await idle.read { $0.contains("\"status\"") }.hasPrefix("HTTP/1.1 200"))
        // The slow client trickles a header byte every 200 ms, which resets any per-read timer; it must still be cut
        // off (the idle timeout is 1 s, the header never ends). Wait for that event, generously, off the pool.
        let slowFD = slow.fd, idleFD = idle.fd
        let closedAfter: Duration? = await offPool {
            let start = ContinuousClock.now
            var header = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8)
            header += [UInt8](repeating: UInt8(ascii: "a"), count: 300)
            for byte in header {
                var b = byte
                if Glibc.send(slowFD, &b, 1, Int32(MSG_NOSIGNAL)) < 0 { return ContinuousClock.now - start }
                var probe = [UInt8](repeating: 0, count: 256)
                if recv(slowFD, &probe, probe.count, 0) == 0 { return ContinuousClock.now - start }
            }
            return nil
        }
        #expect(closedAfter != nil, "slow client still connected after trickling its header for a minute")
        let idleClosed = await offPool {
            var probe = [UInt8](repeating: 0, count: 256)
            for _ in 0..<300 { if recv(idleFD, &probe, probe.count, 0) == 0 { return true } }  // up to 60 s
            return false
        }
        #expect(idleClosed, "idle keep-alive connection still open")
        slow.close()
        idle.close()
        // The listener itself still serves.
        #expect(try await RawHTTP.exchange(port: port, "/healthz").status == 200)
        await api.stop()
    }

    @Test func aStorageFailureAnswersAFixedMessageWithoutSQLiteTextOrPaths() async throws {
        let dir = uplinkTempDir("api-storage")
        let api = try await base.start(screening: ScreeningScript().hub, dir: dir)
        // Every insert now fails with SQLite's text naming a path.
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute("CREATE TRIGGER boom BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk I/O at /var/lib/checkpointd/queue.db'); END")
            c.commit()
            """, dir + "/q.db"]
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0)
        let (status, data) = try await api.request("POST", "/v1/declarations", body: APIDeclarationTests.body(screeningId: nil))
        let text = String(decoding: data, as: UTF8.self)
        #expect(status == 503)
        #expect(json(text)["code"] as? String == "storage-error")
        // Both the raw body and the decoded message (JSON writes "/" as "\/").
        let message = json(text)["error"] as? String ?? ""
        #expect(!message.isEmpty)
        for leak in ["/var/lib", dir, "SQLite", "sqlite", "disk I/O", "boom", "records"] {
            #expect(!text.contains(leak) && !message.contains(leak), "response carries \(leak): \(text)")
        }
        await api.stop()
    }

    @Test func theSocketGetsTheConfiguredModeAndGroupAndItsDirectoryTheGroup() async throws {
        let dir = uplinkTempDir("api-perm")
        let runtime = dir + "/run"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        #expect(chmod(runtime, 0o700) == 0)
        let group = ["video", "dialout"].first { (try? SocketPermissions.groupID($0)) != nil }
        let gid = try #require(group.flatMap { try? SocketPermissions.groupID($0) })
        let socket = runtime + "/api.sock"
        let api = try await base.start(screening: ScreeningScript().hub, dir: dir) {
            $0.socketPath = socket
            $0.socketMode = 0o620
            $0.socketGroup = group
        }
        var st = stat()
        #expect(stat(socket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o620, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(st.st_gid == gid)
        var ds = stat()
        #expect(stat(runtime, &ds) == 0)
        #expect(ds.st_gid == gid, "the group can reach the socket only through its directory")
        #expect(ds.st_mode & 0o777 == 0o710)
        await api.stop()
    }

    @Test func aMissingSocketGroupIsNamed() {
        #expect(throws: (any Error).self) { try SocketPermissions.groupID("no-such-group-\(UUID().uuidString.prefix(8))") }
        do {
            _ = try SocketPermissions.groupID("no-such-group-x")
        } catch {
            #expect("\(error)".contains("socket_group") && "\(error)".contains("no-such-group-x"))
        }
        #expect((try? SocketPermissions.groupID("root")) == 0)
    }
}

@Suite struct RecordClockTests {
    @Test func theBootIdIsTheFirstValidFileAndReadOnce() throws {
        let dir = uplinkTempDir("bootid")
        let id = "0f6d2a84-5c1e-4b7a-9a43-2f0e6c1d9b57"
        try "\(id)\n".write(toFile: dir + "/boot_id", atomically: true, encoding: .utf8)
        // /proc/sys hidden (ProcSubset=pid): the copy in the runtime directory is used.
        let clock = SystemRecordClock(environment: ["RUNTIME_DIRECTORY": dir])
        let kernel = (try? String(contentsOfFile: SystemRecordClock.kernelBootIDPath, encoding: .utf8)).flatMap(ClockSync.bootID(fromFile:))
        #expect(clock.bootId == (kernel ?? id))
        try FileManager.default.removeItem(atPath: dir + "/boot_id")
        #expect(clock.now().bootId == clock.bootId, "read once, at start")
        #expect(SystemRecordClock(environment: ["RUNTIME_DIRECTORY": dir]).bootId == (kernel ?? "unknown"))
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Testing
@testable import CheckpointAdapters

@Suite struct SystemdNotifierTests {
    /// Binds a datagram socket where systemd would, and returns what the notifier sent.
    private func receive(path: String, _ body: () throws -> Void) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(rc == 0)
        try body()
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    @Test func readyAndStatusReachTheSocket() throws {
        let path = NSTemporaryDirectory() + "notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        let got = try receive(path: path) { try notifier.ready(status: "ok; queue 0") }
        #expect(got == "READY=1\nSTATUS=ok; queue 0")
        let ping = try receive(path: path) { try notifier.watchdog() }
        #expect(ping == "WATCHDOG=1")
    }

    @Test func withoutSystemdItIsANoOp() throws {
        try SystemdNotifier(environment: [:]).ready()
        #expect(SystemdNotifier(environment: [:]).socketPath == nil)
    }

    @Test func missingSocketIsAnError() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(throws: AdapterError.self) { try notifier.watchdog() }
    }

    @Test func watchdogIntervalHonoursPid() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "60000000"]) == 60)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"], pid: 2) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket named in `$NOTIFY_SOCKET`
/// (a leading `@` is the abstract namespace). Without the variable (not under systemd) every call is a no-op.
public struct SystemdNotifier: Sendable {
    public let socketPath: String?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"]
        self.socketPath = (path?.isEmpty ?? true) ? nil : path
    }

    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), when it is meant for this process.
    public static func watchdogInterval(environment: [String: String], pid: Int32 = getpid()) -> Double? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"].flatMap(Int32.init), owner != pid { return nil }
        return Double(usec) / 1e6
    }

    public func ready(status: String? = nil) throws(AdapterError) { try send("READY=1" + (status.map { "\nSTATUS=\($0)" } ?? "")) }
    public func reloading(monotonicMicros: UInt64) throws(AdapterError) { try send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicros)") }
    public func stopping() throws(AdapterError) { try send("STOPPING=1") }
    public func watchdog() throws(AdapterError) { try send("WATCHDOG=1") }
    public func status(_ text: String) throws(AdapterError) { try send("STATUS=\(text)") }

    /// Sends `state` (newline-separated assignments) as one datagram.
    public func send(_ state: String) throws(AdapterError) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .posix(.io, "sd_notify: socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { throw AdapterError(.io, "sd_notify: NOTIFY_SOCKET path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            if !abstract { raw[pathBytes.count] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1))
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        guard sent == payload.count else { throw .posix(.io, "sd_notify: sendto \(socketPath)") }
    }
}

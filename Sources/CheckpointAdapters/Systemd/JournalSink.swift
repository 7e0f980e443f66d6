import CSystemdJournal
import CheckpointCore
import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where the daemon's log goes: straight to the journal as structured fields when stderr is the journal (so
/// `journalctl RECORD_ID=…` works), else lines on stderr (`JournaldLogHandler.Sink.stderr`).
///
/// libsystemd (`sd_journal_sendv`, through the `CSystemdJournal` shim) rather than our own writer for the native
/// protocol: it handles the socket, entries too large for a datagram (sent as a sealed memfd) and the protocol's
/// binary-safe encoding, which we would otherwise have to get right and keep right ourselves.
public enum JournalSink {
    /// The sink for this process: native journal entries when `JOURNAL_STREAM` names stderr, else stderr lines.
    public static func forProcess(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  identifier: String = ProcessInfo.processInfo.processName) -> JournaldLogHandler.Sink {
        guard stderrIsJournal(environment: environment) else { return .stderr }
        return JournaldLogHandler.Sink(identifier: identifier, entry: send) { line in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// systemd.exec(5): the service manager sets `JOURNAL_STREAM=<device>:<inode>` for stdout/stderr connected to the
    /// journal; stderr is the journal only if its `fstat` matches (a redirected or inherited stderr does not).
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return streamMatches(environment["JOURNAL_STREAM"], device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// `JOURNAL_STREAM`'s two decimal numbers against a file's device and inode.
    public static func streamMatches(_ value: String?, device: UInt64, inode: UInt64) -> Bool {
        guard let parts = value?.split(separator: ":", omittingEmptySubsequences: false), parts.count == 2,
              let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        return dev == device && ino == inode
    }

    /// One entry to journald; false when it could not be sent (the caller then writes the line to stderr).
    @Sendable static func send(_ fields: [String]) -> Bool {
        let buffers = fields.map { Array($0.utf8) }
        var pointers: [UnsafeMutablePointer<CChar>] = []
        defer { pointers.forEach { $0.deallocate() } }
        for bytes in buffers {
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBufferPointer { b in
                b.baseAddress.map { UnsafeMutableRawPointer(p).copyMemory(from: $0, byteCount: b.count) }
            }
            pointers.append(p)
        }
        let lengths = buffers.map { $0.count }
        let constPointers: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) }
        return constPointers.withUnsafeBufferPointer { fp in
            lengths.withUnsafeBufferPointer { lp in
                cpd_journal_send(fp.baseAddress, lp.baseAddress, Int32(fields.count)) >= 0
            }
        }
    }
}

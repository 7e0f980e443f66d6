#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation

/// Reads the record clock: wall time, sync flag, boot id and CLOCK_BOOTTIME.
///
/// The boot id is read once, at start. The unit's `ProcSubset=pid` hides /proc/sys from the daemon, so the unit copies
/// the kernel's boot id into its RuntimeDirectory first (`ExecStartPre=+…`, run outside the sandbox); the daemon reads
/// /proc/sys/kernel/random/boot_id when it can (outside systemd), else `$RUNTIME_DIRECTORY/boot_id`.
///
/// The sync flag comes from `adjtimex(2)` (STA_UNSYNC; chrony, timesyncd and ntpd alike). Where that call is refused
/// (`ProtectClock=` filters the @clock system calls, which include a read-only adjtimex) it falls back to
/// systemd-timesyncd's flag file.
public struct SystemRecordClock: Sendable {
    public static let kernelBootIDPath = "/proc/sys/kernel/random/boot_id"
    public static let timesyncFlagPath = "/run/systemd/timesync/synchronized"

    public let bootId: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var paths = [Self.kernelBootIDPath]
        if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first { paths.append(String(runtime) + "/boot_id") }
        bootId = Self.readBootID(paths: paths) ?? "unknown"
    }

    /// The first valid boot id among `paths`.
    static func readBootID(paths: [String]) -> String? {
        for path in paths {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let id = ClockSync.bootID(fromFile: text) { return id }
        }
        return nil
    }

    /// One read of the kernel's NTP state: adjtimex's return value, `status`, and errno when it failed.
    ///
    /// Glibc's Swift module does not import <sys/timex.h>, so `struct timex` is read from a zeroed buffer (modes = 0:
    /// a read, nothing is set): on LP64 Linux (x86_64, aarch64) `modes` is at offset 0 and `int status` at offset 40
    /// (after modes + padding and four longs); the struct is 208 bytes.
    static func readKernelNTP() -> (returnValue: Int32, status: Int32, errno: Int32) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        let rc = cAdjtimex(buffer)
        let e = errno
        return (rc, buffer.load(fromByteOffset: 40, as: Int32.self), rc < 0 ? e : 0)
    }

    /// The kernel's NTP state; nil when adjtimex is refused.
    static func kernelSynced() -> Bool? {
        let r = readKernelNTP()
        return ClockSync.synced(returnValue: r.returnValue, status: r.status)
    }

    /// Where the sync flag comes from, said once in the journal at start: adjtimex, or the fallback and why.
    public static func syncSource() -> String {
        let r = readKernelNTP()
        return r.returnValue >= 0 ? "adjtimex" : "timesyncd flag file (adjtimex refused: \(String(cString: strerror(r.errno))))"
    }

    public static func clockSynced() -> Bool {
        kernelSynced() ?? (access(timesyncFlagPath, F_OK) == 0)
    }

    public func now() -> RecordClock {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return RecordClock(wallTime: Date(), clockSynced: Self.clockSynced(), bootId: bootId,
                           monotonicNanos: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// glibc's adjtimex(struct timex *).
@_silgen_name("adjtimex")
private func cAdjtimex(_ buffer: UnsafeMutableRawPointer) -> Int32

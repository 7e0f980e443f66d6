#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes a file so that readers see either the old or the new content, never a torn one:
/// temp file in the same directory → fsync → rename → fsync the directory.
public enum AtomicFileWriter {
    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(AdapterError) {
        try write(bytes: Array(text.utf8), to: path, mode: mode)
    }

    public static func write(bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(AdapterError) {
        let dir: String
        if let slash = path.lastIndex(of: "/") { dir = slash == path.startIndex ? "/" : String(path[..<slash]) } else { dir = "." }
        let tmp = "\(path).tmp-\(getpid())"
        let fd = try retryingOnInterrupt("cannot create \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            var offset = 0
            while offset < bytes.count {
                offset += try retryingOnInterrupt("cannot write \(tmp)") { bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            }
            _ = try retryingOnInterrupt("cannot sync \(tmp)") { fchmod(fd, mode) }
            _ = try retryingOnInterrupt("cannot sync \(tmp)") { fsync(fd) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        _ = try retryingOnInterrupt("cannot rename \(tmp) to \(path)") { rename(tmp, path) }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            defer { close(dfd) }
            _ = try retryingOnInterrupt("cannot sync directory \(dir)") { fsync(dfd) }
        }
    }
}

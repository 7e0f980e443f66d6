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
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AdapterError.posix(.io, "cannot create \(tmp)") }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                throw AdapterError(.io, "cannot write \(tmp)", cause: .errno(e))
            }
            offset += n
        }
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let e = errno
            close(fd)
            throw AdapterError(.io, "cannot sync \(tmp)", cause: .errno(e))
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw AdapterError.posix(.io, "cannot rename \(tmp) to \(path)") }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            defer { close(dfd) }
            guard fsync(dfd) == 0 else { throw AdapterError.posix(.io, "cannot sync directory \(dir)") }
        }
    }
}

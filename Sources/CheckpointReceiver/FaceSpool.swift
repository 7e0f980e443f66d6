#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Synchronization

/// A face image being received: written, as it streams in, to a private (0600) temporary file in the faces directory,
/// then renamed into place once its record is stored, or removed. The image is never held whole in memory, and a
/// half-received one is never found under a record's name. Writes run on the spool's own queue, not the
/// cooperative pool. Monitoring stills (`MonitoringStills`) are written through it too.
final class FaceSpool: Sendable {
    /// Name prefix of the temporary files (left over only by a crash; `removeLeftovers` clears them at start).
    static let prefix = ".incoming-"
    let path: String
    let fd: Int32
    let queue = DispatchQueue(label: "checkpoint-receiver.face-spool")
    /// The descriptor is still open (commit and discard close it; the second of them does nothing).
    private let isOpen = Mutex(true)

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    static func create(in directory: String) throws -> FaceSpool {
        let path = "\(directory)/\(prefix)\(UUID().uuidString).part"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ReceiverError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))") }
        return FaceSpool(path: path, fd: fd)
    }

    private func onQueue(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            queue.async { c.resume(with: Result { try work() }) }
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: [UInt8]) async throws {
        try await onQueue { [fd, path] in
            try bytes.withUnsafeBytes { b in
                var done = 0
                while done < b.count {
                    let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw ReceiverError(.storage, "cannot write \(path): \(String(cString: strerror(errno)))") }
                    done += n
                }
            }
        }
    }

    /// Flushes the image to disk and gives it its final name.
    func commit(as finalPath: String) async throws {
        try await onQueue { [self] in
            guard self.isOpen.withLock({ let was = $0; $0 = false; return was }) else { return }
            defer { close(self.fd) }
            guard fsync(self.fd) == 0, rename(self.path, finalPath) == 0 else {
                let why = String(cString: strerror(errno))
                unlink(self.path)
                throw ReceiverError(.storage, "cannot move a face image to \(finalPath): \(why)")
            }
        }
    }

    /// Removes the temporary file (the upload was refused, a duplicate, or broke off).
    func discard() async {
        try? await onQueue { [self] in
            guard self.isOpen.withLock({ let was = $0; $0 = false; return was }) else { return }
            close(self.fd)
            unlink(self.path)
        }
    }

    /// Removes the temporary files a crash left in `directory` (those untouched for an hour: another receiver sharing
    /// the directory may be writing a fresh one); returns how many.
    @discardableResult
    static func removeLeftovers(in directory: String, now: Date = Date()) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            let path = "\(directory)/\(name)"
            guard name.hasPrefix(prefix), name.hasSuffix(".part"),
                  let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                  now.timeIntervalSince(modified) > 3600 else { return false }
            return unlink(path) == 0
        }.count
    }
}

import Foundation
import Synchronization

/// When the kiosk's client certificate (`[upload] client_cert`) expires, for its heartbeat: the province sees a
/// certificate running out before the kiosk is locked out. Read again only when the file changes.
public final class ClientCertificateExpiry: Sendable {
    private struct Cached {
        var path: String
        var modified: Date?
        var expiry: Date?
    }
    private let cache = Mutex<Cached?>(nil)

    public init() {}

    /// The first certificate's notAfter in the PEM file at `path`; nil without a path or when it cannot be read.
    public func expiry(path: String?) -> Date? {
        guard let path else { return nil }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if let c = cache.withLock({ $0 }), c.path == path, c.modified == modified { return c.expiry }
        let expiry = Self.read(path)
        cache.withLock { $0 = Cached(path: path, modified: modified, expiry: expiry) }
        return expiry
    }

    static func read(_ path: String) -> Date? { try? CertificateValidity.notAfter(pemFile: path) }
}

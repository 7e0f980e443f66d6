import Foundation
import NIOCore
import NIOSSL
import Synchronization
import X509

/// Who is on the other end of a connection: the client certificate the TLS handshake verified (mutual TLS).
public struct ClientIdentity: Sendable, Equatable {
    /// The certificate subject's common name: the kiosk's `device_id`.
    public var commonName: String?
    /// The serial number, lower-case hex without separators or leading zeros (as `openssl x509 -serial` prints it).
    public var serial: String

    public init(commonName: String?, serial: String) {
        self.commonName = commonName
        self.serial = serial
    }

    /// The identity in a DER certificate.
    public init(der: [UInt8]) throws {
        let cert = try Certificate(derEncoded: der)
        var cn: String?
        for rdn in cert.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName { cn = String(attribute.value) }
        }
        commonName = cn
        serial = Self.normalizeSerial(cert.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
    }

    /// "0A:1B" / "serial=0A1B" / "0a1b" → "a1b".
    public static func normalizeSerial(_ text: String) -> String {
        var s = text.trimmingCharacters(in: .whitespaces).lowercased()
        if s.hasPrefix("serial=") { s.removeFirst(7) }
        s = s.filter { $0.isHexDigit }
        while s.count > 1 && s.hasPrefix("0") { s.removeFirst() }
        return s
    }

    /// The verified peer certificate's identity, or nil on a connection without TLS or without a client certificate.
    public static func of(_ channel: any Channel) async -> ClientIdentity? {
        guard let cert = try? await channel.nioSSL_peerCertificate().get(), let der = try? cert.toDERBytes() else { return nil }
        return try? ClientIdentity(der: der)
    }
}

/// The province's revocation list: one certificate serial number per line (hex; `openssl x509 -serial` output and
/// colon-separated forms are accepted; `#` starts a comment). Read again when the file changes, so revoking a kiosk
/// is editing one file; an unreadable file revokes nothing new but keeps the last list read.
public final class RevocationList: Sendable {
    public let path: String
    private struct State {
        var serials: Set<String> = []
        var modified: Date?
    }
    private let state = Mutex(State())

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ReceiverError(.configuration, "revocation list \(path) is not readable")
        }
        reloadIfChanged()
    }

    public static func parse(_ text: String) -> Set<String> {
        var out = Set<String>()
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let serial = ClientIdentity.normalizeSerial(String(content))
            if !serial.isEmpty { out.insert(serial) }
        }
        return out
    }

    func reloadIfChanged() {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        guard modified != state.withLock({ $0.modified }) else { return }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let serials = Self.parse(text)
        state.withLock { $0 = State(serials: serials, modified: modified) }
    }

    public func isRevoked(serial: String) -> Bool {
        reloadIfChanged()
        return state.withLock { $0.serials.contains(ClientIdentity.normalizeSerial(serial)) }
    }

    public var count: Int { state.withLock { $0.serials.count } }
}

/// What the receiver demands of a client, given its certificate and the device a record or heartbeat names.
public struct DevicePolicy: Sendable {
    /// Client certificates are required (mutual TLS): each must name the device it uploads for.
    public var requireClientCertificate: Bool
    public var revoked: RevocationList?

    public init(requireClientCertificate: Bool = false, revoked: RevocationList? = nil) {
        self.requireClientCertificate = requireClientCertificate
        self.revoked = revoked
    }

    public enum Verdict: Sendable, Equatable {
        case allowed
        /// 401: no certificate where one is required.
        case unauthenticated
        /// 403, with the reason (logged; the kiosk gets a fixed text).
        case forbidden(String)
    }

    public func check(_ identity: ClientIdentity?, deviceId: String) -> Verdict {
        guard requireClientCertificate else { return .allowed }
        guard let identity else { return .unauthenticated }
        if let revoked, revoked.isRevoked(serial: identity.serial) { return .forbidden("certificate \(identity.serial) is revoked") }
        guard let cn = identity.commonName, cn == deviceId else {
            return .forbidden("certificate of \(identity.commonName ?? "(no CN)") used for device \(deviceId)")
        }
        return .allowed
    }
}

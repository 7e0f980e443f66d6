import Foundation
import NIOSSL

/// When a PEM file's certificates stop being valid (`notAfter`), read with swift-nio-ssl (BoringSSL's X.509 parser):
/// only the validity is read, no signature or chain checking (curl does that when it connects). For a file holding a
/// chain, the first certificate to expire decides: an expired intermediate fails the upload as an expired leaf does.
/// Used by `checkpointd --check-config` and the client-certificate expiry metric.
public enum CertificateValidity {
    public static func notAfter(pemFile path: String) throws(AdapterError) -> Date {
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw AdapterError(.unsupported, "\(path) holds no PEM certificate that can be read", cause: .text("\(error)"))
        }
        guard let first = certificates.min(by: { $0.notValidAfter < $1.notValidAfter }) else {
            throw AdapterError(.unsupported, "\(path) holds no certificate")
        }
        return Date(timeIntervalSince1970: TimeInterval(first.notValidAfter))
    }
}

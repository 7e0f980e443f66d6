import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore

/// The receiver's TLS settings: a server certificate, optionally client certificates checked against a CA.
/// TLS 1.2 is the oldest version accepted.
public struct ReceiverTLS: Sendable {
    public var certificateChain: String
    public var privateKey: String
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    public var clientCA: String?

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
    }

    public func configuration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChain)
            key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
        } catch {
            throw ReceiverError(.tls, "cannot read the server certificate \(certificateChain) or key \(privateKey)", cause: error)
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCA {
            guard FileManager.default.isReadableFile(atPath: clientCA) else {
                throw ReceiverError(.tls, "client CA \(clientCA) is not readable")
            }
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .file(clientCA)
        }
        return tls
    }
}

/// Listens for kiosks: plain HTTP (loopback only) or HTTPS, and runs until SIGTERM/SIGINT.
public enum ReceiverServer {
    /// Whether `host` is a loopback address; plain HTTP is only allowed there.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public static func application(
        router: Router<ReceiverContext>, host: String, port: Int, tls: ReceiverTLS?, idleTimeout: Duration = .seconds(60), logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<ReceiverContext>> {
        // A connection that sends nothing for this long is closed: a stalled or hostile client holds no socket.
        let idle = TimeAmount.seconds(max(1, idleTimeout.components.seconds))
        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "checkpoint-receiver")
        let announce: @Sendable (any Channel) async -> Void = { channel in await onRunning(channel.localAddress?.port ?? 0) }
        if let tls {
            return Application(router: router, server: try .tls(.http1(configuration: .init(idleTimeout: idle)), tlsConfiguration: try tls.configuration()),
                               configuration: configuration, onServerRunning: announce, logger: logger)
        }
        guard isLoopback(host) else {
            throw ReceiverError(.configuration, "plain HTTP is only served on loopback; give --tls-cert and --tls-key to listen on \(host)")
        }
        return Application(router: router, server: .http1(configuration: .init(idleTimeout: idle)), configuration: configuration, onServerRunning: announce, logger: logger)
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CCurl
import CheckpointCore
import Foundation
import Synchronization

/// Endpoint, identity and limits for uploads.
public struct UploadConfiguration: Sendable, Equatable {
    /// `https://…/v1/records`. `http://` is refused unless `allowInsecureHTTP` is set.
    public var endpoint: String
    /// PEM bundle of the CA(s) trusted for the server, and then the only trust: libcurl's CA directory (Debian's
    /// /etc/ssl/certs, every public CA) is switched off. nil = the system store.
    public var caFile: String?
    /// Public-key pins, `sha256//BASE64[;sha256//…]` (CURLOPT_PINNEDPUBLICKEY), checked on top of the CA.
    public var pinnedPublicKey: String?
    /// Client certificate (PEM) and key for mutual TLS.
    public var clientCertificate: String?
    public var clientKey: String?
    /// Allows a plain `http://` endpoint (local testing only). TLS verification itself is never disabled.
    public var allowInsecureHTTP: Bool
    public var connectTimeout: Duration
    /// Abort if slower than `lowSpeedBytesPerSecond` for `lowSpeedTime`.
    public var lowSpeedBytesPerSecond: Int
    public var lowSpeedTime: Duration
    public var totalTimeout: Duration
    public var userAgent: String

    public init(endpoint: String, caFile: String? = nil, pinnedPublicKey: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
                allowInsecureHTTP: Bool = false, connectTimeout: Duration = .seconds(10), lowSpeedBytesPerSecond: Int = 100,
                lowSpeedTime: Duration = .seconds(20), totalTimeout: Duration = .seconds(120),
                userAgent: String = "checkpointd/\(CheckpointVersion.string)") {
        self.endpoint = endpoint
        self.caFile = caFile
        self.pinnedPublicKey = pinnedPublicKey
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.allowInsecureHTTP = allowInsecureHTTP
        self.connectTimeout = connectTimeout
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
        self.lowSpeedTime = lowSpeedTime
        self.totalTimeout = totalTimeout
        self.userAgent = userAgent
    }
}

/// Process-wide libcurl setup: `curl_global_init` once, and SIGPIPE ignored (NOSIGNAL makes that our job).
public enum CurlGlobal {
    private static let once: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    /// Call at startup, before threads exist. Safe to call more than once.
    @discardableResult
    public static func initialize() -> Bool { once }
}

/// One long-lived curl easy handle on its own dedicated thread: connections (and TLS sessions) are reused
/// between uploads. Every `curl_easy_perform` runs on that thread, never on Swift's cooperative pool.
public final class CurlUploader: Sendable {
    /// The settings in force; `reconfigure` replaces them (a reload) for the next transfer.
    public var configuration: UploadConfiguration { configurationBox.withLock { $0 } }
    private let configurationBox: Mutex<UploadConfiguration>
    let thread: DedicatedThread
    let state: Mutex<Handle?>
    let shuttingDown: ShutdownFlag

    /// The C handle and the buffers that must outlive it.
    final class Handle: @unchecked Sendable {
        let curl: UnsafeMutableRawPointer
        /// The settings the handle was made with; a reconfigured uploader makes a new handle.
        let configuration: UploadConfiguration
        /// CURLOPT_ERRORBUFFER: libcurl writes into it during every transfer, so it lives exactly as long as the handle
        /// (an array's buffer pointer is only valid inside `withUnsafeMutableBufferPointer`).
        let errorBuffer: UnsafeMutablePointer<CChar>
        init(curl: UnsafeMutableRawPointer, configuration: UploadConfiguration) {
            self.curl = curl
            self.configuration = configuration
            errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
            errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        }
        deinit {
            curl_easy_cleanup(curl)
            errorBuffer.deallocate()
        }
    }

    /// Shared with the progress callback through an unmanaged pointer.
    final class ShutdownFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// Collects the response for one transfer (parsing in `UploadResponse`, core).
    final class Response {
        var parsed = UploadResponse()
    }

    public init(configuration: UploadConfiguration) throws {
        CurlGlobal.initialize()
        try Self.validate(configuration)
        self.configurationBox = Mutex(configuration)
        self.thread = DedicatedThread(name: "ckpt.upload")
        self.state = Mutex(nil)
        self.shuttingDown = ShutdownFlag()
    }

    /// Checks an endpoint and its TLS files before they are used: https:// only (unless plain http is allowed
    /// for testing), readable CA and client files, and a client certificate only together with its key.
    public static func validate(_ configuration: UploadConfiguration) throws {
        if let problem = UploadEndpoint.problem(configuration.endpoint, allowInsecureHTTP: configuration.allowInsecureHTTP) {
            throw AdapterError(.transfer, problem)
        }
        for (what, file) in [("CA file", configuration.caFile), ("client certificate", configuration.clientCertificate),
                             ("client key", configuration.clientKey)] {
            if let file, access(file, R_OK) != 0 {
                throw AdapterError.posix(.open, "\(what) \(file) is not readable")
            }
        }
        if let p = UploadEndpoint.clientPairProblem(certificate: configuration.clientCertificate != nil, key: configuration.clientKey != nil) {
            throw AdapterError(.transfer, "\(p.missing) \(p.message)")
        }
    }

    /// Replaces endpoint, TLS files and limits (a reload). The next transfer uses a new handle, so a changed
    /// CA or client certificate is read again; a transfer in flight finishes with the old settings.
    public func reconfigure(_ configuration: UploadConfiguration) throws {
        try Self.validate(configuration)
        configurationBox.withLock { $0 = configuration }
    }

    deinit { thread.stop() }

    /// Aborts a running transfer (through the progress callback) and makes later ones fail fast.
    public func shutdown() {
        shuttingDown.value.store(true, ordering: .relaxed)
    }

    /// Uploads one record: `multipart/form-data` with a `record` part (JSON) and, if present, a `face` part
    /// (image/jpeg), and the `Idempotency-Key` header. Never throws for network or HTTP problems: those come back
    /// as an `UploadOutcome` for the retry policy.
    public func upload(id: UUID, json: Data, face: Data?) async -> UploadOutcome {
        let flag = shuttingDown
        do {
            return try await thread.run { [self] in
                if flag.value.load(ordering: .relaxed) { return .transport(.aborted, detail: "shutting down") }
                let config = self.configuration
                let handle: Handle
                do {
                    handle = try self.state.withLock { h in
                        if let h, h.configuration == config { return h }
                        let made = try Self.makeHandle(config, flag: flag)
                        h = made
                        return made
                    }
                } catch {
                    return .transport(.local, detail: "\(error)")
                }
                return Self.perform(handle, config: config, id: id, json: json, face: face)
            }
        } catch {
            return .transport(.local, detail: "\(error)")
        }
    }

    private static func check(_ code: CURLcode, _ what: String) throws {
        if code != CURLE_OK {
            throw AdapterError(.transfer, "curl option \(what) rejected", cause: .curl(code: Int32(code.rawValue), text: String(cString: curl_easy_strerror(code))))
        }
    }

    static func makeHandle(_ c: UploadConfiguration, flag: ShutdownFlag) throws -> Handle {
        guard let curl = curl_easy_init() else { throw AdapterError(.transfer, "curl_easy_init failed") }
        let h = Handle(curl: curl, configuration: c)
        try check(ccurl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, h.errorBuffer), "ERRORBUFFER")
        try check(ccurl_setopt_long(curl, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(ccurl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, c.allowInsecureHTTP ? "http,https" : "https"), "PROTOCOLS_STR")
        try check(ccurl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 1), "SSL_VERIFYPEER")
        try check(ccurl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 2), "SSL_VERIFYHOST")
        if let ca = c.caFile {
            // The file is the whole trust: without clearing CAPATH, Debian's libcurl also trusts every CA in
            // /etc/ssl/certs, so any public CA could vouch for the province's host name.
            try check(ccurl_setopt_string(curl, CURLOPT_CAINFO, ca), "CAINFO")
            try check(ccurl_setopt_string(curl, CURLOPT_CAPATH, nil), "CAPATH")
        }
        if let pins = c.pinnedPublicKey { try check(ccurl_setopt_string(curl, CURLOPT_PINNEDPUBLICKEY, pins), "PINNEDPUBLICKEY") }
        if let cert = c.clientCertificate { try check(ccurl_setopt_string(curl, CURLOPT_SSLCERT, cert), "SSLCERT") }
        if let key = c.clientKey { try check(ccurl_setopt_string(curl, CURLOPT_SSLKEY, key), "SSLKEY") }
        try check(ccurl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(c.connectTimeout.uplinkMilliseconds)), "CONNECTTIMEOUT_MS")
        try check(ccurl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(c.totalTimeout.uplinkMilliseconds)), "TIMEOUT_MS")
        try check(ccurl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, c.lowSpeedBytesPerSecond), "LOW_SPEED_LIMIT")
        try check(ccurl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, Int(c.lowSpeedTime.components.seconds))), "LOW_SPEED_TIME")
        try check(ccurl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0), "FOLLOWLOCATION")
        try check(ccurl_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1), "TCP_KEEPALIVE")
        try check(ccurl_setopt_string(curl, CURLOPT_USERAGENT, c.userAgent), "USERAGENT")
        try check(ccurl_setopt_string(curl, CURLOPT_URL, c.endpoint), "URL")
        try check(ccurl_setopt_long(curl, CURLOPT_NOPROGRESS, 0), "NOPROGRESS")
        try check(ccurl_setopt_xferinfo_callback(curl, { userdata, _, _, _, _ in
            guard let userdata else { return 0 }
            let flag = Unmanaged<ShutdownFlag>.fromOpaque(userdata).takeUnretainedValue()
            return flag.value.load(ordering: .relaxed) ? 1 : 0
        }), "XFERINFOFUNCTION")
        // The flag outlives the handle: the uploader owns both.
        try check(ccurl_setopt_pointer(curl, CURLOPT_XFERINFODATA, Unmanaged.passUnretained(flag).toOpaque()), "XFERINFODATA")
        try check(ccurl_setopt_write_callback(curl, { ptr, size, n, userdata in
            let total = size * n
            guard let ptr, let userdata else { return total }
            let r = Unmanaged<Response>.fromOpaque(userdata).takeUnretainedValue()
            r.parsed.bodyChunk(UnsafeRawBufferPointer(start: ptr, count: total))
            return total
        }), "WRITEFUNCTION")
        try check(ccurl_setopt_header_callback(curl, { ptr, size, n, userdata in
            let total = size * n
            guard let ptr, let userdata else { return total }
            let r = Unmanaged<Response>.fromOpaque(userdata).takeUnretainedValue()
            r.parsed.headerLine(UnsafeRawBufferPointer(start: ptr, count: total))
            return total
        }), "HEADERFUNCTION")
        return h
    }

    private static func perform(_ h: Handle, config: UploadConfiguration, id: UUID, json: Data, face: Data?) -> UploadOutcome {
        let curl = h.curl
        let response = Response()
        let token = Unmanaged.passRetained(response)
        defer { token.release() }
        _ = ccurl_setopt_pointer(curl, CURLOPT_WRITEDATA, token.toOpaque())
        _ = ccurl_setopt_pointer(curl, CURLOPT_HEADERDATA, token.toOpaque())

        guard let mime = curl_mime_init(curl) else { return .transport(.local, detail: "curl_mime_init failed") }
        defer { curl_mime_free(mime) }
        let recordPart = curl_mime_addpart(mime)
        curl_mime_name(recordPart, "record")
        json.withUnsafeBytes { buf in
            _ = curl_mime_data(recordPart, buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count)
        }
        curl_mime_type(recordPart, "application/json")
        if let face {
            let facePart = curl_mime_addpart(mime)
            curl_mime_name(facePart, "face")
            face.withUnsafeBytes { buf in
                _ = curl_mime_data(facePart, buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count)
            }
            curl_mime_filename(facePart, "face.jpg")
            curl_mime_type(facePart, "image/jpeg")
        }
        _ = ccurl_setopt_mime(curl, mime)

        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Idempotency-Key: \(id.uuidString.lowercased())")
        headers = curl_slist_append(headers, "Expect:")
        headers = curl_slist_append(headers, "Accept: application/json")
        defer { curl_slist_free_all(headers) }
        _ = ccurl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers)
        h.errorBuffer[0] = 0

        let code = curl_easy_perform(curl)
        // Detach per-transfer pointers before they go away.
        _ = ccurl_setopt_mime(curl, nil)
        _ = ccurl_setopt_slist(curl, CURLOPT_HTTPHEADER, nil)

        if code == CURLE_OK {
            var status = 0
            _ = ccurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
            return response.parsed.outcome(status: status, recordID: id)
        }
        h.errorBuffer[Int(CURL_ERROR_SIZE)] = 0
        let text = String(cString: h.errorBuffer)
        let detail = text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
        return .transport(classify(code), detail: "CURLcode \(code.rawValue): \(detail)")
    }

    static func classify(_ code: CURLcode) -> TransportFailure {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .connect
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM: return .broken
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_PINNEDPUBKEYNOTMATCH: return .tlsVerification
        case CURLE_SSL_CONNECT_ERROR: return .tls
        case CURLE_ABORTED_BY_CALLBACK: return .aborted
        case CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_OUT_OF_MEMORY,
             CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_FAILED_INIT:
            return .local
        default: return .broken
        }
    }
}

extension Duration {
    var uplinkMilliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}

extension UploadConfiguration {
    /// The transfer the daemon's `[upload]` table describes; the daemon and `checkpointctl queue drain` both build it
    /// here, so a technician's drain uses exactly the daemon's endpoint and TLS settings.
    public init(_ u: CheckpointConfig.Upload) {
        self.init(endpoint: u.endpoint, caFile: u.caFile, pinnedPublicKey: u.pinnedPublicKey, clientCertificate: u.clientCert, clientKey: u.clientKey,
                  allowInsecureHTTP: u.allowInsecureHTTP, connectTimeout: .seconds(u.connectTimeoutSeconds),
                  lowSpeedBytesPerSecond: u.lowSpeedLimitBytesPerSecond, lowSpeedTime: .seconds(u.lowSpeedTimeSeconds),
                  totalTimeout: .seconds(u.totalTimeoutSeconds))
    }
}

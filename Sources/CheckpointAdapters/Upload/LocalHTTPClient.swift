import CCurl
import Foundation

/// A tiny blocking HTTP client over a Unix socket (or loopback TCP), for `checkpointctl status` and tests.
/// Uses libcurl's CURLOPT_UNIX_SOCKET_PATH; call from a thread that may block.
public enum LocalHTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    final class Sink {
        var body = Data()
    }

    /// Performs one request. `url` is e.g. `http://localhost/healthz`; with `socketPath` the connection goes to that socket.
    public static func request(method: String = "GET", url: String, socketPath: String?, body: Data? = nil,
                               contentType: String = "application/json", headers extraHeaders: [String] = [],
                               timeout: Duration = .seconds(10)) throws -> Response {
        CurlGlobal.initialize()
        guard let curl = curl_easy_init() else { throw AdapterError(.transfer, "curl_easy_init failed") }
        defer { curl_easy_cleanup(curl) }
        let sink = Sink()
        let token = Unmanaged.passRetained(sink)
        defer { token.release() }
        _ = ccurl_setopt_string(curl, CURLOPT_URL, url)
        if let socketPath { _ = ccurl_setopt_string(curl, CURLOPT_UNIX_SOCKET_PATH, socketPath) }
        _ = ccurl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000))
        _ = ccurl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, method)
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        let payload = body ?? Data()
        for header in extraHeaders { headers = curl_slist_append(headers, header) }
        if body != nil {
            headers = curl_slist_append(headers, "Content-Type: \(contentType)")
            headers = curl_slist_append(headers, "Expect:")
            _ = ccurl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, payload.count)
        }
        if headers != nil { _ = ccurl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers) }
        _ = ccurl_setopt_pointer(curl, CURLOPT_WRITEDATA, token.toOpaque())
        _ = ccurl_setopt_write_callback(curl, { ptr, size, n, userdata in
            let total = size * n
            guard let ptr, let userdata else { return total }
            Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue().body
                .append(UnsafeRawPointer(ptr).assumingMemoryBound(to: UInt8.self), count: total)
            return total
        })
        let code: CURLcode = payload.withUnsafeBytes { buf in
            if body != nil { _ = ccurl_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) }
            return curl_easy_perform(curl)
        }
        guard code == CURLE_OK else {
            throw AdapterError(.transfer, "request to \(socketPath ?? url) failed",
                               cause: .curl(code: Int32(code.rawValue), text: String(cString: curl_easy_strerror(code))))
        }
        var status = 0
        _ = ccurl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, body: sink.body)
    }
}

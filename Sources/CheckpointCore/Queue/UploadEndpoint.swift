import Foundation

/// The rule for where declarations may be sent, in one place for the config check and the uploader.
///
/// Health data leaves the kiosk only over verified TLS. Plain `http://` exists for demos and tests on this machine,
/// so it is allowed only when explicitly asked for *and* only to a loopback host: a mistyped or copied config can
/// never send declarations unencrypted across a network.
public enum UploadEndpoint {
    /// Mutual TLS needs the client certificate and its key together: the missing one's config key
    /// ("client_cert" or "client_key") and why, or nil. The one statement of the rule, for the config file
    /// (ConfigLoader) and for settings given any other way (CurlUploader: checkpointctl's options, a reload).
    public static func clientPairProblem(certificate: Bool, key: Bool) -> (missing: String, message: String)? {
        guard certificate != key else { return nil }
        return (certificate ? "client_key" : "client_cert", "missing; client_cert and client_key go together (mutual TLS needs both)")
    }

    /// Why `endpoint` may not be used (nil when it may).
    public static func problem(_ endpoint: String, allowInsecureHTTP: Bool) -> String? {
        guard let c = URLComponents(string: endpoint), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty else {
            return "endpoint \(endpoint) is not an absolute URL"
        }
        switch scheme {
        case "https":
            return nil
        case "http":
            guard allowInsecureHTTP else {
                return "endpoint \(endpoint) is plain http://, which sends health data unencrypted; refused unless insecure http is allowed (allow_insecure_http = true; checkpointctl: --allow-insecure-http)"
            }
            guard isLoopback(host) else {
                return "endpoint \(endpoint) is plain http:// to \(host); allow_insecure_http only allows loopback hosts (127.0.0.0/8, ::1, localhost)"
            }
            return nil
        default:
            return "endpoint \(endpoint) must start with https://"
        }
    }

    /// 127.0.0.0/8, ::1 and localhost (names that resolve elsewhere are not loopback, whatever they are called).
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && UInt8($0) != nil }) else {
            return false
        }
        return octets[0] == "127"
    }
}

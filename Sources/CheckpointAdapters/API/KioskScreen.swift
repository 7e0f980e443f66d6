#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Headers on every response: the kiosk page may load only its own scripts, styles, images and fonts, talk only to
/// this daemon, and never be framed; no MIME sniffing; no referrer.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            + "media-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// The TCP listener answers only requests addressed to 127.0.0.1:<port> or localhost:<port>, and from pages of that
/// origin: a web page elsewhere that rebinds its DNS name to 127.0.0.1 gets 403.
struct LoopbackGuard<Context: RequestContext>: RouterMiddleware {
    let hosts: Set<String>
    let origins: Set<String>

    init(port: Int) {
        hosts = ["127.0.0.1:\(port)", "localhost:\(port)"]
        origins = ["http://127.0.0.1:\(port)", "http://localhost:\(port)"]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!]
        guard let host, hosts.contains(host.lowercased()) else {
            return DeclarationAPI.problem(.forbidden, "requests must be addressed to 127.0.0.1 or localhost on this port", field: nil,
                                          code: "forbidden-host")
        }
        if let origin = request.headers[.origin], !origins.contains(origin.lowercased()) {
            return DeclarationAPI.problem(.forbidden, "cross-origin requests are refused", field: nil, code: "forbidden-origin")
        }
        return try await next(request, context)
    }
}

/// The kiosk screen's static files (`[ui] dir`): regular files under the directory only — no `..`, no symlink
/// leading outside, no directory listings. Read on their own thread, never on the cooperative pool.
public final class StaticFiles: Sendable {
    public let root: String
    private let thread = DedicatedThread(name: "ckpt.ui")

    public init(root: String) {
        self.root = root
    }

    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8", "json": "application/json", "svg": "image/svg+xml", "png": "image/png",
        "woff2": "font/woff2", "ico": "image/x-icon", "jpg": "image/jpeg", "webp": "image/webp", "txt": "text/plain; charset=utf-8",
    ]

    static func contentType(for path: String) -> String {
        let ext = (path as NSString).pathExtension.lowercased()
        return contentTypes[ext] ?? "application/octet-stream"
    }

    enum Lookup: Sendable, Equatable {
        case file(Data)
        case notFound
    }

    /// The file at `relative` (URL path below /ui/) if it is a regular file inside the root.
    static func read(root: String, relative: String) -> Lookup {
        let segments = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.isEmpty, segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") && !$0.contains("\\") })
        else { return .notFound }
        guard let realRoot = realPath(root), let real = realPath(root + "/" + relative) else { return .notFound }
        guard real.hasPrefix(realRoot.hasSuffix("/") ? realRoot : realRoot + "/") else { return .notFound }
        var st = stat()
        guard stat(real, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return .notFound }
        guard let data = FileManager.default.contents(atPath: real) else { return .notFound }
        return .file(data)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func response(for relative: String) async -> Response {
        let root = root
        let lookup = (try? await thread.run { Self.read(root: root, relative: relative) }) ?? .notFound
        switch lookup {
        case .file(let data):
            return Response(status: .ok, headers: [.contentType: Self.contentType(for: relative), .cacheControl: "no-cache"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        case .notFound:
            return DeclarationAPI.problem(.notFound, "no such file", field: nil)
        }
    }
}

import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// A Server-Sent Events response (the kiosk screen's streams): an optional first event, one event per element of
/// `source`, and a `: keepalive` comment every `keepalive`. Each client reads from its own bounded buffer (newest
/// wins), so a slow client never holds its producer up; the stream ends when the client goes (the next write fails),
/// the source ends, or the daemon shuts down, and `source`'s iteration is cancelled then.
enum ServerSentEvents {
    static func response<Element: Sendable>(first: ByteBuffer? = nil, source: @escaping @Sendable () async -> AsyncStream<Element>,
                                            buffering: Int, keepalive: Duration,
                                            render: @escaping @Sendable (Element) -> ByteBuffer) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let elements = await source()
                let (events, output) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(buffering))
                if let first { output.yield(first) }
                let forward = Task {
                    for await element in elements { output.yield(render(element)) }
                    output.finish()
                }
                let beat = Task {
                    while true {
                        do { try await Task.sleep(for: keepalive) } catch { return }
                        output.yield(ByteBuffer(string: ": keepalive\n\n"))
                    }
                }
                defer {
                    forward.cancel()
                    beat.cancel()
                    output.finish()
                }
                try await withGracefulShutdownHandler {
                    for await buffer in events { try await writer.write(buffer) }
                } onGracefulShutdown: {
                    output.finish()
                }
                try await writer.finish(nil)
            })
    }

    /// One event: `event: NAME`, an optional `id:`, and its JSON on one line (JSONEncoder writes no newlines
    /// without `.prettyPrinted`).
    static func event(_ name: String, id: String? = nil, json: Data) -> ByteBuffer {
        var buffer = ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}

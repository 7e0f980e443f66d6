import CheckpointCore
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// GET /v1/screening/events: the screening view as Server-Sent Events.
///
/// On connect the current view at once, then one event per change
/// (`id: <seq>\nevent: screening\ndata: <one-line JSON>\n\n`), and a `: keepalive` comment when idle.
/// Each client reads from its own bounded buffer (newest wins), so a slow screen never holds the hub up;
/// the subscription ends when the client goes (the next write fails) or the daemon shuts down.
enum ScreeningEvents {
    static func response(screening: any ScreeningProvider, keepalive: Duration) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let views = await screening.views()
                let (events, output) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(16))
                let forward = Task {
                    for await view in views { output.yield(event(view)) }
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

    /// One SSE event; JSONEncoder writes no newlines without `.prettyPrinted`, so `data:` is one line.
    static func event(_ view: ScreeningView) -> ByteBuffer {
        let json = (try? QueueRecord.encoder.encode(view)) ?? Data("{}".utf8)
        var buffer = ByteBuffer(string: "id: \(view.seq)\nevent: screening\ndata: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}

import CheckpointCore
import Foundation
import Hummingbird
import NIOCore

/// GET /v1/screening/events: the screening view as Server-Sent Events.
///
/// On connect the current view at once, then one event per change
/// (`id: <seq>\nevent: screening\ndata: <one-line JSON>\n\n`), and a `: keepalive` comment when idle.
/// The subscription ends when the client goes or the daemon shuts down (see `ServerSentEvents`).
enum ScreeningEvents {
    static func response(screening: any ScreeningProvider, keepalive: Duration) -> Response {
        ServerSentEvents.response(source: { await screening.views() }, buffering: 16, keepalive: keepalive, render: event)
    }

    static func event(_ view: ScreeningView) -> ByteBuffer {
        ServerSentEvents.event("screening", id: "\(view.seq)", json: (try? QueueRecord.encoder.encode(view)) ?? Data("{}".utf8))
    }
}

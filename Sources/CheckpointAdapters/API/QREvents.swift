import CheckpointCore
import Foundation
import Hummingbird
import NIOCore

/// GET /v1/qr/events: health QR codes read from the camera, as Server-Sent Events, for the declaration step.
///
/// While at least one stream is open the `QRScanner` decodes the camera's newest frames; when the last one closes it
/// stops. On connect `event: scanning` (an empty object), then one `event: qr` per outcome
/// (`HealthQRScanOutcome.eventBody`: a read code's declaration prefill, or a refusal's code), and a `: keepalive`
/// comment every `keepalive` — short, so that a page that went away is noticed (its next write fails) and decoding
/// stops soon after. Nothing here is logged or stored.
enum QREvents {
    static func response(scanner: QRScanner, keepalive: Duration) -> Response? {
        guard let outcomes = scanner.subscribe() else { return nil }
        // Ending the stream cancels the iteration of `outcomes`, which ends the subscription: decoding stops with the
        // last stream.
        return ServerSentEvents.response(first: ByteBuffer(string: "retry: 2000\nevent: scanning\ndata: {}\n\n"), source: { outcomes },
                                         buffering: 8, keepalive: keepalive, render: event)
    }

    /// One SSE event, its JSON on one line.
    static func event(_ outcome: HealthQRScanOutcome) -> ByteBuffer {
        ServerSentEvents.event("qr", json: (try? QueueRecord.encoder.encode(JSONValue.object(outcome.eventBody))) ?? Data("{}".utf8))
    }
}

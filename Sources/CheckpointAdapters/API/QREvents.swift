import CheckpointCore
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

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
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let (events, output) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(8))
                output.yield(ByteBuffer(string: "retry: 2000\nevent: scanning\ndata: {}\n\n"))
                let forward = Task {
                    for await outcome in outcomes { output.yield(event(outcome)) }
                    output.finish()
                }
                let beat = Task {
                    while true {
                        do { try await Task.sleep(for: keepalive) } catch { return }
                        output.yield(ByteBuffer(string: ": keepalive\n\n"))
                    }
                }
                defer {
                    // Cancelling the forwarding task ends the subscription, which stops decoding with the last stream.
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

    /// One SSE event, its JSON on one line.
    static func event(_ outcome: HealthQRScanOutcome) -> ByteBuffer {
        let json = (try? QueueRecord.encoder.encode(JSONValue.object(outcome.eventBody))) ?? Data("{}".utf8)
        var buffer = ByteBuffer(string: "event: qr\ndata: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}

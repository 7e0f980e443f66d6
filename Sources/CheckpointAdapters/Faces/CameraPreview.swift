import CheckpointCore
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// The kiosk's live camera mirror: the newest camera frame with its face boxes, mirrored, scaled down and
/// JPEG-encoded on its own thread for GET /v1/camera/preview.mjpeg and preview.jpg.
///
/// Nothing is kept but the newest frame, in memory, while someone watches: the vision stage hands frames over
/// only when `isWatched`, and nothing is encoded when nobody is. Never recorded or stored.
public final class CameraPreview: Sendable {
    public struct Options: Sendable {
        public var maxFPS: Int
        public var maxWidth: Int
        public var maxClients: Int
        public var jpegQuality: Int
        public init(maxFPS: Int = 5, maxWidth: Int = 480, maxClients: Int = 4, jpegQuality: Int = 70) {
            self.maxFPS = max(1, maxFPS)
            self.maxWidth = maxWidth
            self.maxClients = maxClients
            self.jpegQuality = jpegQuality
        }
    }

    private struct State {
        var latest: (frame: Frame, boxes: [PreviewBox])?
        /// Bumped for every frame handed over.
        var generation: UInt64 = 0
        var encoded: (generation: UInt64, jpeg: Data)?
        /// When the latest encode started: none starts sooner than 1/maxFPS after it, however often clients ask.
        var lastEncodeAt: ContinuousClock.Instant?
        var encoding = false
        var streams = 0
        var stills = 0
    }

    public let options: Options
    private let state = Mutex(State())
    private let thread = DedicatedThread(name: "ckpt.preview")

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Whether anyone watches; when not, the vision stage does not hand frames over.
    public var isWatched: Bool { state.withLock { $0.streams > 0 || $0.stills > 0 } }

    /// Preview streams open now.
    public var streams: Int { state.withLock { $0.streams } }

    /// JPEGs encoded since start (tests check nothing is encoded while nobody watches).
    public var encodedCount: Int { encodeCounter.load(ordering: .relaxed) }
    private let encodeCounter = Atomic<Int>(0)

    /// The vision stage's newest frame and its faces. Cheap: the frame's pixels are shared, not copied.
    public func offer(_ frame: Frame, boxes: [PreviewBox]) {
        state.withLock { s in
            guard s.streams > 0 || s.stills > 0 else {
                s.latest = nil
                s.encoded = nil
                return
            }
            s.latest = (frame, boxes)
            s.generation &+= 1
        }
    }

    /// The newest frame as a JPEG (encoded once per frame, shared by all viewers), with its generation.
    /// At most `maxFPS` encodes per second, whoever asks (streams or a client polling preview.jpg): within
    /// 1/maxFPS of the last encode, or while one is running, the last JPEG (if still kept) is the answer.
    func currentJPEG() async -> (generation: UInt64, jpeg: Data)? {
        let period = Duration.nanoseconds(1_000_000_000 / Int64(options.maxFPS))
        let job: (generation: UInt64, frame: Frame, boxes: [PreviewBox])? = state.withLock { s in
            if let e = s.encoded, e.generation == s.generation { return nil }
            guard let latest = s.latest else { return nil }
            // Also when the last JPEG was dropped (nobody watched for a moment): a client polling preview.jpg makes
            // its viewer count drop to zero between requests, and must not get an encode per request for it.
            let now = ContinuousClock.now
            if s.encoding || s.lastEncodeAt.map({ now - $0 < period }) == true { return nil }
            s.encoding = true
            s.lastEncodeAt = now
            return (s.generation, latest.frame, latest.boxes)
        }
        if let job {
            let options = options
            let jpeg = try? await thread.run { () -> Data in
                let preview = PreviewRendering.render(job.frame, boxes: job.boxes, maxWidth: options.maxWidth)
                let bytes = try ImageCodec.encode(preview.pixels, width: preview.width, height: preview.height,
                                                  channels: preview.layout.bytesPerPixel, quality: options.jpegQuality)
                return Data(bytes)
            }
            if let jpeg { encodeCounter.add(1, ordering: .relaxed) }
            state.withLock { s in
                s.encoding = false
                if let jpeg, (s.encoded?.generation ?? 0) < job.generation { s.encoded = (job.generation, jpeg) }
            }
        }
        return state.withLock { $0.encoded }
    }

    /// Holds one of the limited stream slots while its response lives.
    final class Slot: Sendable {
        let preview: CameraPreview
        init(_ preview: CameraPreview) { self.preview = preview }
        deinit { preview.state.withLock { $0.streams -= 1 } }
    }

    /// GET /v1/camera/preview.mjpeg, or nil when `maxClients` streams are open already (503).
    func mjpegResponse() -> Response? {
        let taken = state.withLock { s -> Bool in
            guard s.streams < options.maxClients else { return false }
            s.streams += 1
            return true
        }
        guard taken else { return nil }
        let slot = Slot(self)
        let period = Duration.nanoseconds(1_000_000_000 / Int64(options.maxFPS))
        return Response(
            status: .ok,
            headers: [.contentType: "multipart/x-mixed-replace; boundary=frame", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let preview = slot.preview
                var sent: UInt64 = 0
                let clock = ContinuousClock()
                var next = clock.now
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    if let current = await preview.currentJPEG(), current.generation != sent {
                        sent = current.generation
                        var part = ByteBuffer(string: "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: \(current.jpeg.count)\r\n\r\n")
                        part.writeBytes(current.jpeg)
                        part.writeString("\r\n")
                        try await writer.write(part)
                    }
                    next = next.advanced(by: period)
                    if next < clock.now { next = clock.now }
                    try await Task.sleep(until: next, clock: clock)
                }
                withExtendedLifetime(slot) {}
                try await writer.finish(nil)
            })
    }

    /// GET /v1/camera/preview.jpg: the next frame (waiting up to 2 s for one), or nil when none came.
    func jpegResponse() async -> Response? {
        state.withLock { $0.stills += 1 }
        defer { state.withLock { $0.stills -= 1 } }
        let start = state.withLock { $0.generation }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.generation }) != start, let current = await currentJPEG() {
                return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "no-store"],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: current.jpeg)))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

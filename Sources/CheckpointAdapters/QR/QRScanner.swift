import CheckpointCore
import Foundation
import Logging
import Prometheus
import Synchronization

/// Reads health QR codes from the camera frames the vision stage already has, while the kiosk screen asks for it
/// (the declaration step keeps `GET /v1/qr/events` open).
///
/// - Only while someone subscribes (`isActive`): the vision stage hands frames over only then, and nothing is decoded
///   otherwise.
/// - Newest frame only: a frame offered while the decoder is busy replaces the one waiting; stale frames are dropped,
///   never queued. Face detection never waits for it (`offer` only swaps a reference under a lock).
/// - On its own thread (`ckpt.qr`), never on the cooperative pool, with one `QRDecoder` owned by that thread.
/// - Outcomes (`HealthQRScanOutcome`) go to the subscribers; the same outcome repeated while the code stays in view is
///   sent once per `repeatInterval`.
///
/// Privacy: the decoded text, the parsed fields and the frame are never logged, stored or counted; they live in
/// memory until handed to the subscribers (and the last outcome, for the repeat check, until the last one leaves).
/// Metrics count frames, reads by kind and refusals by code.
public final class QRScanner: Sendable {
    public struct Options: Sendable {
        /// Streams open at once; more are refused.
        public var maxSubscribers: Int
        /// The same outcome is sent again at most this often while the code stays in view.
        public var repeatInterval: Duration
        public init(maxSubscribers: Int = 4, repeatInterval: Duration = .seconds(2)) {
            self.maxSubscribers = maxSubscribers
            self.repeatInterval = repeatInterval
        }
    }

    /// The decoding step, run on the scanner's thread: the texts of the codes in a frame (nil = not UTF-8).
    typealias Decode = @Sendable (Frame) throws -> [String?]

    private struct State {
        var subscribers: [UInt64: AsyncStream<HealthQRScanOutcome>.Continuation] = [:]
        var nextID: UInt64 = 0
        /// The newest frame not yet decoded.
        var waiting: Frame?
        /// A drain job is queued or running on the thread.
        var draining = false
        var last: (outcome: HealthQRScanOutcome, at: ContinuousClock.Instant)?
    }

    public let options: Options
    private let state = Mutex(State())
    private let thread = DedicatedThread(name: "ckpt.qr")
    private let decode: Decode
    private let logger: Logger
    private let counters: Counters

    /// Frames decoded, and frames dropped because a newer one arrived first (tests and the benchmark read them).
    public var decodedFrames: Int { counters.decoded.load(ordering: .relaxed) }
    public var droppedFrames: Int { counters.dropped.load(ordering: .relaxed) }

    private final class Counters: Sendable {
        let decoded = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        let registry: PrometheusCollectorRegistry
        let scans: Counter
        let frames: Counter
        let stale: Counter
        let errors: Counter
        let seconds: DurationHistogram
        init(registry: PrometheusCollectorRegistry) {
            self.registry = registry
            scans = registry.counter(MetricCatalog.qrScans)
            frames = registry.counter(MetricCatalog.qrFrames)
            stale = registry.counter(MetricCatalog.qrFramesDropped)
            errors = registry.counter(MetricCatalog.qrDecodeErrors)
            seconds = registry.durationHistogram(MetricCatalog.qrDecodeSeconds)
        }
    }

    /// A scanner decoding with ZXing-C++ (`QRDecoder`, created on the scanner's thread at the first frame).
    /// Metrics go on `metrics` (the daemon's `/metrics` registry; by default one nobody serves).
    public convenience init(options: Options = Options(), decoder: QRDecoderConfig = QRDecoderConfig(),
                            logger: Logger = Logger(label: "checkpointd.qr"),
                            metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        let box = DecoderBox(config: decoder)
        self.init(options: options, logger: logger, metrics: metrics) { frame in try box.decode(frame) }
    }

    init(options: Options = Options(), logger: Logger = Logger(label: "checkpointd.qr"),
         metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), decode: @escaping Decode) {
        self.options = options
        self.logger = logger
        self.decode = decode
        self.counters = Counters(registry: metrics)
    }

    /// The decoder, touched only on the scanner's thread (jobs there run one at a time).
    private final class DecoderBox: @unchecked Sendable {
        let config: QRDecoderConfig
        var decoder: QRDecoder?
        init(config: QRDecoderConfig) { self.config = config }
        func decode(_ frame: Frame) throws -> [String?] {
            if decoder == nil { decoder = try QRDecoder(config: config) }
            return try decoder!.decode(frame).map(\.text)
        }
    }

    /// Whether a screen is scanning; when not, the vision stage does not hand frames over.
    public var isActive: Bool { state.withLock { !$0.subscribers.isEmpty } }

    /// Streams open now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The vision stage's newest frame. Cheap: the pixels are shared, not copied; a frame still waiting is replaced.
    public func offer(_ frame: Frame) {
        let start = state.withLock { s -> Bool in
            guard !s.subscribers.isEmpty else { return false }
            if s.waiting != nil { counters.dropped.add(1, ordering: .relaxed); counters.stale.increment() }
            s.waiting = frame
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        if start { thread.enqueue { [self] in drain() } }
    }

    /// The outcomes from now on, until the stream is dropped (or `nil` when `maxSubscribers` streams are open).
    public func subscribe() -> AsyncStream<HealthQRScanOutcome>? {
        let (stream, continuation) = AsyncStream.makeStream(of: HealthQRScanOutcome.self, bufferingPolicy: .bufferingNewest(4))
        let id = state.withLock { s -> UInt64? in
            guard s.subscribers.count < options.maxSubscribers else { return nil }
            if s.subscribers.isEmpty { s.last = nil }
            s.nextID += 1
            s.subscribers[s.nextID] = continuation
            return s.nextID
        }
        guard let id else { return nil }
        counters.scans.increment()
        logger.info("QR scan started", metadata: ["streams": "\(subscriberCount)"])
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return stream
    }

    private func unsubscribe(_ id: UInt64) {
        let left = state.withLock { s -> Int in
            s.subscribers[id] = nil
            if s.subscribers.isEmpty {
                s.waiting = nil
                s.last = nil
            }
            return s.subscribers.count
        }
        logger.info("QR scan ended", metadata: ["streams": "\(left)"])
    }

    /// On the thread: decodes the newest waiting frame until none waits.
    private func drain() {
        while true {
            let frame: Frame? = state.withLock { s in
                defer { s.waiting = nil }
                if s.waiting == nil || s.subscribers.isEmpty { s.draining = false; return nil }
                return s.waiting
            }
            guard let frame else { return }
            let start = ContinuousClock.now
            let texts: [String?]
            do {
                texts = try decode(frame)
            } catch {
                counters.errors.increment()
                // The decoder's messages name sizes and internals, never the content.
                logger.warning("QR decoding failed", metadata: ["error": "\(error)"])
                continue
            }
            counters.seconds.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
            counters.decoded.add(1, ordering: .relaxed)
            counters.frames.increment()
            guard let outcome = HealthQRScanOutcome.of(texts: texts) else { continue }
            publish(outcome)
        }
    }

    private func publish(_ outcome: HealthQRScanOutcome) {
        let now = ContinuousClock.now
        let targets = state.withLock { s -> [AsyncStream<HealthQRScanOutcome>.Continuation] in
            if let last = s.last, last.outcome == outcome, now - last.at < options.repeatInterval { return [] }
            s.last = (outcome, now)
            return Array(s.subscribers.values)
        }
        guard !targets.isEmpty else { return }
        switch outcome {
        case .read: counters.registry.counter(MetricCatalog.qrReads, [("kind", outcome.kind)]).increment()
        case .refused(let r): counters.registry.counter(MetricCatalog.qrRefusals, [("reason", r.code)]).increment()
        }
        // What kind, never what it says.
        logger.info("QR \(outcome.kind)", metadata: outcome.refusalCode.map { ["reason": "\($0)"] } ?? [:])
        for t in targets { t.yield(outcome) }
    }
}

extension HealthQRScanOutcome {
    var refusalCode: String? {
        if case .refused(let r) = self { return r.code }
        return nil
    }
}

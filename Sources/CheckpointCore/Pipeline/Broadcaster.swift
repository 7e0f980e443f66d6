import Synchronization

/// Fans values out to any number of subscribers without ever blocking the publisher: each subscriber has a
/// small buffer that keeps the newest values, so a slow reader skips old ones instead of holding anyone up.
/// A subscriber that stops iterating (or whose task is cancelled) is removed.
public final class Broadcaster<Element: Sendable>: Sendable {
    private let subscribers = Mutex<[UInt64: AsyncStream<Element>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(0)
    /// Values buffered per subscriber before the oldest are dropped.
    public let bufferSize: Int

    public init(bufferSize: Int = 8) {
        self.bufferSize = max(1, bufferSize)
    }

    /// A new subscription that starts with `initial` (if given), then every published value.
    public func subscribe(startingWith initial: Element? = nil) -> AsyncStream<Element> {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(bufferSize))
        if let initial { continuation.yield(initial) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    public func publish(_ value: Element) {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.yield(value) }
    }

    /// Ends every subscription.
    public func finish() {
        let targets = subscribers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for continuation in targets { continuation.finish() }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }
}

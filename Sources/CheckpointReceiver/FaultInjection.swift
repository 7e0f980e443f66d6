import Synchronization

/// Failures injected on purpose, for the uplink fault tests only: `checkpoint-receiver test-stand` builds one;
/// `checkpoint-receiver serve` (production) never does.
public final class FaultInjection: Sendable {
    public let statuses: [Int]
    public let count: Int
    public let rate: Double?
    public let retryAfter: String?
    /// Wait this long before answering each request.
    public let delayMilliseconds: Int
    private let served = Mutex(0)

    public init(statuses: [Int], count: Int, rate: Double?, retryAfter: String?, delayMilliseconds: Int = 0) {
        self.statuses = statuses
        self.count = count
        self.rate = rate
        self.retryAfter = retryAfter
        self.delayMilliseconds = delayMilliseconds
    }

    /// "503,200" → [503, 200]; nil unless every item is an HTTP status (100…599).
    public static func statuses(_ text: String) -> [Int]? {
        let list = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil && (100...599).contains($0!) }) else { return nil }
        return list.map { $0! }
    }

    /// The status to fail this request with, or nil to serve it normally. Without a rate the first `count`
    /// requests fail; with a rate each of the first `count` requests (0 = every request) fails with that probability
    /// (`unit` in 0..<1).
    public func next(unit: Double = Double.random(in: 0..<1)) -> Int? {
        guard let status = statuses.randomElement() else { return nil }
        let n = served.withLock { n in
            n += 1
            return n
        }
        if let rate {
            if count > 0 && n > count { return nil }
            return unit < rate ? status : nil
        }
        return n <= count ? status : nil
    }
}

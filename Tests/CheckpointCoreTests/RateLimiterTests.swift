import Testing
@testable import CheckpointCore

@Suite struct RateLimiterTests {
    @Test func burstThenSuppressThenSummarise() {
        var limiter = RateLimiter(burst: 2, window: 10)
        #expect(limiter.admit(key: "a", now: 0).emit)
        #expect(limiter.admit(key: "a", now: 1).emit)
        #expect(!limiter.admit(key: "a", now: 2).emit)
        #expect(!limiter.admit(key: "a", now: 3).emit)
        #expect(limiter.admit(key: "b", now: 4).emit, "other messages are not limited")
        let next = limiter.admit(key: "a", now: 11)
        #expect(next.emit, "a new window admits again")
        #expect(next.summaries == [.init(key: "a", suppressed: 2)])
    }

    @Test func journaldPriorities() {
        #expect(JournaldLogHandler.priority(of: .error) == 3)
        #expect(JournaldLogHandler.priority(of: .warning) == 4)
        #expect(JournaldLogHandler.priority(of: .info) == 6)
        #expect(JournaldLogHandler.priority(of: .debug) == 7)
    }
}

import Foundation
import Logging
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

    /// A metadata value (an error text, a field name sent by a client) cannot forge a journal line or flood it.
    @Test func logLinesCannotBeForgedOrFlooded() {
        final class Lines: @unchecked Sendable {
            var all: [String] = []
            let lock = NSLock()
        }
        let lines = Lines()
        let sink = JournaldLogHandler.Sink { line in lines.lock.withLock { lines.all.append(line) } }
        var logger = Logger(label: "checkpointd.test") { JournaldLogHandler(label: $0, sink: sink) }
        logger.logLevel = .info
        logger.notice("declaration refused\n<0>checkpointd: forged", metadata: [
            "field": "phone\n<2>checkpointd.api: root password is x", "key\nX": "1", "long": "\(String(repeating: "A", count: 5000))",
        ])
        let written = lines.lock.withLock { lines.all }
        #expect(written.count == 1)
        let line = written[0]
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"), "exactly one journal line")
        #expect(line.hasPrefix("<5>checkpointd.test: declaration refused\\n<0>checkpointd: forged "))
        #expect(line.contains("field=phone\\n<2>checkpointd.api"))
        #expect(line.contains("key\\nX=1"))
        #expect(line.contains("long=" + String(repeating: "A", count: 256) + "…[cut]"))
        #expect(line.count < 2000)
        #expect(JournaldLogHandler.escape("Nguyễn\u{7}\t", limit: 50) == "Nguyễn\\x07\\t")
    }
}

import CheckpointCore
import Foundation

/// The queue for async callers (the daemon's services and API): every method runs on the queue's own thread,
/// never on the cooperative pool (SQLite, statvfs and directory listings block). The synchronous `QueueStore` API
/// stays for `checkpointctl`.
public struct AsyncQueueStore: Sendable {
    /// The synchronous store behind this facade.
    public let store: QueueStore

    public init(_ store: QueueStore) { self.store = store }

    /// Where a corrupt database was moved at open, if it was (read once at open: no I/O).
    public var quarantinedTo: String? { store.quarantinedTo }

    public func enqueue(_ record: QueueRecord, face: Data?, idempotency: IdempotentResponse? = nil) async throws {
        try await store.io { try $0.enqueue(record, face: face, idempotency: idempotency) }
    }

    public func idempotentResponse(key: String) async throws -> IdempotentResponse? {
        try await store.io { try $0.idempotentResponse(key: key) }
    }

    public func status() async throws -> QueueStatus { try await store.io { try $0.status() } }

    /// Queue files moved aside as corrupt (a directory listing).
    public func quarantinedFiles() async throws -> [String] { try await store.io { $0.quarantinedFiles } }

    public func nextDue(now: Date = Date(), horizon: Duration? = nil) async throws -> StoredRecord? {
        try await store.io { try $0.nextDue(now: now, horizon: horizon) }
    }

    public func earliestDue() async throws -> Date? { try await store.io { try $0.earliestDue() } }

    public func markDelivered(id: UUID) async throws { try await store.io { try $0.markDelivered(id: id) } }

    public func reschedule(id: UUID, notBefore: Date, attempts: Int, error: String) async throws {
        try await store.io { try $0.reschedule(id: id, notBefore: notBefore, attempts: attempts, error: error) }
    }

    public func deadLetter(id: UUID, reason: String) async throws { try await store.io { try $0.deadLetter(id: id, reason: reason) } }

    public func deadLetterCount() async throws -> Int { try await store.io { try $0.deadLetterCount() } }

    public func makeAllDue() async throws { try await store.io { try $0.makeAllDue() } }

    /// Retention purge; returns how many faces were deleted.
    public func purge() async throws -> Int { try await store.io { try $0.purge() } }
}

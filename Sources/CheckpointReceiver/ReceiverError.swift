/// The receiver layer's one error type: a switchable code, a message for a person, and the cause.
public struct ReceiverError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The storage backend failed (SQLite, PostgreSQL).
        public static let storage = Code("storage")
        /// A command-line option or file given to the receiver is unusable.
        public static let configuration = Code("configuration")
        /// TLS material could not be loaded.
        public static let tls = Code("tls")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message) (\(code)): \(cause)" }
        return "\(message) (\(code))"
    }
}

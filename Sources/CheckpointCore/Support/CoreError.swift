/// The core layer's one error type: a switchable code, a message for a person, and the cause.
///
/// Core code never sees errno or C status codes; adapters wrap those in `AdapterError`.
public struct CoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidConfig = Code("invalid-config")
        public static let invalidCalibration = Code("invalid-calibration")
        public static let protocolViolation = Code("protocol-violation")
        public static let invalidInput = Code("invalid-input")
        public static let fitFailed = Code("fit-failed")
        public static let queueFull = Code("queue-full")
        public static let notFound = Code("not-found")
        public static let invalidState = Code("invalid-state")
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

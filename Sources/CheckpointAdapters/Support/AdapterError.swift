#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The adapters layer's one error type: code, message and the C-level cause
/// (errno, CURLcode, OpenCV's text, SQLite's text).
public struct AdapterError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let open = Code("open")
        public static let io = Code("io")
        public static let ioctl = Code("ioctl")
        public static let timeout = Code("timeout")
        public static let disconnected = Code("disconnected")
        public static let busy = Code("busy")
        public static let unsupported = Code("unsupported")
        public static let detector = Code("detector")
        public static let model = Code("model")
        public static let transfer = Code("transfer")
        public static let storage = Code("storage")
        public static let closed = Code("closed")
        public static let qrDecoder = Code("qr-decoder")
    }

    /// What the C layer said.
    public enum Cause: Sendable, CustomStringConvertible, Equatable {
        case errno(Int32)
        case curl(code: Int32, text: String)
        case opencv(String)
        case sqlite(String)
        case text(String)

        public var description: String {
            switch self {
            case .errno(let e): return "errno \(e): \(String(cString: strerror(e)))"
            case .curl(let code, let text): return "CURLcode \(code): \(text)"
            case .opencv(let text): return "OpenCV: \(text)"
            case .sqlite(let text): return "SQLite: \(text)"
            case .text(let text): return text
            }
        }
    }

    public var code: Code
    public var message: String
    public var cause: Cause?

    public init(_ code: Code, _ message: String, cause: Cause? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// An error from the current `errno`, captured immediately after a failed call.
    public static func posix(_ code: Code, _ message: String, errno value: Int32 = errno) -> AdapterError {
        AdapterError(code, message, cause: .errno(value))
    }

    /// The errno, when the cause is one.
    public var errnoValue: Int32? {
        if case .errno(let e) = cause { return e }
        return nil
    }

    public var description: String {
        if let cause { return "\(message) (\(code)): \(cause)" }
        return "\(message) (\(code))"
    }
}

extension String {
    /// Text from a NUL-terminated C buffer filled in by a shim.
    init(cBuffer buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

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

    /// The adapters' one errno classification. `code` says what failed (`.open`, `.ioctl`, `.io`, `.storage`…) and is
    /// kept unless the errno says more:
    ///
    /// | errno | code |
    /// |---|---|
    /// | ENODEV, ENXIO (the device was unregistered: unplug) | `.disconnected` |
    /// | ENOENT, when opening a device node (`deviceNode: true`: the node is gone) | `.disconnected` |
    /// | EBUSY (another process holds it) | `.busy` |
    /// | EIO (a fatal I/O error on the device) | `.io` |
    /// | anything else | `code` |
    public init(errno value: Int32, _ code: Code, _ message: String, deviceNode: Bool = false) {
        let classified: Code
        switch value {
        case ENODEV, ENXIO: classified = .disconnected
        case ENOENT where deviceNode: classified = .disconnected
        case EBUSY: classified = .busy
        case EIO: classified = .io
        default: classified = code
        }
        self.init(classified, message, cause: .errno(value))
    }

    /// An error from the current `errno`, captured immediately after a failed call (classified as `init(errno:_:_:)` does).
    public static func posix(_ code: Code, _ message: String, errno value: Int32 = errno) -> AdapterError {
        AdapterError(errno: value, code, message)
    }

    /// The device is gone (unplugged, or its node removed): see `init(errno:_:_:deviceNode:)`.
    public var isDisconnect: Bool { code == .disconnected }

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

/// Runs `call` (a system call that returns -1 and sets errno on failure) again while it fails with EINTR, and turns
/// any other failure into an `AdapterError` classified by `init(errno:_:_:)`: the adapters' one EINTR loop.
/// `@inline(never)` so nothing runs between the call and the errno read.
@inline(never)
func retryingOnInterrupt<T: FixedWidthInteger>(
    _ what: @autoclosure () -> String, code: AdapterError.Code = .io, deviceNode: Bool = false, _ call: () -> T
) throws(AdapterError) -> T {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = errno
        if e == EINTR { continue }
        throw AdapterError(errno: e, code, what(), deviceNode: deviceNode)
    }
}

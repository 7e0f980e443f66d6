/// Cheap structural checks on an MJPEG buffer before spending a decode on it.
public enum MJPEGValidation: Sendable, Equatable {
    /// Looks like a whole JPEG: SOI at the start and EOI at `length` (trailing zero padding excluded).
    case valid(length: Int)
    case tooSmall(bytes: Int, minimum: Int)
    case missingSOI
    /// No EOI at the end: a truncated frame (common in low light and right after STREAMON).
    case missingEOI

    public var isValid: Bool {
        if case .valid = self { return true }
        return false
    }

    /// Checks `bytes` (the first `bytesused` bytes of the buffer).
    public static func check(_ bytes: UnsafeRawBufferPointer, minimumBytes: Int) -> MJPEGValidation {
        let count = bytes.count
        guard count >= max(4, minimumBytes) else { return .tooSmall(bytes: count, minimum: max(4, minimumBytes)) }
        guard bytes[0] == 0xFF, bytes[1] == 0xD8 else { return .missingSOI }
        // Some cameras pad the payload with zeros after EOI; allow that.
        var end = count
        while end > 2, bytes[end - 1] == 0x00 { end -= 1 }
        guard end >= 4, bytes[end - 2] == 0xFF, bytes[end - 1] == 0xD9 else { return .missingEOI }
        return .valid(length: end)
    }

    public static func check(_ bytes: [UInt8], minimumBytes: Int) -> MJPEGValidation {
        bytes.withUnsafeBytes { check($0, minimumBytes: minimumBytes) }
    }
}

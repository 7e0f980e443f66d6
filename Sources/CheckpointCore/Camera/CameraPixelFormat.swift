/// The capture formats the daemon knows how to turn into a `Frame`, in V4L2 fourcc terms.
///
/// Kept free of any C import: the fourcc values are computed here the same way `v4l2_fourcc()` does.
public enum CameraPixelFormat: String, Sendable, Equatable, Hashable, CaseIterable, CustomStringConvertible {
    /// Packed 4:2:2 Y0 U Y1 V, 2 bytes per pixel. The Y bytes are the gray image.
    case yuyv = "YUYV"
    /// Motion-JPEG: every buffer is one JPEG image (UVC cameras).
    case mjpeg = "MJPG"
    /// 8-bit luma only.
    case grey = "GREY"

    /// `v4l2_fourcc(a, b, c, d)`.
    public static func fourcc(_ text: String) -> UInt32 {
        let bytes = Array(text.utf8.prefix(4)) + [UInt8](repeating: 0x20, count: max(0, 4 - text.utf8.count))
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    /// The four characters of a fourcc (non-printable bytes shown as '?').
    public static func fourccString(_ value: UInt32) -> String {
        let bytes = (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xFF) }
        return String(bytes.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "?" })
    }

    /// V4L2's JPEG fourcc: some UVC cameras announce MJPEG frames with it.
    public static let jpegFourcc: UInt32 = fourcc("JPEG")

    public var fourcc: UInt32 { Self.fourcc(rawValue) }

    /// The format for a driver fourcc (JPEG is treated as MJPEG), or nil when the daemon cannot use it.
    public init?(fourcc: UInt32) {
        if fourcc == Self.jpegFourcc {
            self = .mjpeg
            return
        }
        guard let match = Self.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = match
    }

    /// Parses a config name: "YUYV", "MJPEG"/"MJPG"/"JPEG", "GREY"/"GRAY" (any case).
    public init?(name: String) {
        switch name.uppercased() {
        case "YUYV", "YUY2": self = .yuyv
        case "MJPG", "MJPEG", "JPEG": self = .mjpeg
        case "GREY", "GRAY", "Y8": self = .grey
        default: return nil
        }
    }

    /// The name written in config files and on the command line ("MJPEG", "YUYV", "GREY").
    public var configName: String {
        switch self {
        case .yuyv: return "YUYV"
        case .mjpeg: return "MJPEG"
        case .grey: return "GREY"
        }
    }

    /// True for formats whose buffers carry a variable-length encoded image.
    public var isCompressed: Bool { self == .mjpeg }

    /// Minimum bytes per line for an uncompressed format.
    public func minimumBytesPerLine(width: Int) -> Int {
        switch self {
        case .yuyv: return width * 2
        case .grey: return width
        case .mjpeg: return 0
        }
    }

    public var description: String { rawValue }
}

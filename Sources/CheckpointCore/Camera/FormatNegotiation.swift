import Foundation

/// What a driver answered to VIDIOC_S_FMT (or TRY_FMT).
public struct DriverFormat: Sendable, Equatable {
    public var fourcc: UInt32
    public var width: Int
    public var height: Int
    public var bytesPerLine: Int
    public var sizeImage: Int

    public init(fourcc: UInt32, width: Int, height: Int, bytesPerLine: Int, sizeImage: Int) {
        self.fourcc = fourcc
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine
        self.sizeImage = sizeImage
    }
}

/// The format the capture actually runs with, after the driver had its say.
public struct NegotiatedFormat: Sendable, Equatable, CustomStringConvertible {
    public var format: CameraPixelFormat
    public var width: Int
    public var height: Int
    public var bytesPerLine: Int
    public var sizeImage: Int
    /// Frames per second the driver reports, or nil when it cannot tell (no TIMEPERFRAME capability).
    public var fps: Double?

    public init(format: CameraPixelFormat, width: Int, height: Int, bytesPerLine: Int, sizeImage: Int, fps: Double? = nil) {
        self.format = format
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine
        self.sizeImage = sizeImage
        self.fps = fps
    }

    public var description: String {
        let rate = fps.map { " @ \(Self.trim($0)) fps" } ?? " @ driver default fps"
        return "\(format) \(width)x\(height)\(rate)"
    }

    static func trim(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}

/// The format-negotiation policy: S_FMT is a request, the driver's answer wins.
public enum FormatNegotiation {
    /// The outcome of asking for one format.
    public enum Verdict: Sendable, Equatable {
        /// Usable; `coercions` lists what the driver changed (to be logged).
        case accepted(NegotiatedFormat, coercions: [String])
        /// The driver substituted another pixel format or answered nonsense: try the next preference.
        case rejected(String)
    }

    /// The preferences to try, in order. Formats the device does not enumerate are skipped; when the
    /// device enumerates nothing (some drivers fail ENUM_FMT) every preference is tried.
    public static func candidates(preferences: [CameraPixelFormat], offered: [UInt32]) -> [CameraPixelFormat] {
        var seen = Set<CameraPixelFormat>()
        let unique = preferences.filter { seen.insert($0).inserted }
        guard !offered.isEmpty else { return unique }
        let usable = Set(offered.compactMap { CameraPixelFormat(fourcc: $0) })
        return unique.filter { usable.contains($0) }
    }

    /// Judges the driver's answer to a request for `format` at `width`×`height`.
    public static func judge(format: CameraPixelFormat, width: Int, height: Int, answer: DriverFormat) -> Verdict {
        guard let answered = CameraPixelFormat(fourcc: answer.fourcc), answered == format else {
            return .rejected("asked for \(format), driver answered \(CameraPixelFormat.fourccString(answer.fourcc))")
        }
        guard answer.width > 0, answer.height > 0 else {
            return .rejected("driver answered an empty size \(answer.width)x\(answer.height) for \(format)")
        }
        var coercions: [String] = []
        if answer.width != width || answer.height != height {
            coercions.append("size \(width)x\(height) → \(answer.width)x\(answer.height)")
        }
        // Buggy-driver paranoia from the kernel's capture example: stride and image size have floors.
        var bytesPerLine = answer.bytesPerLine
        var sizeImage = answer.sizeImage
        let minimumLine = format.minimumBytesPerLine(width: answer.width)
        if bytesPerLine < minimumLine {
            coercions.append("bytesperline \(bytesPerLine) raised to \(minimumLine)")
            bytesPerLine = minimumLine
        }
        if !format.isCompressed, sizeImage < bytesPerLine * answer.height {
            coercions.append("sizeimage \(sizeImage) raised to \(bytesPerLine * answer.height)")
            sizeImage = bytesPerLine * answer.height
        }
        return .accepted(
            NegotiatedFormat(format: format, width: answer.width, height: answer.height, bytesPerLine: bytesPerLine, sizeImage: sizeImage),
            coercions: coercions
        )
    }

    /// Interprets the driver's time-per-frame answer to S_PARM/G_PARM.
    /// Returns the resulting fps (nil when unknown) and a coercion note when it differs from the request.
    public static func judgeFrameRate(requested: Int, numerator: UInt32, denominator: UInt32, supported: Bool) -> (fps: Double?, coercion: String?) {
        guard supported, numerator > 0, denominator > 0 else {
            return (nil, "driver cannot set the frame rate (no TIMEPERFRAME capability); \(requested) fps is best effort")
        }
        let fps = Double(denominator) / Double(numerator)
        if abs(fps - Double(requested)) > 0.01 {
            return (fps, "fps \(requested) → \(NegotiatedFormat.trim(fps))")
        }
        return (fps, nil)
    }
}

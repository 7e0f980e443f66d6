import CQRDecoder
import CheckpointCore

/// One code found in an image. Its content is personal data (an ID number, a name, an address): never log it.
public struct DecodedQR: Sendable, Equatable {
    /// The symbol's raw content, without any character-set conversion.
    public let bytes: [UInt8]
    /// The symbology's name, e.g. "QRCode".
    public let format: String
    /// The content as text: set only when `bytes` are valid UTF-8 (the PC-COVID and CCCD payloads are); nil otherwise.
    public let text: String?
    /// Why `text` is nil (names an offset, never the content); nil when there is text.
    public let textRefusal: String?

    public init(bytes: [UInt8], format: String) {
        self.bytes = bytes
        self.format = format
        switch Self.utf8Text(bytes) {
        case .success(let text):
            self.text = text
            self.textRefusal = nil
        case .failure(let refusal):
            self.text = nil
            self.textRefusal = refusal.reason
        }
    }

    struct Refusal: Error { let reason: String }

    /// The bytes as a String when they are well-formed UTF-8 (no overlong forms, no surrogates, nothing cut off).
    /// No guessing of another charset: a Latin-1 or Shift-JIS payload is refused, not mangled.
    static func utf8Text(_ bytes: [UInt8]) -> Result<String, Refusal> {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                offset += scalar.count
            case .emptyInput:
                return .success(String(decoding: bytes, as: UTF8.self))
            case .error:
                let hex = String(bytes[offset], radix: 16, uppercase: true)
                return .failure(Refusal(reason: "not UTF-8: invalid or cut-off sequence at byte \(offset) of \(bytes.count) (0x\(hex.count == 1 ? "0" : "")\(hex))"))
            }
        }
    }
}

/// Settings of the QR decoder.
public struct QRDecoderConfig: Sendable, Equatable {
    /// Spend more time per frame on small or damaged codes (ZXing's tryHarder).
    public var tryHarder = true
    /// Also decode downscaled copies of the frame (helps blurred codes that cover many pixels).
    public var tryDownscale = true
    /// The most codes reported per frame.
    public var maxCodes = 8
    /// Also accept Micro QR codes (no payload the kiosk reads uses them).
    public var microQR = false

    public init() {}
}

/// Decodes QR codes in grayscale frames through ZXing-C++ (see CQRDecoder.h for why a C shim).
///
/// Thread-safety: a `QRDecoder` owns one native reader and reusable buffers, and is not thread-safe and not
/// `Sendable`. Create it and call it on one thread — a `DedicatedThread` job (decoding blocks for about a
/// millisecond per 640×480 frame on x86-64, several more on a small ARM board: never on the cooperative pool) —
/// holding it in an `@unchecked Sendable` box touched only on that thread, as `DetectionWorker` does with
/// `FaceDetector`. Separate instances are independent and may run on different threads at once.
public final class QRDecoder {
    public let config: QRDecoderConfig
    private let reader: OpaquePointer
    private var luma: [UInt8] = []

    /// The decoding library, for diagnostics (e.g. "ZXing-C++ 1.4.0").
    public static var library: String { String(cString: cqr_library()) }

    public init(config: QRDecoderConfig = QRDecoderConfig()) throws(AdapterError) {
        guard (1...255).contains(config.maxCodes) else {
            throw AdapterError(.qrDecoder, "maxCodes must lie between 1 and 255, got \(config.maxCodes)")
        }
        var options = cqr_default_options()
        options.formats = UInt32(CQR_FORMAT_QR) | (config.microQR ? UInt32(CQR_FORMAT_MICRO_QR) : 0)
        options.try_harder = config.tryHarder ? 1 : 0
        options.try_downscale = config.tryDownscale ? 1 : 0
        options.max_codes = Int32(config.maxCodes)
        var out: OpaquePointer?
        var err = [CChar](repeating: 0, count: 256)
        let status = cqr_create(&options, &out, &err, err.count)
        guard status == CQR_OK, let out else {
            throw AdapterError(.qrDecoder, "cannot create the QR decoder", cause: .text(String(cBuffer: err)))
        }
        self.config = config
        self.reader = out
    }

    deinit { cqr_destroy(reader) }

    /// Decodes the codes in a camera frame: gray8 as is, bgr24 through its luma.
    public func decode(_ frame: Frame) throws(AdapterError) -> [DecodedQR] {
        switch frame.layout {
        case .gray8:
            return try decode(gray: frame.pixels, width: frame.width, height: frame.height)
        case .bgr24:
            Self.luma(bgr: frame.pixels, into: &luma)
            return try decode(gray: luma, width: frame.width, height: frame.height)
        }
    }

    /// Decodes the codes in 8-bit gray pixels, `stride` bytes per row (nil = `width`, packed).
    public func decode(gray pixels: [UInt8], width: Int, height: Int, stride: Int? = nil) throws(AdapterError) -> [DecodedQR] {
        let rowBytes = stride ?? width
        guard width > 0, height > 0, rowBytes >= width, width <= Int(Int32.max), height <= Int(Int32.max),
              pixels.count >= rowBytes * (height - 1) + width else {
            throw AdapterError(.qrDecoder, "gray buffer is \(pixels.count) bytes, too small for \(width)×\(height) with \(rowBytes) bytes per row")
        }
        var codes: UnsafePointer<cqr_code>?
        var count: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { px in
            cqr_decode(reader, px.baseAddress, Int32(width), Int32(height), rowBytes, &codes, &count, &err, err.count)
        }
        guard status == CQR_OK else {
            // The native message comes from the decoder's internals and never contains the payload.
            throw AdapterError(.qrDecoder, "QR decoding failed on a \(width)×\(height) image", cause: .text(String(cBuffer: err)))
        }
        guard let codes, count > 0 else { return [] }
        return UnsafeBufferPointer(start: codes, count: Int(count)).map { code in
            let bytes = code.bytes.map { Array(UnsafeBufferPointer(start: $0, count: code.length)) } ?? []
            return DecodedQR(bytes: bytes, format: code.format.map { String(cString: $0) } ?? "unknown")
        }
    }

    /// BT.601 luma of packed BGR, with the integer weights ZXing itself uses for colour input.
    static func luma(bgr: [UInt8], into out: inout [UInt8]) {
        let n = bgr.count / 3
        if out.count != n { out = [UInt8](repeating: 0, count: n) }
        bgr.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let b = UInt32(src[3 * i]), g = UInt32(src[3 * i + 1]), r = UInt32(src[3 * i + 2])
                    dst[i] = UInt8(truncatingIfNeeded: (306 * r + 601 * g + 117 * b + 0x200) >> 10)
                }
            }
        }
    }
}

import CImageCodec
import CheckpointCore

/// Still-image decoding and encoding through libturbojpeg and libpng (see CImageCodec.h).
public enum ImageCodec {
    public struct Image: Sendable {
        public var width: Int
        public var height: Int
        public var channels: Int
        public var pixels: [UInt8]
    }

    /// Decodes JPEG/PNG bytes to packed BGR (or gray). With `maxWidth`/`maxHeight`, a larger image is refused from its
    /// header before any pixel memory is allocated (a camera's frame is never larger than the negotiated size).
    public static func decode(_ data: [UInt8], gray: Bool = false, maxWidth: Int? = nil, maxHeight: Int? = nil) throws(AdapterError) -> Image {
        var image = cic_image()
        var err = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBufferPointer { buf in
            cic_decode_bounded(buf.baseAddress, buf.count, gray ? 1 : 0, Int32(clamping: maxWidth ?? 0), Int32(clamping: maxHeight ?? 0),
                               &image, &err, err.count)
        }
        guard status == CIC_OK else {
            throw AdapterError(.unsupported, "cannot decode image", cause: .opencv(String(cBuffer: err)))
        }
        defer { cic_image_free(&image) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        let pixels = Array(UnsafeBufferPointer(start: image.pixels, count: count))
        return Image(width: Int(image.width), height: Int(image.height), channels: Int(image.channels), pixels: pixels)
    }

    /// Encodes packed BGR or gray pixels as JPEG (quality 1–100) or PNG.
    public static func encode(
        _ pixels: [UInt8], width: Int, height: Int, channels: Int, png: Bool = false, quality: Int = 90
    ) throws(AdapterError) -> [UInt8] {
        guard pixels.count == width * height * channels else {
            throw AdapterError(.unsupported, "pixel buffer is \(pixels.count) bytes, expected \(width * height * channels)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { buf in
            cic_encode(buf.baseAddress, Int32(width), Int32(height), Int32(channels), png ? 1 : 0, Int32(quality), &out, &length, &err, err.count)
        }
        guard status == CIC_OK, let out else {
            throw AdapterError(.unsupported, "cannot encode image", cause: .opencv(String(cBuffer: err)))
        }
        defer { cic_buffer_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    /// Makes a frame (`render`: a drawing, a blur, or the frame as it is) and encodes it on a thread of its own:
    /// drawing and encoding a camera frame block for milliseconds, never on the cooperative pool. For the technician's
    /// snapshot and the monitoring still.
    public static func encodeOffPool(png: Bool, quality: Int, _ render: @escaping @Sendable () -> Frame) async throws -> [UInt8] {
        let thread = DedicatedThread(name: "ckpt.encode")
        defer { thread.stop() }
        return try await thread.run {
            let f = render()
            return try encode(f.pixels, width: f.width, height: f.height, channels: f.layout.bytesPerPixel, png: png, quality: quality)
        }
    }
}

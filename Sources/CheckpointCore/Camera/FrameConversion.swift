/// Pixel conversion from what the driver fills in to what the detector takes. Pure and allocation-light:
/// it reads straight from the driver's buffer (an mmap in production) and writes one packed array.
public enum FrameConversion {
    /// Gray from YUYV: the Y bytes are the luma plane, no arithmetic.
    public static func yuyvToGray(_ src: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int) throws(CoreError) -> [UInt8] {
        try check(src, width: width, height: height, bytesPerLine: bytesPerLine, bytesPerPixel: 2, format: "YUYV")
        return [UInt8](unsafeUninitializedCapacity: width * height) { out, count in
            let base = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for y in 0..<height {
                let row = base + y * bytesPerLine
                let dst = out.baseAddress! + y * width
                for x in 0..<width { dst[x] = row[2 * x] }
            }
            count = width * height
        }
    }

    /// BGR from YUYV with BT.601 limited-range integer math (what UVC cameras send).
    public static func yuyvToBGR(_ src: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int) throws(CoreError) -> [UInt8] {
        try check(src, width: width, height: height, bytesPerLine: bytesPerLine, bytesPerPixel: 2, format: "YUYV")
        return [UInt8](unsafeUninitializedCapacity: width * height * 3) { out, count in
            let base = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for y in 0..<height {
                let row = base + y * bytesPerLine
                var dst = out.baseAddress! + y * width * 3
                var x = 0
                while x < width {
                    let p = row + 2 * x
                    let d = Int32(p[1]) - 128
                    let e = Int32(p[3]) - 128
                    let rAdd = 409 * e + 128
                    let gAdd = -100 * d - 208 * e + 128
                    let bAdd = 516 * d + 128
                    let c0 = 298 * (Int32(p[0]) - 16)
                    dst[0] = clamp((c0 + bAdd) >> 8)
                    dst[1] = clamp((c0 + gAdd) >> 8)
                    dst[2] = clamp((c0 + rAdd) >> 8)
                    dst += 3
                    if x + 1 < width {
                        let c1 = 298 * (Int32(p[2]) - 16)
                        dst[0] = clamp((c1 + bAdd) >> 8)
                        dst[1] = clamp((c1 + gAdd) >> 8)
                        dst[2] = clamp((c1 + rAdd) >> 8)
                        dst += 3
                    }
                    x += 2
                }
            }
            count = width * height * 3
        }
    }

    /// GREY: drop any row padding.
    public static func greyPacked(_ src: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int) throws(CoreError) -> [UInt8] {
        try check(src, width: width, height: height, bytesPerLine: bytesPerLine, bytesPerPixel: 1, format: "GREY")
        if bytesPerLine == width { return Array(src.prefix(width * height)) }
        var out = [UInt8]()
        out.reserveCapacity(width * height)
        for y in 0..<height {
            out.append(contentsOf: src[(y * bytesPerLine)..<(y * bytesPerLine + width)])
        }
        return out
    }

    /// Gray to BGR by replication (GREY cameras feeding a BGR detector).
    public static func grayToBGR(_ gray: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: gray.count * 3) { out, count in
            for i in 0..<gray.count {
                out[3 * i] = gray[i]
                out[3 * i + 1] = gray[i]
                out[3 * i + 2] = gray[i]
            }
            count = gray.count * 3
        }
    }

    /// Converts one uncompressed buffer (YUYV or GREY) to the requested layout.
    public static func convert(
        _ src: UnsafeRawBufferPointer, format: CameraPixelFormat, width: Int, height: Int, bytesPerLine: Int, to layout: PixelLayout
    ) throws(CoreError) -> [UInt8] {
        switch (format, layout) {
        case (.yuyv, .gray8): return try yuyvToGray(src, width: width, height: height, bytesPerLine: bytesPerLine)
        case (.yuyv, .bgr24): return try yuyvToBGR(src, width: width, height: height, bytesPerLine: bytesPerLine)
        case (.grey, .gray8): return try greyPacked(src, width: width, height: height, bytesPerLine: bytesPerLine)
        case (.grey, .bgr24): return grayToBGR(try greyPacked(src, width: width, height: height, bytesPerLine: bytesPerLine))
        case (.mjpeg, _): throw CoreError(.invalidInput, "MJPEG frames are decoded by the image codec, not converted")
        }
    }

    @inline(__always) private static func clamp(_ v: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: v < 0 ? 0 : (v > 255 ? 255 : v))
    }

    private static func check(
        _ src: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int, bytesPerPixel: Int, format: String
    ) throws(CoreError) {
        guard width > 0, height > 0, bytesPerLine >= width * bytesPerPixel else {
            throw CoreError(.invalidInput, "\(format) frame \(width)x\(height) with \(bytesPerLine) bytes per line is inconsistent")
        }
        let needed = bytesPerLine * (height - 1) + width * bytesPerPixel
        guard src.count >= needed, src.baseAddress != nil else {
            throw CoreError(.invalidInput, "\(format) frame is \(src.count) bytes, \(width)x\(height) needs \(needed)")
        }
    }
}

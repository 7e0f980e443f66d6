import Testing
@testable import CheckpointCore

@Suite struct CameraFormatTests {
    @Test func fourccMatchesTheKernelValues() {
        // From linux/videodev2.h: v4l2_fourcc('Y','U','Y','V') = 0x56595559.
        #expect(CameraPixelFormat.yuyv.fourcc == 0x5659_5559)
        #expect(CameraPixelFormat.mjpeg.fourcc == 0x4750_4A4D)
        #expect(CameraPixelFormat.grey.fourcc == 0x5945_5247)
        #expect(CameraPixelFormat(fourcc: CameraPixelFormat.fourcc("JPEG")) == .mjpeg)
        #expect(CameraPixelFormat(fourcc: CameraPixelFormat.fourcc("RGB3")) == nil)
        #expect(CameraPixelFormat.fourccString(0x5659_5559) == "YUYV")
        #expect(CameraPixelFormat(name: "mjpeg") == .mjpeg && CameraPixelFormat(name: "GRAY") == .grey && CameraPixelFormat(name: "H264") == nil)
    }

    @Test func candidatesFollowPreferenceAndSkipWhatTheDeviceLacks() {
        let offered = ["GREY", "YUYV", "RGB3"].map(CameraPixelFormat.fourcc)
        #expect(FormatNegotiation.candidates(preferences: [.mjpeg, .yuyv, .grey], offered: offered) == [.yuyv, .grey])
        #expect(FormatNegotiation.candidates(preferences: [.grey, .yuyv, .grey], offered: offered) == [.grey, .yuyv])
        // A driver that cannot enumerate: try every preference.
        #expect(FormatNegotiation.candidates(preferences: [.mjpeg, .yuyv], offered: []) == [.mjpeg, .yuyv])
    }

    @Test func theDriversSizeWinsAndTheCoercionIsReported() {
        let answer = DriverFormat(fourcc: CameraPixelFormat.yuyv.fourcc, width: 640, height: 360, bytesPerLine: 1280, sizeImage: 1280 * 360)
        guard case .accepted(let f, let notes) = FormatNegotiation.judge(format: .yuyv, width: 640, height: 480, answer: answer) else {
            Issue.record("expected acceptance")
            return
        }
        #expect(f.width == 640 && f.height == 360 && f.bytesPerLine == 1280)
        #expect(notes == ["size 640x480 → 640x360"])
    }

    @Test func aSubstitutedPixelFormatIsRejected() {
        let answer = DriverFormat(fourcc: CameraPixelFormat.yuyv.fourcc, width: 640, height: 480, bytesPerLine: 1280, sizeImage: 614_400)
        guard case .rejected(let why) = FormatNegotiation.judge(format: .mjpeg, width: 640, height: 480, answer: answer) else {
            Issue.record("MJPEG request answered with YUYV must be rejected")
            return
        }
        #expect(why.contains("MJPG") && why.contains("YUYV"))
    }

    @Test func buggyStrideAndImageSizeAreRaisedToTheirFloors() {
        let answer = DriverFormat(fourcc: CameraPixelFormat.yuyv.fourcc, width: 320, height: 240, bytesPerLine: 0, sizeImage: 0)
        guard case .accepted(let f, let notes) = FormatNegotiation.judge(format: .yuyv, width: 320, height: 240, answer: answer) else {
            Issue.record("expected acceptance")
            return
        }
        #expect(f.bytesPerLine == 640 && f.sizeImage == 640 * 240)
        #expect(notes.count == 2)
    }

    @Test func frameRateCoercionAndMissingCapability() {
        let coerced = FormatNegotiation.judgeFrameRate(requested: 30, numerator: 1, denominator: 25, supported: true)
        #expect(coerced.fps == 25 && coerced.coercion == "fps 30 → 25")
        let exact = FormatNegotiation.judgeFrameRate(requested: 15, numerator: 1001, denominator: 15015, supported: true)
        #expect(exact.coercion == nil)
        let none = FormatNegotiation.judgeFrameRate(requested: 15, numerator: 0, denominator: 0, supported: false)
        #expect(none.fps == nil && none.coercion?.contains("best effort") == true)
    }

    @Test func settingsValidationNamesEveryProblem() {
        var s = CameraSettings()
        #expect(throws: Never.self) { try s.validate() }
        s.buffers = 1
        s.fps = 0
        s.formats = []
        do {
            try s.validate()
            Issue.record("invalid settings accepted")
        } catch {
            #expect(error.message.contains("camera.buffers: 1 is out of range (allowed: 2..8 buffers)") && error.message.contains("camera.fps: 0 is out of range") && error.message.contains("camera.formats: has 0 elements"))
        }
    }
}

@Suite struct CameraConversionTests {
    /// A 4x2 YUYV frame with 2 bytes of row padding.
    static let width = 4, height = 2, stride = 10
    static let yuyv: [UInt8] = [
        16, 128, 235, 128, 81, 90, 145, 240, 0xEE, 0xEE,
        41, 240, 210, 110, 128, 128, 128, 128, 0xEE, 0xEE,
    ]

    @Test func grayIsTheYPlaneWithoutPadding() throws {
        let gray = try Self.yuyv.withUnsafeBytes { try FrameConversion.yuyvToGray($0, width: 4, height: 2, bytesPerLine: 10) }
        #expect(gray == [16, 235, 81, 145, 41, 210, 128, 128])
    }

    @Test func bgrFollowsBT601() throws {
        let bgr = try Self.yuyv.withUnsafeBytes { try FrameConversion.yuyvToBGR($0, width: 4, height: 2, bytesPerLine: 10) }
        #expect(bgr.count == 4 * 2 * 3)
        // Y=16 neutral → black, Y=235 neutral → white.
        #expect(Array(bgr[0..<3]) == [0, 0, 0])
        #expect(Array(bgr[3..<6]) == [255, 255, 255])
        // Y=81 U=90 V=240 is BT.601 pure red (R≈255, G≈0, B≈0).
        let red = Array(bgr[6..<9])
        #expect(red[2] >= 250 && red[1] <= 5 && red[0] <= 5, "got \(red)")
        // Y=41 U=240 V=110 is blue.
        let blue = Array(bgr[12..<15])
        #expect(blue[0] >= 250 && blue[1] <= 5 && blue[2] <= 5, "got \(blue)")
        // Y=128 neutral → mid gray (130 with limited range expansion).
        #expect(Array(bgr[18..<21]) == [130, 130, 130])
    }

    @Test func greyPassesThroughAndCanFeedABGRDetector() throws {
        let src: [UInt8] = [1, 2, 3, 0, 4, 5, 6, 0]
        let gray = try src.withUnsafeBytes { try FrameConversion.convert($0, format: .grey, width: 3, height: 2, bytesPerLine: 4, to: .gray8) }
        #expect(gray == [1, 2, 3, 4, 5, 6])
        let bgr = try src.withUnsafeBytes { try FrameConversion.convert($0, format: .grey, width: 3, height: 2, bytesPerLine: 4, to: .bgr24) }
        #expect(bgr.prefix(6) == [1, 1, 1, 2, 2, 2])
    }

    @Test func shortBuffersAreAnErrorNotAnOverread() {
        let short = [UInt8](repeating: 0, count: 100)
        #expect(throws: CoreError.self) {
            try short.withUnsafeBytes { try FrameConversion.yuyvToGray($0, width: 640, height: 480, bytesPerLine: 1280) }
        }
        #expect(throws: CoreError.self) {
            try short.withUnsafeBytes { try FrameConversion.yuyvToBGR($0, width: 8, height: 8, bytesPerLine: 8) }
        }
    }

    @Test func mjpegStructureChecks() {
        var jpeg = [UInt8](repeating: 0x55, count: 2000)
        jpeg[0] = 0xFF; jpeg[1] = 0xD8; jpeg[1998] = 0xFF; jpeg[1999] = 0xD9
        #expect(MJPEGValidation.check(jpeg, minimumBytes: 1024) == .valid(length: 2000))
        // Zero padding after EOI (some UVC cameras) is allowed and trimmed.
        #expect(MJPEGValidation.check(jpeg + [0, 0, 0], minimumBytes: 1024) == .valid(length: 2000))
        #expect(MJPEGValidation.check(Array(jpeg.prefix(1500)), minimumBytes: 1024) == .missingEOI)
        #expect(MJPEGValidation.check(Array(jpeg.prefix(500)), minimumBytes: 1024) == .tooSmall(bytes: 500, minimum: 1024))
        var noSOI = jpeg
        noSOI[1] = 0x00
        #expect(MJPEGValidation.check(noSOI, minimumBytes: 1024) == .missingSOI)
    }

    @Test func drawingARectangleStaysInsideTheFrame() {
        var frame = Frame(width: 10, height: 8, layout: .bgr24, pixels: [UInt8](repeating: 0, count: 240), sequence: 0, monotonicNanos: 0)
        FrameDrawing.drawRectangle(&frame, x: 6, y: 5, width: 20, height: 20, thickness: 1, color: (1, 2, 3))
        // Top-left corner of the box is drawn, the clipped corner too; a pixel outside stays black.
        #expect(Array(frame.pixels[(5 * 10 + 6) * 3..<(5 * 10 + 6) * 3 + 3]) == [1, 2, 3])
        #expect(Array(frame.pixels[(7 * 10 + 9) * 3..<(7 * 10 + 9) * 3 + 3]) == [1, 2, 3])
        #expect(Array(frame.pixels[0..<3]) == [0, 0, 0])
        #expect(frame.pixels.count == 240)
    }
}

import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl detect [--json] IMAGE...`: the faces the kiosk's detector finds in still images.
struct DetectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detect faces in image files (JPEG, PNG): box, score, 5 landmarks and the detection time.",
        discussion: """
            Boxes and landmarks are in each image's own pixels. Landmarks are, in order: right eye, left eye,
            nose tip, right and left mouth corner (the person's right). The Haar cascade reports no landmarks.
            With --json, prints one JSON object per image, one per line.
            """
    )

    @Flag(name: .long, help: "One JSON object per image, one per line.")
    var json = false

    @Option(name: .long, help: "The YuNet model (face_detection_yunet_2022mar.onnx).")
    var model: String = FaceDetectorConfig.defaultModelPath

    @Flag(name: .long, help: "Use the Haar cascade (frontalface_alt2) instead of YuNet: blind to masked faces.")
    var haar = false

    @Flag(name: .long, help: "If the model cannot be loaded, fall back to the Haar cascade instead of failing.")
    var allowFallback = false

    @Option(name: .long, help: "Haar cascade XML file.")
    var cascade: String = FaceDetectorConfig.defaultCascadePath

    @Option(name: .long, help: "Detection size WxH: images are downscaled to fit inside it.")
    var detectSize: String = "320x240"

    @Option(name: .long, help: "Minimum YuNet score, 0–1.")
    var score: Double = 0.75

    @Option(name: .long, help: "OpenCV worker threads (0 = OpenCV's choice).")
    var threads: Int = 0

    @Option(name: .long, help: "Detect each image this many times and report the fastest run, the one least disturbed by other load (benchmarking).")
    var `repeat`: Int = 1

    @Argument(help: "Image files.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        guard parseSize(detectSize) != nil else { throw ValidationError("--detect-size must look like 320x240, got '\(detectSize)'") }
        guard score > 0, score < 1 else { throw ValidationError("--score must lie strictly between 0 and 1, got \(score)") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard threads >= 0 else { throw ValidationError("--threads must not be negative") }
    }

    func run() async throws {
        let size = parseSize(detectSize)!
        var config = FaceDetectorConfig(modelPath: model)
        config.cascadePath = cascade
        config.allowFallback = allowFallback
        config.detectionWidth = size.0
        config.detectionHeight = size.1
        config.scoreThreshold = score
        if threads > 0 { FaceDetector.setThreads(threads) }

        let detector: FaceDetector
        do {
            detector = haar ? try FaceDetector(haarConfig: config) : try FaceDetector(config: config)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        if detector.kind == .haar && !haar { FileHandle.standardError.write(Data("warning: \(detector.health)\n".utf8)) }

        var failures = 0
        for path in images {
            do {
                let (image, faces, ms) = try detectOne(path, detector)
                print(json ? jsonLine(path, image, faces, ms) : textBlock(path, image, faces, ms))
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func detectOne(_ path: String, _ detector: FaceDetector) throws -> (ImageCodec.Image, [DetectedFace], Double) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdapterError(.open, "cannot read the file")
        }
        let image = try ImageCodec.decode([UInt8](data))
        var times: [Double] = []
        var faces: [DetectedFace] = []
        for _ in 0..<`repeat` {
            let start = DispatchTime.now().uptimeNanoseconds
            faces = try detector.detect(pixels: image.pixels, width: image.width, height: image.height, channels: image.channels)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return (image, faces, times.min() ?? 0)
    }

    private func textBlock(_ path: String, _ image: ImageCodec.Image, _ faces: [DetectedFace], _ ms: Double) -> String {
        var out = "\(path): \(image.width)×\(image.height), \(faces.count) face\(faces.count == 1 ? "" : "s"), \(fmt(ms, 2)) ms"
        for (i, f) in faces.enumerated() {
            out += "\n  face \(i + 1): x=\(fmt(f.box.x, 1)) y=\(fmt(f.box.y, 1)) w=\(fmt(f.box.width, 1)) h=\(fmt(f.box.height, 1)) score=\(fmt(f.score, 3))"
            if let lm = f.landmarks {
                out += " landmarks=" + lm.points.map { "(\(fmt($0.x, 1)),\(fmt($0.y, 1)))" }.joined(separator: " ")
            }
        }
        return out
    }

    /// The issue's exact shape, keys in order: image, width, height, ms, faces[x, y, w, h, score, landmarks].
    private func jsonLine(_ path: String, _ image: ImageCodec.Image, _ faces: [DetectedFace], _ ms: Double) -> String {
        let list = faces.map { f -> String in
            let lm = (f.landmarks?.points ?? []).map { "[\(fmt($0.x, 2)),\(fmt($0.y, 2))]" }.joined(separator: ",")
            return "{\"x\":\(fmt(f.box.x, 2)),\"y\":\(fmt(f.box.y, 2)),\"w\":\(fmt(f.box.width, 2)),\"h\":\(fmt(f.box.height, 2)),\"score\":\(fmt(f.score, 4)),\"landmarks\":[\(lm)]}"
        }
        return "{\"image\":\(jsonString(path)),\"width\":\(image.width),\"height\":\(image.height),\"ms\":\(fmt(ms, 3)),\"faces\":[\(list.joined(separator: ","))]}"
    }
}

private func parseSize(_ text: String) -> (Int, Int)? {
    let parts = text.lowercased().split(separator: "x")
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w >= 16, h >= 16, w <= 4096, h <= 4096 else { return nil }
    return (w, h)
}

func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "0" }
    return String(format: "%.\(digits)f", v)
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

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
            By default this is the daemon's scheme, from the config schema's [detector] defaults: with
            --verify-size > 0, proposals at the detection size (score ≥ --proposal-score), those below
            --verify-above verified on a --verify-size² crop of the full-resolution image (score ≥ --score) and, when
            the crop scores below --flip-below, on its mirror image too (score ≥ --score there as well);
            --verify-size 0 detects in one pass at --detect-size with --score. Either way, boxes outside the
            range gate (--nearest-face, --farthest-face metres, estimated from the eye distance) are dropped.
            --stages also lists the proposals that failed verification or the gate (marked rejected) and every
            face's proposal score.
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
    var detectSize: String = "\(daemonDefaults.detectionWidth)x\(daemonDefaults.detectionHeight)"

    @Option(name: .long, help: "Minimum YuNet score of a face, 0–1 (on the verification crop; at the detection size with --verify-size 0).")
    var score: Double = daemonDefaults.scoreThreshold

    @Option(name: .long, help: "Side of the square verification crop in pixels; 0 = one pass, no verification.")
    var verifySize: Int = daemonDefaults.verifySize

    @Option(name: .long, help: "Minimum YuNet score of a proposal at the detection size, 0–1 (two-pass only).")
    var proposalScore: Double = daemonDefaults.proposalScoreThreshold

    @Option(name: .long, help: "Margin around a proposal in its verification crop, fraction of the box on each side.")
    var verifyMargin: Double = daemonDefaults.verifyMargin

    @Option(name: .long, help: "Most proposals verified per image.")
    var maxProposals: Int = daemonDefaults.maxProposals

    @Option(name: .long, help: "Proposals scoring at least this at the detection size skip verification (1 = verify all).")
    var verifyAbove: Double = daemonDefaults.verifyAbove

    @Option(name: .long, help: "A verification crop scoring below this (and at least --score) is verified again on its mirror image (0 = never, 1 = always).")
    var flipBelow: Double = daemonDefaults.flipBelow

    @Option(name: .long, help: "Range gate: boxes estimated nearer than this many metres are not faces (0 = no bound).")
    var nearestFace: Double = daemonDefaults.nearestFaceMeters

    @Option(name: .long, help: "Range gate: boxes estimated farther than this many metres are not faces (0 = no bound).")
    var farthestFace: Double = daemonDefaults.farthestFaceMeters

    @Option(name: .long, help: "Focal length in pixels for the range gate's distance estimate (tracking.focal_length_px).")
    var focalLength: Double = CheckpointConfig.Tracking.defaults.focalLengthPixels

    @Option(name: .long, help: "The image width --focal-length holds at (camera.width); other widths scale the range gate in proportion.")
    var gateWidth: Int = CheckpointConfig.Camera(CheckpointConfigSchema.defaults[table: "camera"]).width

    @Flag(name: .long, help: "Show each stage: every proposal with its proposal score and verification score, rejected ones included.")
    var stages = false

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
        guard proposalScore > 0, proposalScore < 1 else { throw ValidationError("--proposal-score must lie strictly between 0 and 1, got \(proposalScore)") }
        guard verifySize == 0 || (32...640).contains(verifySize) else { throw ValidationError("--verify-size must be 0 or 32…640, got \(verifySize)") }
        guard verifyMargin >= 0, verifyMargin <= 2 else { throw ValidationError("--verify-margin must lie in 0…2, got \(verifyMargin)") }
        guard verifyAbove > 0, verifyAbove <= 1 else { throw ValidationError("--verify-above must lie in (0, 1], got \(verifyAbove)") }
        guard flipBelow >= 0, flipBelow <= 1 else { throw ValidationError("--flip-below must lie in 0…1, got \(flipBelow)") }
        guard nearestFace >= 0, farthestFace >= 0, farthestFace == 0 || nearestFace <= farthestFace else {
            throw ValidationError("--nearest-face and --farthest-face must be >= 0 (0 = no bound) with nearest <= farthest")
        }
        guard focalLength > 0, gateWidth > 0 else { throw ValidationError("--focal-length and --gate-width must be positive") }
        guard maxProposals >= 1 else { throw ValidationError("--max-proposals must be at least 1") }
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
        config.verifySize = verifySize
        config.proposalScoreThreshold = proposalScore
        config.verifyMargin = verifyMargin
        config.maxProposals = maxProposals
        config.verifyAbove = verifyAbove
        config.flipBelow = flipBelow
        config.nearestFaceM = nearestFace
        config.farthestFaceM = farthestFace
        config.focalLengthPx = focalLength
        config.gateReferenceWidth = gateWidth
        config.keepRejected = stages
        if threads > 0 { FaceDetector.setThreads(threads) }

        let detector: FaceDetector
        do {
            detector = haar ? try FaceDetector(haarConfig: config) : try FaceDetector(config: config)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        if detector.kind == .haar && !haar { FileHandle.standardError.write(Data("warning: \(detector.health)\n".utf8)) }
        if stages && !json { print("scheme: \(detector.kind == .haar ? "Haar cascade, one pass" : config.schemeDescription)") }

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
        let accepted = faces.filter(\.verified), rejected = faces.filter { !$0.verified }
        var out = "\(path): \(image.width)×\(image.height), \(accepted.count) face\(accepted.count == 1 ? "" : "s"), \(fmt(ms, 2)) ms"
        if stages { out += ", \(faces.count) proposal\(faces.count == 1 ? "" : "s") verified" }
        for (i, f) in (accepted + rejected).enumerated() {
            let label = f.verified ? "face \(i + 1)" : "rejected proposal"
            let stage = stages ? (f.proposalScore.map { " proposal=\(fmt($0, 3)) verification=\(fmt(f.score, 3))" } ?? "") : ""
            out += "\n  \(label): x=\(fmt(f.box.x, 1)) y=\(fmt(f.box.y, 1)) w=\(fmt(f.box.width, 1)) h=\(fmt(f.box.height, 1)) score=\(fmt(f.score, 3))\(stage)"
            if let lm = f.landmarks {
                out += " landmarks=" + lm.points.map { "(\(fmt($0.x, 1)),\(fmt($0.y, 1)))" }.joined(separator: " ")
            }
        }
        return out
    }

    /// The issue's exact shape, keys in order: image, width, height, ms, faces[x, y, w, h, score, landmarks].
    private func jsonLine(_ path: String, _ image: ImageCodec.Image, _ faces: [DetectedFace], _ ms: Double) -> String {
        func item(_ f: DetectedFace) -> String {
            let lm = (f.landmarks?.points ?? []).map { "[\(fmt($0.x, 2)),\(fmt($0.y, 2))]" }.joined(separator: ",")
            // The default shape stays exactly x, y, w, h, score, landmarks; --stages adds proposal_score.
            let stage = stages ? (f.proposalScore.map { ",\"proposal_score\":\(fmt($0, 4))" } ?? "") : ""
            return "{\"x\":\(fmt(f.box.x, 2)),\"y\":\(fmt(f.box.y, 2)),\"w\":\(fmt(f.box.width, 2)),\"h\":\(fmt(f.box.height, 2)),\"score\":\(fmt(f.score, 4))\(stage),\"landmarks\":[\(lm)]}"
        }
        // "rejected" (proposals that failed verification) only with --stages.
        let rejected = stages ? ",\"rejected\":[\(faces.filter { !$0.verified }.map(item).joined(separator: ","))]" : ""
        return "{\"image\":\(jsonString(path)),\"width\":\(image.width),\"height\":\(image.height),\"ms\":\(fmt(ms, 3)),\"faces\":[\(faces.filter(\.verified).map(item).joined(separator: ","))]\(rejected)}"
    }
}

/// The daemon's `[detector]` defaults, from the schema (the one definition).
private let daemonDefaults = CheckpointConfig.Detector.defaults

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

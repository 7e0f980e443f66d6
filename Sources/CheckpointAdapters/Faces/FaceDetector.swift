import CFaceDetector
import CheckpointCore
import Foundation
import Logging

/// Settings of the face detector (the daemon fills these from its config).
public struct FaceDetectorConfig: Sendable, Equatable {
    /// The YuNet model file, `face_detection_yunet_2022mar.onnx`.
    public var modelPath: String
    /// Expected sha256 (lowercase hex) of the model file; nil skips the check (tests of other models only).
    public var modelSHA256: String? = FaceDetectorConfig.yunet2022marSHA256
    /// Haar cascade used when YuNet cannot be loaded and `allowFallback` is set.
    public var cascadePath: String = FaceDetectorConfig.defaultCascadePath
    /// Use the cascade when YuNet fails to load (the detector then reports itself degraded).
    public var allowFallback: Bool = true
    /// Frames are downscaled (aspect kept) to fit this size before detection; boxes are mapped back.
    public var detectionWidth: Int = Self.schema.detectionWidth
    public var detectionHeight: Int = Self.schema.detectionHeight
    /// The score a face must reach: on the verification crop when verification is on, else at the detection size.
    public var scoreThreshold: Double = Self.schema.scoreThreshold
    /// Two-pass detection: the pass at the detection size only proposes candidates (at
    /// `proposalScoreThreshold`); those below `verifyAbove` are verified on a `verifySize`² crop of the
    /// full-resolution frame around them (`verifyMargin` of the box added on every side, so the face is
    /// verifySize / (1 + 2 × margin) px wide there). 0 is one pass. Every default is the config schema's
    /// `[detector]` default (one definition; measured in the README, "Faces").
    public var verifySize: Int = Self.schema.verifySize
    public var proposalScoreThreshold: Double = Self.schema.proposalScoreThreshold
    public var verifyMargin: Double = Self.schema.verifyMargin
    /// Most proposals verified per frame (the cost bound), best first.
    public var maxProposals: Int = Self.schema.maxProposals
    /// Two-pass only: proposals scoring at least this at the detection size are faces without a crop
    /// (1 = verify every proposal). Verification is only spent on the doubtful ones.
    public var verifyAbove: Double = Self.schema.verifyAbove
    /// Range gate, before verification, on the kiosk's two distance estimates (focal × inter-eye distance / eye
    /// distance in pixels, focal × face width / box width): a box whose width puts it nearer than `nearestFaceM`
    /// (a wall or photo filling the frame), or that both put farther than `farthestFaceM` (a valve, a badge), is
    /// not a face. 0 = no bound.
    public var nearestFaceM: Double = Self.schema.nearestFaceMeters
    public var farthestFaceM: Double = Self.schema.farthestFaceMeters
    /// Two-pass only: a crop verifying at `scoreThreshold` or more but below this is verified again on its
    /// mirror image and must score `scoreThreshold` there too (0 = never; 1 = every verified crop).
    public var flipBelow: Double = Self.schema.flipBelow
    /// The camera's focal length in pixels at the frame size (tracking.focal_length_px), for the range gate.
    public var focalLengthPx: Double = CheckpointConfig.Tracking.defaults.focalLengthPixels
    /// The frame width `focalLengthPx` holds at (the capture width, camera.width); other widths scale the gate
    /// in proportion.
    public var gateReferenceWidth: Int = CameraSettings().width
    /// Also return proposals that failed verification (`DetectedFace.verified == false`): diagnostics only.
    public var keepRejected: Bool = false
    public var nmsThreshold: Double = Self.schema.nmsThreshold
    public var topK: Int = 50
    /// Smallest face for the cascade, in detection-size pixels.
    public var cascadeMinFace: Int = 30
    /// Most faces returned per frame.
    public var maxFaces: Int = 16

    public static let yunet2022marSHA256 = "50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7"
    public static let yunet2022marBytes = 345_478
    public static let defaultModelPath = "/usr/share/checkpointd/models/face_detection_yunet_2022mar.onnx"
    public static let defaultCascadePath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml"

    /// The config schema's `[detector]` defaults, the one definition of each.
    static let schema = CheckpointConfig.Detector.defaults

    public init(modelPath: String = FaceDetectorConfig.defaultModelPath) { self.modelPath = modelPath }

    var cOptions: cfd_options {
        let twoPass = verifySize > 0
        return cfd_options(
            detect_width: Int32(detectionWidth), detect_height: Int32(detectionHeight),
            score_threshold: Float(twoPass ? proposalScoreThreshold : scoreThreshold), nms_threshold: Float(nmsThreshold),
            top_k: Int32(topK), min_face_size: Int32(cascadeMinFace),
            verify_size: Int32(verifySize), verify_score_threshold: Float(scoreThreshold), verify_margin: Float(verifyMargin),
            max_proposals: Int32(maxProposals), keep_rejected: keepRejected ? 1 : 0,
            verify_above: Float(verifyAbove),
            gate_focal_px: Float(focalLengthPx), gate_eye_m: Float(Self.readiness.interEyeMeters),
            gate_face_m: Float(Self.readiness.faceWidthMeters), gate_near_m: Float(nearestFaceM), gate_far_m: Float(farthestFaceM),
            gate_reference_width: Int32(gateReferenceWidth), flip_below: Float(twoPass ? flipBelow : 0))
    }

    /// The kiosk's own size constants (`FaceReadinessConfig.interEyeMeters`, `faceWidthMeters`), so the gate and the readiness rules agree.
    static let readiness = FaceReadinessConfig()

    /// The range gate in words, or "" when off.
    public var gateDescription: String {
        guard nearestFaceM > 0 || farthestFaceM > 0 else { return "" }
        let near = nearestFaceM > 0 ? "\(nearestFaceM)" : "0"
        let far = farthestFaceM > 0 ? "\(farthestFaceM)" : "∞"
        return ", faces estimated \(near)…\(far) m only"
    }

    /// One line for logs and the CLI: "320×240 proposals ≥ 0.4, verified on 128² crops ≥ 0.8" or "320×240 ≥ 0.75".
    public var schemeDescription: String {
        guard verifySize > 0 else { return "\(detectionWidth)×\(detectionHeight) ≥ \(scoreThreshold), one pass\(gateDescription)" }
        let mirror =
            switch flipBelow {
            case ...0: ""
            case 1...: ", and on their mirror image"
            default: ", and on their mirror image when below \(flipBelow)"
            }
        return "\(detectionWidth)×\(detectionHeight) proposals ≥ \(proposalScoreThreshold) (at most \(maxProposals)), those below "
            + "\(verifyAbove) verified on \(verifySize)×\(verifySize) crops (margin \(verifyMargin)) ≥ \(scoreThreshold)\(mirror)\(gateDescription)"
    }
}

/// Which detector is running.
public enum FaceDetectorKind: String, Sendable {
    case yunet
    case haar
}

/// One OpenCV face detector. Not thread-safe: create and use it on one thread (see `DetectionWorker`).
public final class FaceDetector {
    public let kind: FaceDetectorKind
    public let config: FaceDetectorConfig
    /// Why YuNet is not running, when the cascade took over (names the model path and the failure).
    public let fallbackReason: String?
    private let handle: OpaquePointer
    private var faces: [cfd_face]

    /// `.ok`, or degraded ("blind to masked faces (…why…)") when running on the Haar fallback.
    public var health: HealthSupervisor.State {
        guard kind == .haar else { return .ok }
        return .degraded("blind to masked faces" + (fallbackReason.map { " (\($0))" } ?? ""))
    }

    /// Loads YuNet (checking the model's sha256 first); on failure, the Haar cascade if allowed.
    public init(config: FaceDetectorConfig, logger: Logger = Logger(label: "checkpointd.faces")) throws(AdapterError) {
        guard config.detectionWidth > 0, config.detectionHeight > 0 else {
            throw AdapterError(.detector, "detection size must be positive, got \(config.detectionWidth)×\(config.detectionHeight)")
        }
        guard config.maxFaces > 0 else { throw AdapterError(.detector, "maxFaces must be positive, got \(config.maxFaces)") }
        guard config.verifySize == 0 || config.maxProposals > 0 else {
            throw AdapterError(.detector, "maxProposals must be positive when verification is on, got \(config.maxProposals)")
        }
        self.config = config
        self.faces = [cfd_face](repeating: cfd_face(), count: config.maxFaces)
        do {
            handle = try Self.openYuNet(config)
            kind = .yunet
            fallbackReason = nil
        } catch {
            guard config.allowFallback else { throw error }
            do {
                handle = try Self.openHaar(config)
            } catch let haarError {
                throw AdapterError(.model, "no face detector could be loaded: \(error.description); fallback: \(haarError.description)")
            }
            kind = .haar
            fallbackReason = error.description
            logger.warning("face detector degraded to the Haar cascade: blind to masked faces", metadata: ["reason": "\(error.description)"])
        }
    }

    /// Loads only the Haar cascade (for comparisons and the technician CLI).
    public init(haarConfig config: FaceDetectorConfig) throws(AdapterError) {
        self.config = config
        self.faces = [cfd_face](repeating: cfd_face(), count: max(1, config.maxFaces))
        handle = try Self.openHaar(config)
        kind = .haar
        fallbackReason = "Haar cascade chosen explicitly"
    }

    deinit { cfd_destroy(handle) }

    /// Checks the model file: present, readable, the expected sha256. Errors name the path.
    public static func verifyModel(at path: String, sha256 expected: String?) throws(AdapterError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AdapterError(.model, "face model not found at \(path) (install face_detection_yunet_2022mar.onnx there, or set its path in the config)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdapterError(.model, "face model at \(path) is not readable")
        }
        guard let expected else { return }
        let actual = Digest.sha256Hex(data)
        guard actual == expected.lowercased() else {
            let hint = data.count < 1024 ? " — a \(data.count)-byte file, probably a Git LFS pointer, not the model" : ""
            throw AdapterError(.model, "face model at \(path) has sha256 \(actual), expected \(expected) (face_detection_yunet_2022mar.onnx)\(hint)")
        }
    }

    private static func openYuNet(_ config: FaceDetectorConfig) throws(AdapterError) -> OpaquePointer {
        try verifyModel(at: config.modelPath, sha256: config.modelSHA256)
        var options = config.cOptions
        var out: OpaquePointer?
        var err = [CChar](repeating: 0, count: 512)
        let status = cfd_create_yunet(config.modelPath, &options, &out, &err, err.count)
        guard status == CFD_OK, let out else {
            throw AdapterError(.model, "cannot load the YuNet face model at \(config.modelPath)", cause: .opencv(String(cBuffer: err)))
        }
        return out
    }

    private static func openHaar(_ config: FaceDetectorConfig) throws(AdapterError) -> OpaquePointer {
        guard FileManager.default.fileExists(atPath: config.cascadePath) else {
            throw AdapterError(.model, "Haar cascade not found at \(config.cascadePath) (Debian package opencv-data)")
        }
        var options = config.cOptions
        var out: OpaquePointer?
        var err = [CChar](repeating: 0, count: 512)
        let status = cfd_create_haar(config.cascadePath, &options, &out, &err, err.count)
        guard status == CFD_OK, let out else {
            throw AdapterError(.model, "cannot load the Haar cascade at \(config.cascadePath)", cause: .opencv(String(cBuffer: err)))
        }
        return out
    }

    /// Detects faces in a bgr24 or gray8 frame; boxes and landmarks are in the frame's pixels, best score first.
    public func detect(_ frame: Frame) throws(AdapterError) -> [DetectedFace] {
        try detect(pixels: frame.pixels, width: frame.width, height: frame.height, channels: frame.layout.bytesPerPixel)
    }

    /// Detects faces in packed pixels (3 channels BGR, or 1 gray).
    public func detect(pixels: [UInt8], width: Int, height: Int, channels: Int) throws(AdapterError) -> [DetectedFace] {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else {
            throw AdapterError(.detector, "image buffer is \(pixels.count) bytes, expected \(width)×\(height)×\(channels)")
        }
        var count: Int32 = 0
        var err = [CChar](repeating: 0, count: 512)
        let capacity = Int32(faces.count)
        let status = pixels.withUnsafeBufferPointer { px in
            faces.withUnsafeMutableBufferPointer { out in
                cfd_detect(handle, px.baseAddress, Int32(width), Int32(height), Int32(channels), 0, out.baseAddress, capacity, &count, &err, err.count)
            }
        }
        guard status == CFD_OK else {
            throw AdapterError(.detector, "face detection failed on a \(width)×\(height) image", cause: .opencv(String(cBuffer: err)))
        }
        let twoPass = kind == .yunet && config.verifySize > 0
        return faces.prefix(Int(count)).map { Self.convert($0, twoPass: twoPass) }
    }

    static func convert(_ f: cfd_face, twoPass: Bool) -> DetectedFace {
        let box = FaceBox(x: Double(f.x), y: Double(f.y), width: Double(f.width), height: Double(f.height))
        guard f.has_landmarks != 0 else { return DetectedFace(box: box, score: Double(f.score), verified: f.verified != 0) }
        let l = f.landmarks
        func p(_ i: Int) -> FacePoint {
            let xy = withUnsafeBytes(of: l) { raw in raw.bindMemory(to: Float.self) }
            return FacePoint(x: Double(xy[2 * i]), y: Double(xy[2 * i + 1]))
        }
        return DetectedFace(box: box, score: Double(f.score),
                            landmarks: FaceLandmarks(rightEye: p(0), leftEye: p(1), nose: p(2), rightMouth: p(3), leftMouth: p(4)),
                            proposalScore: twoPass ? Double(f.proposal_score) : nil, verified: f.verified != 0)
    }

    /// OpenCV's process-wide worker-thread count (≤ 0 lets OpenCV choose).
    public static func setThreads(_ n: Int) { cfd_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(cfd_get_num_threads()) }
}

import Foundation

/// When a face counts as ready for a temperature measurement.
public struct FaceReadinessConfig: Sendable, Equatable {
    // The settings of `[tracking]`: no default of their own here; `init()` takes the schema's
    // (`CheckpointConfigSchema`), `init(_ tracking:)` the daemon's configuration.
    /// Working range of the thermal sensor, metres from the camera.
    public var minDistanceMeters: Double
    public var maxDistanceMeters: Double
    /// Faces estimated farther than this (or than `maxDistanceMeters`, whichever is larger) are not
    /// people at the kiosk: a face in the background, a small spurious box. They never make a second person.
    public var personRangeMeters: Double
    /// The focal length in pixels when known from calibration; overrides the field of view.
    public var focalLengthPixels: Double?
    /// Largest sideways offset of the nose from the eyes' midpoint, as a fraction of the eye distance
    /// (0 = perfectly frontal; about 0.5 at a 45° head turn).
    public var maxAsymmetry: Double
    /// Smallest variance of the Laplacian on the face crop (see `Sharpness`).
    public var minSharpness: Double
    /// Frames the face must stay put (see `FaceTracker.stableIoU`) before it is ready.
    public var stableFrames: Int

    // Constants of the model, not settings.
    /// The camera's horizontal field of view; with the frame width it gives the focal length in pixels.
    public var horizontalFieldOfViewDegrees: Double = 60
    /// Typical adult face width as boxed by the detector, used when there are no landmarks.
    public var faceWidthMeters: Double = 0.15
    /// Typical adult distance between the eye centres (interpupillary distance).
    public var interEyeMeters: Double = 0.063
    /// Largest head tilt (the eye line's angle from horizontal), degrees.
    public var maxRollDegrees: Double = 20

    /// The schema's defaults for `[tracking]`.
    public init() { self.init(CheckpointConfig.Tracking.defaults) }

    /// The readiness rules from the daemon's `[tracking]` table.
    public init(_ tracking: CheckpointConfig.Tracking) {
        stableFrames = tracking.stableFrames
        minDistanceMeters = tracking.minDistanceMeters
        maxDistanceMeters = tracking.maxDistanceMeters
        focalLengthPixels = tracking.focalLengthPixels
        minSharpness = tracking.minSharpness
        maxAsymmetry = tracking.maxAsymmetry
        personRangeMeters = tracking.personRangeMeters
    }

    /// Checks the values; an error names the bad key.
    public func validate() throws(CoreError) {
        func bad(_ key: String, _ why: String) -> CoreError { CoreError(.invalidConfig, "tracking.\(key): \(why)") }
        guard minDistanceMeters > 0, maxDistanceMeters > minDistanceMeters else {
            throw bad("min_distance_m/max_distance_m", "need 0 < min < max, got \(minDistanceMeters)…\(maxDistanceMeters)")
        }
        guard horizontalFieldOfViewDegrees > 1, horizontalFieldOfViewDegrees < 179 else {
            throw bad("horizontal_fov_deg", "must be between 1 and 179, got \(horizontalFieldOfViewDegrees)")
        }
        guard personRangeMeters > 0 else { throw bad("person_range_m", "must be positive, got \(personRangeMeters)") }
        if let f = focalLengthPixels, !(f > 0) { throw bad("focal_length_px", "must be positive, got \(f)") }
        guard faceWidthMeters > 0, interEyeMeters > 0 else { throw bad("face_width_m/inter_eye_m", "must be positive") }
        guard maxAsymmetry > 0, maxRollDegrees > 0 else { throw bad("max_asymmetry/max_roll_deg", "must be positive") }
        guard minSharpness >= 0 else { throw bad("min_sharpness", "must not be negative") }
        guard stableFrames >= 1 else { throw bad("stable_frames", "must be at least 1, got \(stableFrames)") }
    }

    /// Focal length in pixels for a frame `width` pixels wide (pinhole model).
    public func focalLengthPixels(frameWidth: Int) -> Double {
        if let focalLengthPixels { return focalLengthPixels }
        return Double(frameWidth) / 2 / tan(horizontalFieldOfViewDegrees * .pi / 360)
    }

    /// Whether `face` can be a person at the kiosk: it passed verification, its thermal region is not at room
    /// temperature (`warmSkin`, a poster or a phone photo), and it is estimated no farther than `personRangeMeters`
    /// (never less than `maxDistanceMeters`). A face of unknown distance or unknown warmth counts.
    public func isPerson(_ face: DetectedFace, frameWidth: Int) -> Bool {
        guard face.verified, face.warmSkin != false else { return false }
        guard let d = distanceMeters(of: face, frameWidth: frameWidth) else { return true }
        return d <= max(personRangeMeters, maxDistanceMeters)
    }

    /// Distance estimate in metres: from the eye distance when landmarks exist, else from the box width.
    public func distanceMeters(of face: DetectedFace, frameWidth: Int) -> Double? {
        let f = focalLengthPixels(frameWidth: frameWidth)
        if let lm = face.landmarks, lm.interEyeDistance > 1 { return f * interEyeMeters / lm.interEyeDistance }
        if face.box.width > 1 { return f * faceWidthMeters / face.box.width }
        return nil
    }
}

/// Head pose from the five landmarks, judged by symmetry.
public struct FacePose: Sendable, Equatable {
    /// Nose offset along the eye line from the eyes' midpoint, in eye distances (signed).
    public var asymmetry: Double
    /// Eye line angle from horizontal, degrees (signed).
    public var rollDegrees: Double

    public init?(_ lm: FaceLandmarks) {
        let d = lm.interEyeDistance
        guard d > 0 else { return nil }
        let ux = (lm.leftEye.x - lm.rightEye.x) / d, uy = (lm.leftEye.y - lm.rightEye.y) / d
        let mx = (lm.leftEye.x + lm.rightEye.x) / 2, my = (lm.leftEye.y + lm.rightEye.y) / 2
        asymmetry = ((lm.nose.x - mx) * ux + (lm.nose.y - my) * uy) / d
        rollDegrees = atan2(uy, ux) * 180 / .pi
    }
}

/// Why a face is not (yet) ready, in the order the kiosk should address them.
public enum FaceNotReadyReason: Sendable, Equatable {
    case noFace
    case multipleFaces(count: Int)
    case tooFar(meters: Double)
    case tooClose(meters: Double)
    case notFrontal
    case blurry(sharpness: Double)
    case settling(stableFrames: Int, needed: Int)

    /// A short machine-readable code for status and metrics.
    public var code: String {
        switch self {
        case .noFace: return "no-face"
        case .multipleFaces: return "multiple-faces"
        case .tooFar: return "too-far"
        case .tooClose: return "too-close"
        case .notFrontal: return "not-frontal"
        case .blurry: return "blurry"
        case .settling: return "settling"
        }
    }

    /// What the kiosk tells the person.
    public var prompt: String {
        switch self {
        case .noFace: return "Please step in front of the camera"
        case .multipleFaces: return "One person at a time, please"
        case .tooFar: return "Please come closer"
        case .tooClose: return "Please step back a little"
        case .notFrontal: return "Please look straight at the camera"
        case .blurry, .settling: return "Please hold still"
        }
    }
}

/// The verdict on one frame.
public struct FaceAssessment: Sendable, Equatable {
    /// The face being judged (the only one, or the largest when several are visible).
    public var face: TrackedFace?
    public var distanceMeters: Double?
    public var pose: FacePose?
    public var sharpness: Double?
    /// Every unmet condition, most important first; empty when ready.
    public var reasons: [FaceNotReadyReason]

    public var isReady: Bool { reasons.isEmpty && face != nil }
    /// The one thing to tell the person, or nil when ready.
    public var reason: FaceNotReadyReason? { reasons.first }
}

/// Applies `FaceReadinessConfig` to the faces visible in a frame.
public struct FaceReadinessEvaluator: Sendable {
    public var config: FaceReadinessConfig

    public init(config: FaceReadinessConfig) { self.config = config }

    /// Judges the tracked faces of `frame`; sharpness is measured on the frame's pixels.
    public func assess(_ visible: [TrackedFace], in frame: Frame) -> FaceAssessment {
        guard let main = candidates(visible, frameWidth: frame.width).max(by: { $0.face.box.area < $1.face.box.area }) else {
            return assess(visible, frameWidth: frame.width, sharpness: nil)
        }
        return assess(visible, frameWidth: frame.width, sharpness: Sharpness.laplacianVariance(of: frame, in: main.face.box))
    }

    /// The faces that are judged: those that can be people (`isPerson`); when none can, the verified
    /// faces beyond the person range, so that someone standing too far back is asked to come closer.
    public func candidates(_ visible: [TrackedFace], frameWidth: Int) -> [TrackedFace] {
        let verified = visible.filter(\.face.verified)
        let people = verified.filter { config.isPerson($0.face, frameWidth: frameWidth) }
        return people.isEmpty ? verified : people
    }

    /// Judges the tracked faces given an already measured sharpness of the largest face.
    /// Only faces within the person range count towards "one person at a time"; failed proposals never count.
    public func assess(_ visible: [TrackedFace], frameWidth: Int, sharpness: Double?) -> FaceAssessment {
        let visible = candidates(visible, frameWidth: frameWidth)
        guard let main = visible.max(by: { $0.face.box.area < $1.face.box.area }) else {
            return FaceAssessment(face: nil, distanceMeters: nil, pose: nil, sharpness: nil, reasons: [.noFace])
        }
        var reasons: [FaceNotReadyReason] = []
        let people = visible.filter { config.isPerson($0.face, frameWidth: frameWidth) }
        if people.count > 1 { reasons.append(.multipleFaces(count: people.count)) }
        let distance = config.distanceMeters(of: main.face, frameWidth: frameWidth)
        if let distance {
            if distance > config.maxDistanceMeters { reasons.append(.tooFar(meters: distance)) }
            if distance < config.minDistanceMeters { reasons.append(.tooClose(meters: distance)) }
        } else {
            reasons.append(.tooFar(meters: .infinity))
        }
        // Without landmarks (the Haar fallback) pose cannot be judged; that cascade only fires on frontal faces.
        let pose = main.face.landmarks.flatMap(FacePose.init)
        if let pose, abs(pose.asymmetry) > config.maxAsymmetry || abs(pose.rollDegrees) > config.maxRollDegrees {
            reasons.append(.notFrontal)
        }
        if let sharpness, sharpness < config.minSharpness { reasons.append(.blurry(sharpness: sharpness)) }
        if main.stableFrames < config.stableFrames {
            reasons.append(.settling(stableFrames: main.stableFrames, needed: config.stableFrames))
        }
        return FaceAssessment(face: main, distanceMeters: distance, pose: pose, sharpness: sharpness, reasons: reasons)
    }
}

/// A point in image pixels.
public struct FacePoint: Sendable, Equatable, Hashable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    public func distance(to other: FacePoint) -> Double {
        ((x - other.x) * (x - other.x) + (y - other.y) * (y - other.y)).squareRoot()
    }
}

/// An axis-aligned box in image pixels (origin top-left).
public struct FaceBox: Sendable, Equatable, Hashable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var area: Double { max(0, width) * max(0, height) }
    public var center: FacePoint { FacePoint(x: x + width / 2, y: y + height / 2) }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }

    /// Intersection over union, 0 (disjoint) … 1 (identical).
    public func iou(_ other: FaceBox) -> Double {
        let ix = max(0, min(maxX, other.maxX) - max(x, other.x))
        let iy = max(0, min(maxY, other.maxY) - max(y, other.y))
        let inter = ix * iy
        let union = area + other.area - inter
        return union > 0 ? inter / union : 0
    }

    /// The box grown by `fraction` of its size on every side.
    public func expanded(by fraction: Double) -> FaceBox {
        FaceBox(x: x - width * fraction, y: y - height * fraction, width: width * (1 + 2 * fraction), height: height * (1 + 2 * fraction))
    }

    /// The whole pixels the box covers in a `width`×`height` image (x0, y0 inclusive; x1, y1 exclusive): clipped, edges
    /// rounded outwards; empty when the box lies outside (x1 <= x0 or y1 <= y0).
    public func pixelBounds(width w: Int, height h: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let r = clipped(width: w, height: h)
        return (Int(r.x.rounded(.down)), Int(r.y.rounded(.down)), min(w, Int(r.maxX.rounded(.up))), min(h, Int(r.maxY.rounded(.up))))
    }

    /// The box clipped to an image of the given size (may become empty).
    public func clipped(width w: Int, height h: Int) -> FaceBox {
        let x0 = min(max(0, x), Double(w)), y0 = min(max(0, y), Double(h))
        let x1 = min(max(0, maxX), Double(w)), y1 = min(max(0, maxY), Double(h))
        return FaceBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}

/// YuNet's five landmarks. "Right" is the person's right, which appears on the image's left.
public struct FaceLandmarks: Sendable, Equatable, Hashable {
    public var rightEye: FacePoint
    public var leftEye: FacePoint
    public var nose: FacePoint
    public var rightMouth: FacePoint
    public var leftMouth: FacePoint

    public init(rightEye: FacePoint, leftEye: FacePoint, nose: FacePoint, rightMouth: FacePoint, leftMouth: FacePoint) {
        self.rightEye = rightEye
        self.leftEye = leftEye
        self.nose = nose
        self.rightMouth = rightMouth
        self.leftMouth = leftMouth
    }

    /// In YuNet's order: right eye, left eye, nose tip, right mouth corner, left mouth corner.
    public var points: [FacePoint] { [rightEye, leftEye, nose, rightMouth, leftMouth] }

    public var interEyeDistance: Double { rightEye.distance(to: leftEye) }

    public func offset(dx: Double, dy: Double) -> FaceLandmarks {
        func m(_ p: FacePoint) -> FacePoint { FacePoint(x: p.x + dx, y: p.y + dy) }
        return FaceLandmarks(rightEye: m(rightEye), leftEye: m(leftEye), nose: m(nose), rightMouth: m(rightMouth), leftMouth: m(leftMouth))
    }
}

/// One face found in one frame.
public struct DetectedFace: Sendable, Equatable, Hashable {
    public var box: FaceBox
    /// Detector confidence 0–1 (the Haar fallback has none and reports 1).
    public var score: Double
    /// Nil when the detector gives none (the Haar fallback).
    public var landmarks: FaceLandmarks?
    /// The score in the proposal pass of two-pass detection (nil: one pass, or the Haar fallback).
    public var proposalScore: Double?
    /// False for a proposal that failed verification (reported only for diagnostics): never a person.
    public var verified: Bool
    /// False when the face's registered thermal region is at room temperature (a poster, a phone photo): never a
    /// person. Nil when not known (no fresh thermal frame, a single-point sensor): the face counts.
    public var warmSkin: Bool?

    public init(box: FaceBox, score: Double, landmarks: FaceLandmarks? = nil, proposalScore: Double? = nil, verified: Bool = true,
                warmSkin: Bool? = nil) {
        self.box = box
        self.score = score
        self.landmarks = landmarks
        self.proposalScore = proposalScore
        self.verified = verified
        self.warmSkin = warmSkin
    }
}

/// Everything one detection pass produced for one frame.
public struct FaceDetections: Sendable {
    public var frameSequence: UInt64
    public var monotonicNanos: UInt64
    public var frameWidth: Int
    public var frameHeight: Int
    public var faces: [DetectedFace]
    /// Wall time of the detection call, in milliseconds.
    public var milliseconds: Double

    public init(frameSequence: UInt64, monotonicNanos: UInt64, frameWidth: Int, frameHeight: Int, faces: [DetectedFace], milliseconds: Double) {
        self.frameSequence = frameSequence
        self.monotonicNanos = monotonicNanos
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.faces = faces
        self.milliseconds = milliseconds
    }
}

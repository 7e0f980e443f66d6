/// A face followed across frames: the same person keeps `id` while in view.
public struct TrackedFace: Sendable, Equatable {
    public var id: UInt64
    /// The latest detection.
    public var face: DetectedFace
    /// Frames in which this track was matched, including the first.
    public var frames: Int
    /// Consecutive frames, up to and including the latest, in which the face barely moved
    /// (IoU with the previous box ≥ the tracker's stability IoU). 1 after a jump or on the first frame.
    public var stableFrames: Int
    /// Frames since the face was last seen (0 = seen in the latest update).
    public var missed: Int

    public init(id: UInt64, face: DetectedFace, frames: Int, stableFrames: Int, missed: Int) {
        self.id = id
        self.face = face
        self.frames = frames
        self.stableFrames = stableFrames
        self.missed = missed
    }
}

/// Associates detections with tracks by intersection-over-union, greedily, best overlap first.
///
/// A detection that overlaps no live track by at least `matchIoU` starts a new track with a fresh id;
/// a track unmatched for more than `maxMissed` consecutive updates is dropped, so a person who
/// leaves and comes back gets a new id. Ids are never reused.
public struct FaceTracker: Sendable {
    public var matchIoU: Double
    public var stableIoU: Double
    public var maxMissed: Int
    public private(set) var tracks: [TrackedFace] = []
    private var nextID: UInt64 = 1

    public init(matchIoU: Double = 0.3, stableIoU: Double = 0.7, maxMissed: Int = 2) {
        precondition(matchIoU > 0 && matchIoU <= 1 && stableIoU > 0 && stableIoU <= 1 && maxMissed >= 0)
        self.matchIoU = matchIoU
        self.stableIoU = stableIoU
        self.maxMissed = maxMissed
    }

    /// Feeds one frame's detections; returns the tracks seen in this frame, in the order of `faces`.
    public mutating func update(_ faces: [DetectedFace]) -> [TrackedFace] {
        var pairs: [(iou: Double, track: Int, face: Int)] = []
        for (t, track) in tracks.enumerated() {
            for (f, face) in faces.enumerated() {
                let iou = track.face.box.iou(face.box)
                if iou >= matchIoU { pairs.append((iou, t, f)) }
            }
        }
        pairs.sort { $0.iou > $1.iou }
        var trackTaken = [Bool](repeating: false, count: tracks.count)
        var faceTrack = [Int?](repeating: nil, count: faces.count)
        for pair in pairs where !trackTaken[pair.track] && faceTrack[pair.face] == nil {
            trackTaken[pair.track] = true
            faceTrack[pair.face] = pair.track
            var track = tracks[pair.track]
            let steady = pair.iou >= stableIoU && track.missed == 0
            track.stableFrames = steady ? track.stableFrames + 1 : 1
            // Warmth unknown in this frame (no fresh thermal frame) keeps what the track was last judged: a poster
            // found cold stays cold, so one late thermal frame does not make it a second person for a moment.
            let previousWarmth = track.face.warmSkin
            track.face = faces[pair.face]
            if track.face.warmSkin == nil { track.face.warmSkin = previousWarmth }
            track.frames += 1
            track.missed = 0
            tracks[pair.track] = track
        }
        for t in tracks.indices where !trackTaken[t] { tracks[t].missed += 1 }
        var seen: [TrackedFace] = []
        for (f, face) in faces.enumerated() {
            if let t = faceTrack[f] {
                seen.append(tracks[t])
            } else {
                let track = TrackedFace(id: nextID, face: face, frames: 1, stableFrames: 1, missed: 0)
                nextID += 1
                tracks.append(track)
                seen.append(track)
            }
        }
        tracks.removeAll { $0.missed > maxMissed }
        return seen
    }

    /// Forgets every track (ids keep increasing).
    public mutating func reset() { tracks.removeAll() }
}

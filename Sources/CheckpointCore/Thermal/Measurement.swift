/// A face as the camera side reports it, ready to be measured.
public struct FaceObservation: Sendable, Equatable {
    /// The face box in camera pixels.
    public var box: PixelRect
    public var cameraWidth: Int
    public var cameraHeight: Int
    /// Estimated subject distance (from face width or eye landmarks), metres.
    public var distanceM: Double

    public init(box: PixelRect, cameraWidth: Int, cameraHeight: Int, distanceM: Double) {
        self.box = box; self.cameraWidth = cameraWidth; self.cameraHeight = cameraHeight; self.distanceM = distanceM
    }
}

/// One frame's measurement of one face, in the sensor's own (raw) °C.
public struct ThermalMeasurement: Sendable, Equatable {
    /// The robust maximum: mean of the top N eye-band pixels after the 3×3 median.
    public var statisticC: Double
    public var maxC: Double
    public var meanC: Double
    public var p90C: Double
    /// Thermal pixels whose centre lies in the mapped face box.
    public var facePixels: Int
    public var bandPixels: Int
    public var thermalBox: PixelRect
    public var ambientC: Double
}

public enum MeasurementProblem: Sendable, Equatable, Error {
    case tooFar(facePixels: Int, required: Int)
    case notCentred
}

public struct MeasurementConfig: Sendable, Equatable {
    /// Top N pixels averaged for the robust maximum.
    public var topN: Int = 4
    /// The eye band, as fractions of the face box height from its top (inner canthi lie around 35–45 %).
    public var bandTop: Double = 0.2
    public var bandBottom: Double = 0.55
    /// Fewer thermal pixels than this on the face → "too far".
    public var minFacePixels: Int = 12
    /// Farthest subject distance accepted at all, metres.
    public var maxDistanceM: Double = 1.2
    /// Single-point sensors: the face centre must lie within this fraction of the frame around its centre.
    public var centreTolerance: Double = 0.2

    public init() {}
}

/// The eye-band statistic over a registered face box.
public struct EyeBandMeasurer: Sendable {
    public var config: MeasurementConfig
    public var registration: Registration

    public init(config: MeasurementConfig = MeasurementConfig(), registration: Registration) {
        self.config = config
        self.registration = registration
    }

    /// Measures `face` in `frame` (the frame already passed the quality filter).
    public func measure(_ face: FaceObservation, in frame: ThermalFrame) -> Result<ThermalMeasurement, MeasurementProblem> {
        if face.distanceM > config.maxDistanceM { return .failure(.tooFar(facePixels: 0, required: config.minFacePixels)) }
        if frame.isSinglePoint {
            // Single-point modules: read only while the face is centred and in range.
            let dx = abs(face.box.centreX / Double(face.cameraWidth) - 0.5)
            let dy = abs(face.box.centreY / Double(face.cameraHeight) - 0.5)
            guard dx <= config.centreTolerance, dy <= config.centreTolerance else { return .failure(.notCentred) }
            let v = Double(frame.pixels[0])
            return .success(ThermalMeasurement(statisticC: v, maxC: v, meanC: v, p90C: v, facePixels: 1, bandPixels: 1,
                                               thermalBox: PixelRect(x: 0, y: 0, width: 1, height: 1), ambientC: frame.ambientC))
        }
        let box = registration.map(face.box, distanceM: face.distanceM)
        let filtered = FrameQualityFilter.medianFiltered(frame)
        var facePixels = 0
        var band: [Double] = []
        let bandTop = box.y + config.bandTop * box.height, bandBottom = box.y + config.bandBottom * box.height
        for y in 0..<frame.height {
            let cy = Double(y) + 0.5
            guard cy >= box.y, cy < box.maxY else { continue }
            for x in 0..<frame.width {
                let cx = Double(x) + 0.5
                guard cx >= box.x, cx < box.maxX else { continue }
                facePixels += 1
                if cy >= bandTop, cy < bandBottom { band.append(Double(filtered[x, y])) }
            }
        }
        guard facePixels >= config.minFacePixels, !band.isEmpty else {
            return .failure(.tooFar(facePixels: facePixels, required: config.minFacePixels))
        }
        band.sort()
        let top = band.suffix(max(1, min(config.topN, band.count)))
        let statistic = top.reduce(0, +) / Double(top.count)
        let mean = band.reduce(0, +) / Double(band.count)
        return .success(ThermalMeasurement(statisticC: statistic, maxC: band.last!, meanC: mean, p90C: Self.percentile(band, 0.9),
                                           facePixels: facePixels, bandPixels: band.count, thermalBox: box, ambientC: frame.ambientC))
    }

    /// Linear-interpolated percentile of sorted values.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard sorted.count > 1 else { return sorted.first ?? .nan }
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (pos - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}

/// A least-squares straight line `reference = gain·raw + offset` through blackbody set points (2 or N points).
public struct LinearFit: Sendable, Equatable {
    public struct Point: Sendable, Equatable, Codable {
        public var rawC: Double
        public var referenceC: Double
        public init(rawC: Double, referenceC: Double) { self.rawC = rawC; self.referenceC = referenceC }
    }

    public var gain: Double
    public var offset: Double
    public var points: [Point]
    /// reference − fitted, per point.
    public var residuals: [Double]
    public var residualRMSC: Double
    public var maxResidualC: Double

    public static func fit(_ points: [Point]) throws(CoreError) -> LinearFit {
        guard points.count >= 2 else {
            throw CoreError(.fitFailed, "a calibration needs at least 2 set points, got \(points.count)")
        }
        for (i, p) in points.enumerated() where !p.rawC.isFinite || !p.referenceC.isFinite {
            throw CoreError(.fitFailed, "set point \(i + 1) is not a number (raw \(p.rawC), reference \(p.referenceC))")
        }
        let n = Double(points.count)
        let mx = points.reduce(0) { $0 + $1.rawC } / n
        let my = points.reduce(0) { $0 + $1.referenceC } / n
        var sxx = 0.0, sxy = 0.0
        for p in points {
            sxx += (p.rawC - mx) * (p.rawC - mx)
            sxy += (p.rawC - mx) * (p.referenceC - my)
        }
        guard sxx > 1e-9 else {
            throw CoreError(.fitFailed, "the raw readings do not differ between set points (spread \(sxx)); use set points at least 2 °C apart")
        }
        let gain = sxy / sxx
        guard gain > 0 else {
            throw CoreError(.fitFailed, "the fitted gain \(gain) is not positive: the sensor reads lower for a hotter blackbody; check the region and set points")
        }
        let offset = my - gain * mx
        let residuals = points.map { $0.referenceC - (gain * $0.rawC + offset) }
        let rms = (residuals.reduce(0) { $0 + $1 * $1 } / n).squareRoot()
        return LinearFit(gain: gain, offset: offset, points: points, residuals: residuals,
                         residualRMSC: rms, maxResidualC: residuals.map(abs).max() ?? 0)
    }
}

/// Additive offsets by subject distance, linearly interpolated and held constant beyond the ends.
public struct DistanceTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var distanceM: Double
        public var offsetC: Double
        public init(distanceM: Double, offsetC: Double) { self.distanceM = distanceM; self.offsetC = offsetC }
    }

    public private(set) var entries: [Entry]

    public init(_ entries: [Entry]) throws(CoreError) {
        let sorted = entries.sorted { $0.distanceM < $1.distanceM }
        for (i, e) in sorted.enumerated() {
            guard e.distanceM.isFinite, e.distanceM > 0, e.offsetC.isFinite else {
                throw CoreError(.invalidCalibration, "distance table entry \(e.distanceM) m → \(e.offsetC) °C is not valid (distance must be > 0)")
            }
            if i > 0, sorted[i - 1].distanceM == e.distanceM {
                throw CoreError(.invalidCalibration, "distance table lists \(e.distanceM) m twice")
            }
        }
        self.entries = sorted
    }

    public static let empty = try! DistanceTable([])

    public func offset(at distanceM: Double) -> Double {
        guard let first = entries.first, let last = entries.last else { return 0 }
        if distanceM <= first.distanceM { return first.offsetC }
        if distanceM >= last.distanceM { return last.offsetC }
        for i in 1..<entries.count where distanceM <= entries[i].distanceM {
            let a = entries[i - 1], b = entries[i]
            let t = (distanceM - a.distanceM) / (b.distanceM - a.distanceM)
            return a.offsetC + t * (b.offsetC - a.offsetC)
        }
        return last.offsetC
    }
}

/// An in-scene blackbody (external temperature reference source) region in thermal pixels.
public struct ReferenceRegion: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public var temperatureC: Double
    /// Refuse a measurement when the region's standard deviation exceeds this.
    public var maxNoiseC: Double
    /// Refuse when the corrected region is further than this from its set point (blackbody off, covered or moved).
    public var maxDriftC: Double

    public init(x: Int, y: Int, width: Int, height: Int, temperatureC: Double, maxNoiseC: Double = 0.5, maxDriftC: Double = 3) {
        self.x = x; self.y = y; self.width = width; self.height = height
        self.temperatureC = temperatureC; self.maxNoiseC = maxNoiseC; self.maxDriftC = maxDriftC
    }

    /// Mean and standard deviation of the region's pixels, or nil if it lies outside the frame.
    public func statistics(in frame: ThermalFrame) -> (mean: Double, sd: Double, count: Int)? {
        guard width > 0, height > 0, x >= 0, y >= 0, x + width <= frame.width, y + height <= frame.height else { return nil }
        var values: [Double] = []
        for yy in y..<(y + height) { for xx in x..<(x + width) { values.append(Double(frame[xx, yy])) } }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (mean, variance.squareRoot(), values.count)
    }
}

/// Every stage of one correction, kept so results and logs can show how a value was reached.
public struct CorrectionStages: Sendable, Equatable, Codable {
    public var rawC: Double
    /// gain·raw + offset
    public var fittedC: Double
    /// In-scene reference drift added at the fit stage (0 without a reference).
    public var referenceDriftC: Double
    public var ambientTermC: Double
    public var distanceTermC: Double
    public var skinToBodyC: Double
    public var correctedC: Double

    enum CodingKeys: String, CodingKey {
        case rawC = "raw_c", fittedC = "fitted_c", referenceDriftC = "reference_drift_c", ambientTermC = "ambient_term_c"
        case distanceTermC = "distance_term_c", skinToBodyC = "skin_to_body_c", correctedC = "corrected_c"
    }
}

public enum ReferenceProblem: Sendable, Equatable, Error {
    case missing(String)
    case noisy(sdC: Double, limitC: Double)
}

/// The thermal calibration as the maths needs it. Built from plain fields so it does not depend on the config file type.
///
/// `T = gain·raw + offset (+ reference drift) + ambientCoefficient·(Ta − ambientReferenceC) + distance(d) + skinToBody`
public struct ThermalCalibration: Sendable, Equatable {
    public var id: String
    public var gain: Double
    public var offset: Double
    public var ambientCoefficient: Double
    public var ambientReferenceC: Double
    public var distanceTable: DistanceTable
    public var skinToBodyOffsetC: Double
    public var emissivity: Double
    public var reference: ReferenceRegion?
    /// A shipped example, not this sensor's calibration: screening answers invalid, "not calibrated".
    public var isExample = false

    public init(id: String, gain: Double = 1, offset: Double = 0, ambientCoefficient: Double = 0, ambientReferenceC: Double = 25,
                distanceTable: DistanceTable = .empty, skinToBodyOffsetC: Double = 0, emissivity: Double = 0.98,
                reference: ReferenceRegion? = nil) throws(CoreError) {
        guard gain.isFinite, gain > 0 else {
            throw CoreError(.invalidCalibration, "calibration '\(id)': gain must be a positive number, not \(gain)")
        }
        for (name, v) in [("offset", offset), ("ambient coefficient", ambientCoefficient), ("ambient reference", ambientReferenceC),
                          ("skin-to-body offset", skinToBodyOffsetC)] where !v.isFinite {
            throw CoreError(.invalidCalibration, "calibration '\(id)': \(name) is not a number")
        }
        guard emissivity > 0, emissivity <= 1 else {
            throw CoreError(.invalidCalibration, "calibration '\(id)': emissivity must be within (0, 1], not \(emissivity)")
        }
        self.id = id; self.gain = gain; self.offset = offset
        self.ambientCoefficient = ambientCoefficient; self.ambientReferenceC = ambientReferenceC
        self.distanceTable = distanceTable; self.skinToBodyOffsetC = skinToBodyOffsetC
        self.emissivity = emissivity; self.reference = reference
    }

    /// The factory default: identity fit, no corrections. Results carry its id so they are visibly uncalibrated.
    public static let uncalibrated = try! ThermalCalibration(id: "uncalibrated")

    /// Drift from the in-scene reference in this frame (added at the fit stage), or why there is none.
    public func referenceDrift(in frame: ThermalFrame) -> Result<Double, ReferenceProblem> {
        guard let ref = reference else { return .success(0) }
        guard let stats = ref.statistics(in: frame) else {
            return .failure(.missing("reference region (\(ref.x),\(ref.y)) \(ref.width)×\(ref.height) lies outside the \(frame.width)×\(frame.height) frame"))
        }
        if stats.sd * gain > ref.maxNoiseC { return .failure(.noisy(sdC: stats.sd * gain, limitC: ref.maxNoiseC)) }
        let drift = ref.temperatureC - (gain * stats.mean + offset)
        if abs(drift) > ref.maxDriftC {
            return .failure(.missing("reference region reads \(gain * stats.mean + offset) °C, set point \(ref.temperatureC) °C: blackbody off, covered or moved"))
        }
        return .success(drift)
    }

    /// Applies every stage to one raw value.
    public func correct(rawC: Double, ambientC: Double, distanceM: Double, referenceDriftC: Double = 0) -> CorrectionStages {
        let fitted = gain * rawC + offset
        let ambient = ambientCoefficient * (ambientC - ambientReferenceC)
        let distance = distanceTable.offset(at: distanceM)
        let corrected = fitted + referenceDriftC + ambient + distance + skinToBodyOffsetC
        return CorrectionStages(rawC: rawC, fittedC: fitted, referenceDriftC: referenceDriftC, ambientTermC: ambient,
                                distanceTermC: distance, skinToBodyC: skinToBodyOffsetC, correctedC: corrected)
    }
}

/// Fits the two corrections a blackbody cannot give — the skin-to-body offset and the distance table — from
/// volunteers measured by the kiosk and, at the same moment, with a clinical thermometer.
///
/// Each reading is (distance, the kiosk's body-temperature estimate, the clinical reading). The kiosk's estimate
/// already contains the current offset and distance term, so the fits are corrections of the current values:
///   - skin-to-body: new offset = current + mean(clinical − kiosk), over every reading;
///   - distance: readings are grouped by distance (within ±`groupToleranceM`); each group's mean error relative to
///     the mean error at the reference distance (the group nearest `referenceDistanceM`) is added to the current
///     table at that distance, so after it no distance reads higher or lower than the reference one. The overall
///     level is left to the skin-to-body offset.
/// Each value comes with its standard error (sd / √n) and a 95 % half-width (Student t), so a province can see how
/// much the volunteers support it.
public enum VolunteerCalibration {
    public struct Reading: Sendable, Equatable {
        public var distanceM: Double
        public var kioskC: Double
        public var clinicalC: Double
        public init(distanceM: Double, kioskC: Double, clinicalC: Double) {
            self.distanceM = distanceM
            self.kioskC = kioskC
            self.clinicalC = clinicalC
        }
        /// clinical − kiosk.
        public var errorC: Double { clinicalC - kioskC }
    }

    /// A mean with its uncertainty.
    public struct Estimate: Sendable, Equatable {
        public var value: Double
        public var standardErrorC: Double
        /// Half-width of the 95 % confidence interval.
        public var ci95C: Double
        public var count: Int
        /// Standard deviation of the errors that made it.
        public var sdC: Double
    }

    public struct SkinToBody: Sendable, Equatable {
        public var previousC: Double
        public var offset: Estimate
    }

    public struct DistanceGroup: Sendable, Equatable {
        public var distanceM: Double
        public var previousOffsetC: Double
        /// The new table offset at `distanceM`, with the uncertainty of this group's mean relative to the reference.
        public var offset: Estimate
    }

    public struct Distance: Sendable, Equatable {
        public var referenceDistanceM: Double
        public var groups: [DistanceGroup]
        /// The new table: one point per group, increasing distance.
        public var table: [(distanceM: Double, offsetC: Double)] { groups.map { ($0.distanceM, $0.offset.value) } }

        public static func == (a: Distance, b: Distance) -> Bool { a.referenceDistanceM == b.referenceDistanceM && a.groups == b.groups }
    }

    public static let minimumReadings = 5

    public static func skinToBody(_ readings: [Reading], current: Double) throws(CoreError) -> SkinToBody {
        try check(readings)
        guard readings.count >= minimumReadings else {
            throw CoreError(.fitFailed, "the skin-to-body offset needs at least \(minimumReadings) volunteer readings, got \(readings.count)")
        }
        let e = estimate(readings.map(\.errorC))
        return SkinToBody(previousC: current, offset: Estimate(value: current + e.value, standardErrorC: e.standardErrorC, ci95C: e.ci95C,
                                                               count: e.count, sdC: e.sdC))
    }

    public static func distance(_ readings: [Reading], table: DistanceTable, referenceDistanceM: Double,
                                groupToleranceM: Double = 0.05) throws(CoreError) -> Distance {
        try check(readings)
        var groups: [[Reading]] = []
        for r in readings.sorted(by: { $0.distanceM < $1.distanceM }) {
            if let first = groups.last?.first, r.distanceM - first.distanceM <= groupToleranceM * 2 {
                groups[groups.count - 1].append(r)
            } else {
                groups.append([r])
            }
        }
        guard groups.count >= 2 else {
            throw CoreError(.fitFailed, "a distance table needs readings at 2 or more distances at least \(groupToleranceM * 2) m apart, got \(groups.count)")
        }
        for g in groups where g.count < 3 {
            throw CoreError(.fitFailed, "each distance needs at least 3 readings; \(round2(mean(g.map(\.distanceM)))) m has \(g.count)")
        }
        let centres = groups.map { mean($0.map(\.distanceM)) }
        let ref = centres.indices.min { abs(centres[$0] - referenceDistanceM) < abs(centres[$1] - referenceDistanceM) }!
        let refErrors = groups[ref].map(\.errorC)
        let refMean = mean(refErrors)
        let out = groups.indices.map { i -> DistanceGroup in
            let errors = groups[i].map(\.errorC)
            let e = estimate(errors)
            // The uncertainty of a difference of two independent means; the reference group's own is its mean's.
            let se = i == ref ? e.standardErrorC : (e.standardErrorC * e.standardErrorC
                                                     + estimate(refErrors).standardErrorC * estimate(refErrors).standardErrorC).squareRoot()
            let previous = table.offset(at: centres[i])
            let value = previous + (i == ref ? 0 : e.value - refMean)
            let dof = i == ref ? errors.count - 1 : min(errors.count, refErrors.count) - 1
            return DistanceGroup(distanceM: round2(centres[i]), previousOffsetC: previous,
                                 offset: Estimate(value: value, standardErrorC: se, ci95C: studentT95(dof) * se, count: errors.count, sdC: e.sdC))
        }
        return Distance(referenceDistanceM: round2(centres[ref]), groups: out)
    }

    static func check(_ readings: [Reading]) throws(CoreError) {
        for (i, r) in readings.enumerated() {
            guard r.distanceM.isFinite, r.distanceM > 0.02, r.distanceM <= 5 else {
                throw CoreError(.invalidInput, "reading \(i + 1): distance \(r.distanceM) m is outside 0.02…5 m")
            }
            guard r.kioskC.isFinite, r.clinicalC.isFinite, (30...45).contains(r.kioskC), (30...45).contains(r.clinicalC) else {
                throw CoreError(.invalidInput, "reading \(i + 1): temperatures must be body temperatures in 30…45 °C (kiosk \(r.kioskC), clinical \(r.clinicalC))")
            }
        }
    }

    static func estimate(_ values: [Double]) -> Estimate {
        let n = values.count
        let m = mean(values)
        let sd = n > 1 ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : 0
        let se = n > 0 ? sd / Double(n).squareRoot() : 0
        return Estimate(value: m, standardErrorC: se, ci95C: studentT95(n - 1) * se, count: n, sdC: sd)
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    /// Two-sided 95 % Student t quantile for `dof` degrees of freedom.
    static func studentT95(_ dof: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        if dof < 1 { return .infinity }
        if dof <= table.count { return table[dof - 1] }
        return dof <= 60 ? 2.000 : 1.960
    }
}

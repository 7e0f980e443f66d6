/// What the thermal side sees now, for a technician at a running kiosk (`GET /v1/thermal` on the API socket,
/// `checkpointctl sensor live`, `checkpointctl watch`): the newest frame raw and calibrated, and where the face in
/// view falls on it with its eye-band figures. Nothing personal: temperatures and pixel positions only.
public struct ThermalLiveView: Sendable, Equatable, Codable {
    public struct Face: Sendable, Equatable, Codable {
        /// The camera face box mapped onto the thermal frame, thermal pixels [x, y, width, height].
        public var thermalBox: [Double]
        public var distanceM: Double
        /// Thermal pixels on the face and in its eye band; nil figures when too few to measure.
        public var facePixels: Int
        public var bandPixels: Int
        /// The eye-band statistic (mean of the top N), raw and through every calibration stage.
        public var statisticRawC: Double?
        public var stages: CorrectionStages?
        /// Why there is no measurement (too far, not centred), if there is none.
        public var problem: String?
    }

    public var width: Int
    public var height: Int
    public var sequence: UInt64
    /// Seconds since the frame arrived.
    public var ageSeconds: Double
    public var ambientC: Double
    /// Row-major sensor °C, rounded to 0.01.
    public var rawC: [Double]
    /// Row-major, through the fit and the ambient term (a blackbody or skin reading, before distance and skin-to-body).
    public var calibratedC: [Double]
    public var calibrationId: String
    public var face: Face?

    public init(frame: ThermalFrame, face observation: FaceObservation?, calibration: ThermalCalibration, measurer: EyeBandMeasurer,
                nowNanos: UInt64) {
        width = frame.width
        height = frame.height
        sequence = frame.sequence
        ageSeconds = Double(nowNanos &- min(nowNanos, frame.monotonicNanos)) / 1e9
        ambientC = Self.r2(frame.ambientC)
        rawC = frame.pixels.map { Self.r2(Double($0)) }
        calibratedC = frame.pixels.map { px in
            let s = calibration.correct(rawC: Double(px), ambientC: frame.ambientC, distanceM: 0)
            return Self.r2(s.fittedC + s.ambientTermC)
        }
        calibrationId = calibration.id
        guard let observation else { return }
        let box = measurer.registration.map(observation.box, distanceM: observation.distanceM)
        var f = Face(thermalBox: [box.x, box.y, box.width, box.height].map(Self.r2), distanceM: Self.r2(observation.distanceM),
                     facePixels: 0, bandPixels: 0)
        switch measurer.measure(observation, in: frame) {
        case .success(let m):
            f.facePixels = m.facePixels
            f.bandPixels = m.bandPixels
            f.statisticRawC = Self.r2(m.statisticC)
            f.stages = calibration.correct(rawC: m.statisticC, ambientC: m.ambientC, distanceM: observation.distanceM)
        case .failure(.tooFar(let px, let required)):
            f.facePixels = px
            f.problem = "too far: \(px) thermal pixels on the face, \(required) needed"
        case .failure(.notCentred):
            f.problem = "not centred in the single-point sensor's view"
        }
        face = f
    }

    static func r2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
}

extension ScreeningEngine {
    /// The newest frame as a technician sees it, with the face's figures when one is in view.
    public func liveView(_ frame: ThermalFrame, face: FaceObservation?, nowNanos: UInt64) -> ThermalLiveView {
        ThermalLiveView(frame: frame, face: face, calibration: calibration, measurer: measurer, nowNanos: nowNanos)
    }
}

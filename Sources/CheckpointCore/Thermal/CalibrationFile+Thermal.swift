extension ThermalCalibration {
    /// The calibration maths from a validated calibration file.
    public init(_ file: CalibrationFile) throws(CoreError) {
        let reference: ReferenceRegion?
        if file.reference.enabled {
            let r = file.reference.region
            guard r.count == 4 else {
                throw CoreError(.invalidCalibration, "calibration '\(file.record.id)': reference.region must be [x, y, width, height]")
            }
            reference = ReferenceRegion(x: r[0], y: r[1], width: r[2], height: r[3], temperatureC: file.reference.temperatureC, maxNoiseC: file.reference.maxNoiseC)
        } else {
            reference = nil
        }
        try self.init(
            id: file.record.id, gain: file.fit.gain, offset: file.fit.offset,
            ambientCoefficient: file.ambient.coefficient, ambientReferenceC: file.ambient.referenceC,
            distanceTable: try DistanceTable(file.distance.map { .init(distanceM: $0.distanceM, offsetC: $0.offsetC) }),
            skinToBodyOffsetC: file.skinToBodyOffsetC, emissivity: file.sensor.emissivity, reference: reference)
        isExample = file.isExample
    }
}

extension Registration {
    /// The camera → thermal mapping from a validated calibration file.
    public init(_ file: CalibrationFile) throws(CoreError) {
        try self.init(homography: try Homography(file.registration.homography), nominalDistanceM: file.registration.nominalDistanceM,
                      baselineM: file.registration.baselineM, parallaxPxM: file.registration.parallaxPxM)
    }
}

extension SensorIdentity {
    public init(_ file: CalibrationFile, port: String? = nil) {
        self.init(model: file.sensor.model, serial: file.sensor.serial, port: port)
    }
}

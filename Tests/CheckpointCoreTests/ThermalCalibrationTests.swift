import Testing
@testable import CheckpointCore

/// Calibration maths, property-tested with a seeded generator.
@Suite struct ThermalCalibrationTests {
    @Test(arguments: 0..<25) func fitRecoversKnownGainAndOffset(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed) + 100)
        let gain = rng.double(in: 0.7...1.4), offset = rng.double(in: -6...6)
        let n = 2 + Int(rng.next() % 5)
        let refs = (0..<n).map { 30 + Double($0) * 10 / Double(n) + rng.double(in: 0...0.5) }
        // The sensor's raw value is the inverse of the calibration; noise-free, the fit must be exact.
        let points = refs.map { LinearFit.Point(rawC: ($0 - offset) / gain, referenceC: $0) }
        let fit = try LinearFit.fit(points)
        for p in points { #expect(abs(fit.gain * p.rawC + fit.offset - p.referenceC) < 0.01, "seed \(seed)") }
        #expect(abs(fit.gain - gain) < 1e-6)
        #expect(abs(fit.offset - offset) < 1e-4)
        #expect(fit.residualRMSC < 0.01)
        // With ±0.02 °C noise on N points the corrected value at 37 °C stays within 0.01 °C of truth on average.
        var noisy = points
        for i in noisy.indices { noisy[i].rawC += rng.double(in: -0.005...0.005) }
        let nf = try LinearFit.fit(noisy)
        #expect(abs(nf.gain * ((37 - offset) / gain) + nf.offset - 37) < 0.01 + 0.01 * gain, "seed \(seed)")
    }

    @Test func fitReportsResidualsAndRejectsDegenerateInput() throws {
        let fit = try LinearFit.fit([.init(rawC: 33, referenceC: 35), .init(rawC: 35.1, referenceC: 37), .init(rawC: 37.9, referenceC: 40)])
        #expect(fit.residuals.count == 3)
        #expect(fit.residualRMSC > 0 && fit.maxResidualC >= fit.residualRMSC)
        #expect(throws: CoreError.self) { try LinearFit.fit([.init(rawC: 33, referenceC: 35)]) }
        #expect(throws: CoreError.self) { try LinearFit.fit([.init(rawC: 33, referenceC: 35), .init(rawC: 33, referenceC: 40)]) }
        #expect(throws: CoreError.self) { try LinearFit.fit([.init(rawC: 35, referenceC: 35), .init(rawC: 33, referenceC: 40)]) }
    }

    @Test(arguments: 0..<25) func monotonicInputGivesMonotonicOutput(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed) + 999)
        let table = try DistanceTable((0..<Int(rng.next() % 5)).map { i in
            DistanceTable.Entry(distanceM: 0.2 + Double(i) * 0.25, offsetC: rng.double(in: -1...3))
        })
        let cal = try ThermalCalibration(id: "t", gain: rng.double(in: 0.5...2), offset: rng.double(in: -10...10),
                                         ambientCoefficient: rng.double(in: -0.2...0.2), ambientReferenceC: 25,
                                         distanceTable: table, skinToBodyOffsetC: rng.double(in: 0...2))
        let ambient = rng.double(in: 15...40), distance = rng.double(in: 0.1...1.5)
        var raws = (0..<50).map { _ in rng.double(in: 20...45) }
        raws.sort()
        let out = raws.map { cal.correct(rawC: $0, ambientC: ambient, distanceM: distance).correctedC }
        for i in 1..<out.count where raws[i] > raws[i - 1] {
            #expect(out[i] > out[i - 1], "seed \(seed): raw \(raws[i - 1])→\(raws[i]) gave \(out[i - 1])→\(out[i])")
        }
    }

    @Test func pipelineStagesAddUp() throws {
        let cal = try ThermalCalibration(id: "cal-1", gain: 1.05, offset: -0.8, ambientCoefficient: 0.1, ambientReferenceC: 25,
                                         distanceTable: try DistanceTable([.init(distanceM: 0.3, offsetC: 0.5), .init(distanceM: 0.7, offsetC: 1.3)]),
                                         skinToBodyOffsetC: 1.2)
        let s = cal.correct(rawC: 34, ambientC: 30, distanceM: 0.5)
        #expect(abs(s.fittedC - (1.05 * 34 - 0.8)) < 1e-9)
        #expect(abs(s.ambientTermC - 0.5) < 1e-9)
        #expect(abs(s.distanceTermC - 0.9) < 1e-9)
        #expect(abs(s.correctedC - (s.fittedC + 0.5 + 0.9 + 1.2)) < 1e-9)
        #expect(throws: CoreError.self) { try ThermalCalibration(id: "x", gain: 0) }
        #expect(throws: CoreError.self) { try ThermalCalibration(id: "x", gain: -1) }
        #expect(throws: CoreError.self) { try ThermalCalibration(id: "x", emissivity: 1.5) }
    }

    @Test func distanceTableInterpolatesAndHoldsEnds() throws {
        let t = try DistanceTable([.init(distanceM: 0.5, offsetC: 2.41), .init(distanceM: 0.1, offsetC: 0.89), .init(distanceM: 0.3, offsetC: 1.36)])
        #expect(t.offset(at: 0.05) == 0.89)
        #expect(abs(t.offset(at: 0.2) - (0.89 + 1.36) / 2) < 1e-9)
        #expect(abs(t.offset(at: 0.4) - (1.36 + 2.41) / 2) < 1e-9)
        #expect(t.offset(at: 2) == 2.41)
        #expect(DistanceTable.empty.offset(at: 1) == 0)
        #expect(throws: CoreError.self) { try DistanceTable([.init(distanceM: 0.3, offsetC: 1), .init(distanceM: 0.3, offsetC: 2)]) }
        #expect(throws: CoreError.self) { try DistanceTable([.init(distanceM: -1, offsetC: 1)]) }
    }

    @Test func inSceneReferenceDriftNoiseAndMissing() throws {
        var frame = ThermalFrame(width: 32, height: 24, pixels: [Float](repeating: 25, count: 768), ambientC: 30)
        for y in 19..<22 { for x in 27..<30 { frame[x, y] = 34 } }
        let ref = ReferenceRegion(x: 27, y: 19, width: 3, height: 3, temperatureC: 35)
        let cal = try ThermalCalibration(id: "r", gain: 1, offset: 0, reference: ref)
        #expect(cal.referenceDrift(in: frame) == .success(1))
        var noisy = frame
        noisy[27, 19] = 36; noisy[28, 19] = 32
        if case .failure(.noisy) = cal.referenceDrift(in: noisy) {} else { Issue.record("noisy reference accepted") }
        var off = frame
        for y in 19..<22 { for x in 27..<30 { off[x, y] = 25 } }
        if case .failure(.missing) = cal.referenceDrift(in: off) {} else { Issue.record("missing blackbody accepted") }
        let outside = try ThermalCalibration(id: "o", reference: ReferenceRegion(x: 30, y: 22, width: 4, height: 4, temperatureC: 35))
        if case .failure(.missing) = outside.referenceDrift(in: frame) {} else { Issue.record("reference outside the frame accepted") }
    }
}

@Suite struct ThermalRegistrationTests {
    @Test func homographyFitRecoversAKnownTransform() throws {
        let truth = try Homography([0.05, 0.002, 1.5, -0.001, 0.052, -0.7, 0.00001, 0.00002, 1])
        var pairs: [Homography.Pair] = []
        for (x, y) in [(50.0, 40.0), (600, 30), (320, 240), (40, 450), (610, 440), (200, 300)] {
            let t = truth.apply(x: x, y: y)
            pairs.append(.init(cameraX: x, cameraY: y, thermalX: t.x, thermalY: t.y))
        }
        let fit = try Homography.fit(pairs)
        for (x, y) in [(100.0, 100.0), (500, 400), (320, 10)] {
            let a = fit.apply(x: x, y: y), b = truth.apply(x: x, y: y)
            #expect(abs(a.x - b.x) < 1e-6 && abs(a.y - b.y) < 1e-6)
        }
        #expect(throws: CoreError.self) { try Homography.fit(Array(pairs.prefix(3))) }
        let collinear = (0..<5).map { Homography.Pair(cameraX: Double($0) * 10, cameraY: Double($0) * 10, thermalX: Double($0), thermalY: Double($0)) }
        #expect(throws: CoreError.self) { try Homography.fit(collinear) }
    }

    @Test func parallaxShiftsAlongTheBaseline() throws {
        let reg = try Registration(homography: .scaling(fromWidth: 640, height: 480, toWidth: 32, height: 24),
                                   nominalDistanceM: 0.5, baselineM: 0.025, parallaxPxM: 0.77)
        let box = PixelRect(x: 200, y: 100, width: 200, height: 240)
        let atNominal = reg.map(box, distanceM: 0.5)
        #expect(abs(atNominal.x - 10) < 1e-9 && abs(atNominal.width - 10) < 1e-9)
        let near = reg.map(box, distanceM: 0.25)
        #expect(abs(near.x - atNominal.x - 0.77 * (4 - 2)) < 1e-9)
        #expect(near.y == atNominal.y)
        // Fit the parallax back from pairs at another distance.
        let pairs = [(Homography.Pair(cameraX: 100, cameraY: 100, thermalX: 5 + 1.54, thermalY: 5), 0.25),
                     (Homography.Pair(cameraX: 300, cameraY: 200, thermalX: 15 - 0.77, thermalY: 10), 1.0)]
        let k = Registration.fitParallax(homography: reg.homography, pairs: pairs.map { ($0.0, $0.1) }, nominalDistanceM: 0.5)
        #expect(abs(k - 0.77) < 1e-9)
    }
}

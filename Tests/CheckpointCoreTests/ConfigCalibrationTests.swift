import Foundation
import Testing
@testable import CheckpointCore

@Suite struct ConfigCalibrationTests {
    typealias F = ConfigFixtures

    static func sample(points: [(Double, Double)] = [(34.1, 35.0), (38.95, 40.0)], method: CalibrationFile.Method = .twoPoint)
        -> CalibrationFile
    {
        let pts = points.map { CalibrationFile.BlackbodyPoint(rawC: $0.0, referenceC: $0.1) }
        let gain = 1.0309, offset = -0.1546
        let (rms, mx) = CalibrationFile.Fit.residuals(gain: gain, offset: offset, points: pts)
        return CalibrationFile(
            sensor: .init(model: "gy-mcu90640", serial: "SN \"quoted\" \\ 42", emissivity: 0.97),
            record: .init(
                id: "cal-1", calibratedBy: "Nguyễn Văn A",
                calibratedAt: ConfigDateTime(kind: .offsetDateTime, year: 2026, month: 11, day: 20, hour: 9, minute: 30, second: 5, offsetMinutes: 420),
                method: method),
            fit: .init(gain: gain, offset: offset, points: pts, residualRMSC: rms, maxResidualC: mx),
            ambient: .init(coefficient: -0.0125, referenceC: 24.5),
            distance: [.init(distanceM: 0.3, offsetC: 0.2), .init(distanceM: 0.55, offsetC: 0.45), .init(distanceM: 1.0, offsetC: 1.25)],
            skinToBodyOffsetC: 1.1,
            registration: .init(homography: [0.0545, 0.001, -1.44, 0, 0.0643, -3.43, 1e-5, 0, 1], nominalDistanceM: 0.5, baselineM: 0.03, parallaxPxM: -0.77),
            reference: .init(enabled: true, region: [28, 20, 3, 3], temperatureC: 40, maxNoiseC: 0.3))
    }

    @Test func renderThenParseRoundTrips() throws {
        let original = Self.sample()
        let text = original.render()
        let parsed = try CalibrationFile.parse(text, file: "/tmp/roundtrip.toml")
        #expect(parsed == original)
        // And the written text is stable.
        #expect(parsed.render() == text)
        #expect(parsed.record.calibratedAt.description == "2026-11-20T09:30:05+07:00")
        #expect(parsed.record.calibratedAt.date == Date(timeIntervalSince1970: 1_795_141_805))
    }

    @Test func renderedFileCommentsEveryKey() throws {
        let text = Self.sample().render()
        let missing = ConfigExampleFilesTests.undocumentedKeys(in: text, schema: CalibrationFile.schema)
        #expect(missing.isEmpty, "\(missing)")
        // Every schema key is written (none left commented out).
        let doc = try TOMLDocument.parse(text, file: "x").get()
        for (path, _) in CalibrationFile.schema.allKeys() {
            #expect(doc.locator.line(for: path) != nil, "\(path) not written")
        }
    }

    @Test func calibrationChecks() {
        func problems(_ edit: (inout String) -> Void) -> [String] {
            var text = Self.sample().render()
            edit(&text)
            do {
                _ = try CalibrationFile.parse(text, file: "cal.toml")
                return []
            } catch {
                return error.diagnostics.map { "\($0.line ?? 0) \($0.keyPath): \($0.message)" }
            }
        }
        let base = Self.sample().render()
        // Residuals that do not match gain, offset and points (someone edited the gain by hand).
        let gainEdited = problems { $0 = $0.replacingOccurrences(of: "gain = 1.0309", with: "gain = 1.05") }
        #expect(gainEdited.contains { $0.contains("fit.residual_rms_c:") && $0.contains("does not match") }, "\(gainEdited)")
        #expect(gainEdited.contains { $0.contains("fit.max_residual_c:") })
        // A distance table that goes backwards points at the offending row.
        let backwards = problems { $0 = $0.replacingOccurrences(of: "[0.55, 0.45]", with: "[0.25, 0.45]") }
        let rowLine = F.line(of: "[0.55, 0.45]", in: base)
        #expect(backwards == ["\(rowLine) distance.table[1]: distance 0.25 m is not greater than the previous 0.3 m"])
        // Method and point count disagree.
        #expect(problems { $0 = $0.replacingOccurrences(of: "method = \"2-point\"", with: "method = \"n-point\"") }
            .contains { $0.contains("needs at least 3 points") })
        // A singular homography.
        #expect(problems { $0.replace(#/homography = \[.*\]/#, with: "homography = [1, 2, 3, 2, 4, 6, 0, 0, 1]") }
            .contains { $0.contains("registration.homography: is singular") })
        // Wrong element count, region outside the frame, a local (offset-less) date-time.
        #expect(problems { $0 = $0.replacingOccurrences(of: "region = [28, 20, 3, 3]", with: "region = [30, 20, 3, 3]") }
            .contains { $0.contains("reference.region: [30, 20, 3, 3] is not inside") })
        #expect(problems { $0 = $0.replacingOccurrences(of: "2026-11-20T09:30:05+07:00", with: "2026-11-20T09:30:05") }
            .contains { $0.contains("calibration.calibrated_at: expected a date-time with offset") })
        #expect(problems { $0 = $0.replacingOccurrences(of: "[34.1, 35.0]", with: "[34.1]") }
            .contains { $0.contains("fit.points[0]: has 1 elements, needs 2") })
    }

    @Test func residualsOfAnExactTwoPointFitAreZero() {
        let pts = [CalibrationFile.BlackbodyPoint(rawC: 34, referenceC: 35), .init(rawC: 39, referenceC: 40)]
        let r = CalibrationFile.Fit.residuals(gain: 1, offset: 1, points: pts)
        #expect(r.rms == 0 && r.max == 0)
        let r2 = CalibrationFile.Fit.residuals(gain: 1, offset: 1.5, points: pts)
        #expect(abs(r2.rms - 0.5) < 1e-12 && abs(r2.max - 0.5) < 1e-12)
    }
}

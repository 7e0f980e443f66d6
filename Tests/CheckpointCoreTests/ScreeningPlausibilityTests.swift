import Testing
@testable import CheckpointCore

@Suite struct ScreeningPlausibilityTests {
    static func engine() -> ScreeningEngine { ScreeningTests.engine(k: 3) }

    @Test func aColdReadingIsInvalidNeverNormal() throws {
        var e = Self.engine()
        let r = try req(ScreeningTests.run(&e, temps: [27.0, 27.1, 27.0]))
        #expect(r.outcome == .invalid, "a face that reads 27 °C was not measured; it must not pass as normal")
        #expect(r.invalidReason == .implausible)
        #expect(r.correctedC == nil)
        #expect(r.detail?.contains("below the plausible") == true)
    }

    @Test func anImplausiblyHighReadingStaysElevated() throws {
        var e = Self.engine()
        let r = try req(ScreeningTests.run(&e, temps: [45.0, 45.0, 45.0]))
        #expect(r.outcome == .elevated, "never hidden: a secondary check decides")
        #expect(r.detail?.contains("implausibly high") == true)
    }

    @Test func theBoundsAreConfigurable() throws {
        var e = Self.engine()
        e.config.plausibleC = nil
        let r = try req(ScreeningTests.run(&e, temps: [27.0, 27.0, 27.0]))
        #expect(r.outcome == .normal, "with the check off, the threshold alone decides")
    }
}

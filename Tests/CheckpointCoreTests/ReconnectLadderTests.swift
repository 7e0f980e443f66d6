import Testing
@testable import CheckpointCore

/// The one reconnect ladder, under both devices' schedules: the camera's (jittered, 0.5 … 30 s) and the thermal
/// sensor's (plain doubling, 0.5 … 8 s).
@Suite struct ReconnectLadderTests {
    static func thermal() -> ReconnectLadder {
        ReconnectLadder(schedule: .thermal(minimumBackoff: 0.5, maximumBackoff: 8))
    }

    static func camera(random: Double) -> ReconnectLadder {
        ReconnectLadder(schedule: .camera(minimumBackoff: 0.5, maximumBackoff: 30), random: { random })
    }

    static func delays(_ ladder: inout ReconnectLadder, _ faults: [ReconnectFault]) -> [ReconnectAction] {
        faults.map { ladder.handle($0) }
    }

    @Test func thermalBackoffDoublesFromHalfASecondAndStopsAtEight() {
        var l = Self.thermal()
        let actions = Self.delays(&l, Array(repeating: .failure, count: 8))
        #expect(actions == [0.5, 1, 2, 4, 8, 8, 8, 8].map { ReconnectAction.reopen(afterSeconds: $0) })
    }

    @Test func cameraBackoffDoublesItsCeilingUpToThirtySeconds() {
        // random 0.999… draws the ceiling itself; 0 draws half of it, never below the minimum.
        var top = Self.camera(random: 0.999_999_999)
        var bottom = Self.camera(random: 0)
        let ceilings: [Double] = [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
        for ceiling in ceilings {
            guard case .reopen(let a) = top.handle(.failure), case .reopen(let b) = bottom.handle(.failure) else {
                Issue.record("a failure must reopen")
                return
            }
            #expect(abs(a - ceiling) < 1e-6, "ceiling \(ceiling), got \(a)")
            #expect(b == max(0.5, ceiling / 2), "lower half bound of \(ceiling), got \(b)")
        }
    }

    @Test func aSuccessResetsTheBackoffAndTheStallCount() {
        var l = Self.thermal()
        _ = Self.delays(&l, [.failure, .failure, .failure, .stall])
        #expect(l.isRecovering)
        l.succeeded()
        #expect(!l.isRecovering)
        #expect(l.consecutiveFailures == 0 && l.consecutiveStalls == 0)
        #expect(l.handle(.failure) == .reopen(afterSeconds: 0.5), "back to the first rung")
        l.succeeded()
        #expect(l.handle(.stall) == .restart, "a stall after a success restarts in place again")
    }

    @Test func stallsEscalateRestartThenReopenAtOnceThenBackOff() {
        var l = Self.thermal()
        #expect(Self.delays(&l, [.stall, .stall, .stall, .stall, .stall]) == [
            .restart, .reopen(afterSeconds: 0), .reopen(afterSeconds: 1), .reopen(afterSeconds: 2), .reopen(afterSeconds: 4),
        ])
        var c = Self.camera(random: 0.999_999_999)
        let camera = Self.delays(&c, [.stall, .stall, .stall])
        #expect(camera[0] == .restart && camera[1] == .reopen(afterSeconds: 0))
        guard case .reopen(let third) = camera[2] else { Issue.record("third stall must reopen"); return }
        #expect(abs(third - 1) < 1e-6, "the free reopen counted as a failure: ceiling 1 s, got \(third)")
    }

    @Test func anOtherFaultEndsAStallRun() {
        var l = Self.thermal()
        #expect(l.handle(.stall) == .restart)
        #expect(l.handle(.failure) == .reopen(afterSeconds: 0.5), "a first stall only restarts: this is the first failure")
        #expect(l.handle(.stall) == .restart, "the stall count starts again after a different fault")
    }

    @Test func anIOErrorReopensAtOnceOnlyWhenItIsTheFirstFailure() {
        var l = Self.thermal()
        #expect(l.handle(.ioError) == .reopen(afterSeconds: 0))
        #expect(l.handle(.ioError) == .reopen(afterSeconds: 1))
        var m = Self.thermal()
        #expect(m.handle(.failure) == .reopen(afterSeconds: 0.5))
        #expect(m.handle(.ioError) == .reopen(afterSeconds: 1), "not the first failure: backs off")
    }

    @Test func neverGivesUpAndNeverLeavesTheSchedule() {
        var l = Self.camera(random: 0.3)
        var t = Self.thermal()
        let cycle: [ReconnectFault] = [.stall, .ioError, .failure, .stall, .stall, .stall]
        for i in 0..<6_000 {
            let f = cycle[i % cycle.count]
            for action in [l.handle(f), t.handle(f)] {
                switch action {
                case .restart: continue
                case .reopen(let d): #expect(d == 0 || (d >= 0.5 && d <= 30), "delay \(d)")
                }
            }
        }
        guard case .reopen(let d) = t.handle(.failure) else { Issue.record("must reopen"); return }
        #expect(d == 8)
    }

    @Test func aScheduleWhoseMaximumIsBelowItsMinimumUsesTheMinimum() {
        let s = ReconnectSchedule(minimumBackoff: 2, maximumBackoff: 1, jitter: false)
        #expect(s.maximumBackoff == 2)
        var l = ReconnectLadder(schedule: s)
        #expect(Self.delays(&l, [.failure, .failure]) == [.reopen(afterSeconds: 2), .reopen(afterSeconds: 2)])
    }
}

import CheckpointCore
import Testing

@Suite struct SupervisorPolicyTests {
    @Test func petsOnlyWhileNoStageIsStalled() {
        var policy = SupervisorPolicy()
        #expect(policy.tick(status: "a", stalled: []).petWatchdog)
        #expect(!policy.tick(status: "a", stalled: [.camera]).petWatchdog)
        #expect(!policy.tick(status: "a", stalled: [.camera, .thermal]).petWatchdog)
        #expect(policy.tick(status: "a", stalled: []).petWatchdog)
    }

    @Test func statusIsSentOnlyWhenItChanges() {
        var policy = SupervisorPolicy()
        #expect(policy.tick(status: "ok; queue 0", stalled: []).status == "ok; queue 0")
        #expect(policy.tick(status: "ok; queue 0", stalled: []).status == nil)
        #expect(policy.tick(status: "ok; queue 1", stalled: []).status == "ok; queue 1")
        #expect(policy.tick(status: "ok; queue 1", stalled: [.camera]).status == nil)
    }

    @Test func aStallIsLoggedWhenTheSetChangesAndTheRecoveryOnce() {
        var policy = SupervisorPolicy()
        let sequence: [[HealthStage]] = [[], [.camera], [.camera], [.camera, .thermal], [.camera, .thermal], [], []]
        let logs = sequence.map { policy.tick(status: "s", stalled: $0).log }
        #expect(logs == [nil, .stalled([.camera]), nil, .stalled([.camera, .thermal]), nil, .recovered, nil])
    }
}

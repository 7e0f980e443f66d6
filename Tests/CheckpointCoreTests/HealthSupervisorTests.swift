import Testing
@testable import CheckpointCore

@Suite struct HealthSupervisorTests {
    let s: UInt64 = 1_000_000_000

    @Test func petsOnlyWhileEveryStageProgresses() {
        var h = HealthSupervisor()
        h.register(.camera, stallLimitSeconds: 10, now: 0)
        h.register(.thermal, stallLimitSeconds: 10, now: 0)
        #expect(h.shouldPetWatchdog(now: 5 * s))
        h.progress(.camera, now: 9 * s)
        #expect(!h.shouldPetWatchdog(now: 11 * s), "thermal silent for 11 s: a hung stage must stop the pings")
        #expect(h.stalled(now: 11 * s).map(\.name) == ["thermal"])
        h.progress(.thermal, now: 12 * s)
        #expect(h.shouldPetWatchdog(now: 13 * s))
    }

    @Test func aReportedRecoveryIsASignOfLife() {
        var h = HealthSupervisor()
        h.register(.camera, stallLimitSeconds: 10, now: 0)
        h.report(.camera, .recovering("unplugged, retry in 8 s"), now: 8 * s)
        #expect(h.shouldPetWatchdog(now: 15 * s))
        #expect(h.overall == .recovering("unplugged, retry in 8 s"))
        h.progress(.camera, now: 16 * s)
        #expect(h.overall == .ok, "a frame after recovery returns the stage to ok")
    }

    @Test func overallIsTheWorstStage() {
        var h = HealthSupervisor()
        h.register(.detector, stallLimitSeconds: 1, now: 0)
        h.register(.thermal, stallLimitSeconds: 1, now: 0)
        h.progress(.detector, now: 1)
        h.progress(.thermal, now: 1)
        #expect(h.overall == .ok)
        h.report(.detector, .degraded("blind to masked faces"), now: 2)
        #expect(h.overall == .degraded("blind to masked faces"))
        h.report(.thermal, .failed("no model"), now: 2)
        #expect(h.overall == .failed("no model"))
    }

    @Test func statusLineIsReadable() {
        let line = StatusLine(cameraFPS: 14.96, sensor: "ok", queueDepth: 3, secondsSinceLastUpload: 125, overall: "ok")
        #expect(line.text == "ok; camera 15.0 fps; sensor ok; queue 3; last upload 2m ago")
        let idle = StatusLine(cameraFPS: nil, sensor: "warming up", queueDepth: 0, secondsSinceLastUpload: nil, overall: "starting")
        #expect(idle.text == "starting; camera no frames; sensor warming up; queue 0; no upload yet")
        #expect(StatusLine.age(59) == "59s" && StatusLine.age(3 * 3600) == "3h" && StatusLine.age(3 * 86400) == "3d")
        // dead letters and an uplink that needs a person are visible in `systemctl status`
        let dead = StatusLine(cameraFPS: 15, sensor: "ok", queueDepth: 7, secondsSinceLastUpload: 30, overall: "ok", deadLetters: 2,
                              uploadNeedsAttention: true)
        #expect(dead.text == "ok; camera 15.0 fps; sensor ok; queue 7 (2 dead letters); last upload 30s ago; UPLOAD NEEDS ATTENTION")
        let moved = StatusLine(cameraFPS: 15, sensor: "ok", queueDepth: 0, secondsSinceLastUpload: nil, overall: "ok", quarantinedQueues: 1)
        #expect(moved.text.hasSuffix("; no upload yet; CORRUPT QUEUE MOVED ASIDE (see /healthz)"))
    }
}

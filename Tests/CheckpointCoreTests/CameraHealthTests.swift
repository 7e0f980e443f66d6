import CheckpointCore
import Testing

@Suite struct CameraHealthStageTests {
    /// Frames are the camera stage's progress; only a degraded camera reports, as a recovery (a sign of life).
    @Test func onlyADegradedCameraReportsToHealth() {
        #expect(CameraHealth.starting.stageState == nil)
        #expect(CameraHealth.streaming.stageState == nil)
        #expect(CameraHealth.degraded("ENODEV; reopening in 2 s").stageState == .recovering("ENODEV; reopening in 2 s"))
    }
}

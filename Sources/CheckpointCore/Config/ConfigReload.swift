/// What a reload (SIGHUP, `systemctl reload checkpointd`) applies to the running daemon, and what only
/// takes effect after a restart.
///
/// Applied at once: screening thresholds, frame counts and the declaration hold, the calibration file (gain/offset, registration),
/// thermal warm-up, the face snapshot's crop and quality, and the whole `[upload]` section (endpoint, TLS
/// files, timeouts, backoff). A restart is needed for what is opened or bound once at start: the camera and
/// the sensor devices, the detector model, the tracker, the API socket, the kiosk screen (`[ui]`), the queue database, logging and the
/// kiosk identity (it is written into every record).
public enum ConfigReload {
    /// The changed settings that need a restart, as `section` or `section.key` names (empty when a reload
    /// applies everything).
    public static func restartRequired(from a: CheckpointConfig, to b: CheckpointConfig) -> [String] {
        var changed: [String] = []
        if a.kiosk != b.kiosk { changed.append("kiosk") }
        if a.camera != b.camera { changed.append("camera") }
        if a.detector != b.detector { changed.append("detector") }
        if a.tracking != b.tracking { changed.append("tracking") }
        if a.thermal.port != b.thermal.port || a.thermal.model != b.thermal.model || a.thermal.baud != b.thermal.baud
            || a.thermal.frameRateHz != b.thermal.frameRateHz || a.thermal.asciiPattern != b.thermal.asciiPattern {
            changed.append("thermal")
        }
        // Written to the sensor when the link opens.
        if a.calibration.sensor.emissivity != b.calibration.sensor.emissivity { changed.append("calibration.sensor.emissivity") }
        if a.api != b.api { changed.append("api") }
        // The screen's directory and preview are bound into the TCP listener at start.
        if a.ui != b.ui { changed.append("ui") }
        if a.queue != b.queue { changed.append("queue") }
        if a.logging != b.logging { changed.append("logging") }
        return changed
    }
}

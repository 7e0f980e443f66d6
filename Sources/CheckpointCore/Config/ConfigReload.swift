/// What a reload (SIGHUP, `systemctl reload checkpointd`) applies to the running daemon, and what only
/// takes effect after a restart.
///
/// The schema says it, key by key (`ConfigKey.needsRestart`): what is opened or bound once at start — the camera
/// and the sensor devices, the detector model, the tracker, the API socket, the kiosk screen (`[ui]`), the queue
/// database, logging, the kiosk identity (written into every record) and the emissivity written to the sensor —
/// needs a restart. Everything else (screening thresholds, frame counts, the declaration hold, the calibration
/// file, warm-up, the face snapshot, the whole `[upload]` section) is applied at once.
public enum ConfigReload {
    /// The changed settings that need a restart, as `section.key` names in schema order (empty when a reload
    /// applies everything).
    public static func restartRequired(from a: CheckpointConfig, to b: CheckpointConfig) -> [String] {
        var changed: [String] = []
        for (path, key) in CheckpointConfigSchema.root.allKeys() where key.needsRestart {
            if value(a.resolved, path, key) != value(b.resolved, path, key) { changed.append(TOMLKeyPath.render(path)) }
        }
        for (path, key) in CalibrationFile.schema.allKeys() where key.needsRestart {
            if CalibrationFile.restartValue(a.calibration, path) != CalibrationFile.restartValue(b.calibration, path) {
                changed.append("calibration." + TOMLKeyPath.render(path))
            }
        }
        return changed
    }

    /// The key's value as the daemon uses it (a path resolved against the file that wrote it).
    static func value(_ r: ResolvedTable, _ path: [String], _ key: ConfigKey) -> ConfigValue? {
        var t = r
        for name in path.dropLast() { t = t[table: name] }
        if key.isPath, let p = t.path(key.name) { return .string(p) }
        return t.values[key.name]
    }
}

extension CalibrationFile {
    /// The value of a calibration key the schema marks `needsRestart`, for `ConfigReload` (a calibration file is
    /// applied whole on reload, except what is written to the sensor when its link opens).
    static func restartValue(_ c: CalibrationFile, _ path: [String]) -> ConfigValue? {
        switch path {
        case ["sensor", "emissivity"]: return .float(c.sensor.emissivity)
        default: return nil   // ConfigReloadTests checks that every such key is listed here
        }
    }
}

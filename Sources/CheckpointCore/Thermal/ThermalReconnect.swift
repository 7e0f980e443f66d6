extension ReconnectSchedule {
    /// The thermal sensor's schedule: plain doubling (no jitter, one sensor per kiosk) from 0.5 s up to 8 s, kept short
    /// so a replugged sensor is back within seconds.
    ///
    /// | fault | action |
    /// |---|---|
    /// | no valid frame for `stale_periods` periods | re-send the init commands; the next stall reopens the port at once; later ones report the sensor unavailable and reopen with backoff |
    /// | cannot open, init fails, read error, unplug | report unavailable, reopen with backoff |
    public static func thermal(minimumBackoff: Double = 0.5, maximumBackoff: Double = 8) -> ReconnectSchedule {
        ReconnectSchedule(minimumBackoff: minimumBackoff, maximumBackoff: maximumBackoff, jitter: false)
    }
}

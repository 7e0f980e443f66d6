import Foundation

/// Whether the kernel's clock is synchronised, from `adjtimex(2)` with no modes set (a read).
///
/// The kernel clears STA_UNSYNC when an NTP daemon (chrony, systemd-timesyncd, ntpd) disciplines the clock and sets
/// it again when the daemon stops updating it (after about 16 minutes); adjtimex then also returns TIME_ERROR.
/// So this works for every NTP client alike, unlike a daemon's own flag file.
public enum ClockSync {
    /// STA_UNSYNC in `timex.status` (linux/timex.h).
    public static let staUnsync: Int32 = 0x0040
    /// adjtimex's TIME_ERROR return: the clock is not synchronised.
    public static let timeError: Int32 = 5

    /// `returnValue` and `status` of `adjtimex`; nil when the call failed (-1: e.g. EPERM under a seccomp filter),
    /// so the caller can use another source.
    public static func synced(returnValue: Int32, status: Int32) -> Bool? {
        guard returnValue >= 0 else { return nil }
        return returnValue != timeError && status & staUnsync == 0
    }

    /// A boot id as the kernel writes it (`/proc/sys/kernel/random/boot_id`): a lower-case UUID; nil otherwise.
    public static func bootID(fromFile text: String) -> String? {
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let hex = Set("0123456789abcdef")
        let groups = id.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        guard groups == [8, 4, 4, 4, 12], id.allSatisfy({ $0 == "-" || hex.contains($0) }) else { return nil }
        return id
    }
}

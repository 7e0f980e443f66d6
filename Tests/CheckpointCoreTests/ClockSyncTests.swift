import Testing
@testable import CheckpointCore

/// #15: the record's clockSynced comes from the kernel (adjtimex), for any NTP client.
@Suite struct ClockSyncTests {
    @Test func statusBitsMapToSynced() {
        // TIME_OK (0), STA_PLL|STA_NANO set, STA_UNSYNC clear: chrony or timesyncd disciplining the clock.
        #expect(ClockSync.synced(returnValue: 0, status: 0x0001 | 0x2000) == true)
        // STA_UNSYNC set (boot, or no NTP update for ~16 min).
        #expect(ClockSync.synced(returnValue: 0, status: 0x0040) == false)
        #expect(ClockSync.synced(returnValue: 0, status: 0x0040 | 0x2000) == false)
        // TIME_ERROR returned: unsynchronised whatever the bits say.
        #expect(ClockSync.synced(returnValue: 5, status: 0) == false)
        // Leap second states (TIME_INS 1, TIME_DEL 2, TIME_OOP 3, TIME_WAIT 4) are synchronised.
        for rc: Int32 in 1...4 { #expect(ClockSync.synced(returnValue: rc, status: 0x2000) == true) }
        // The call refused (EPERM under a seccomp filter): unknown, so the caller falls back.
        #expect(ClockSync.synced(returnValue: -1, status: 0) == nil)
    }

    @Test func bootIdsAreTheKernelsFormatOnly() {
        #expect(ClockSync.bootID(fromFile: "0f6d2a84-5c1e-4b7a-9a43-2f0e6c1d9b57\n") == "0f6d2a84-5c1e-4b7a-9a43-2f0e6c1d9b57")
        #expect(ClockSync.bootID(fromFile: "") == nil)
        #expect(ClockSync.bootID(fromFile: "unknown") == nil)
        #expect(ClockSync.bootID(fromFile: "0F6D2A84-5C1E-4B7A-9A43-2F0E6C1D9B57") == nil)
        #expect(ClockSync.bootID(fromFile: "0f6d2a84-5c1e-4b7a-9a43-2f0e6c1d9b5") == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CheckpointAdapters

/// The adapters' one errno classification, their one EINTR loop and their one device wait.
@Suite struct AdapterErrorTests {
    @Test func errnoIsClassifiedOnceForEveryDevice() {
        #expect(AdapterError(errno: ENODEV, .ioctl, "VIDIOC_DQBUF on /dev/video0").code == .disconnected)
        #expect(AdapterError(errno: ENXIO, .io, "read from /dev/ttyUSB0").code == .disconnected)
        #expect(AdapterError(errno: EBUSY, .open, "cannot open camera /dev/video0").code == .busy)
        #expect(AdapterError(errno: EIO, .ioctl, "VIDIOC_DQBUF on /dev/video0").code == .io)
        #expect(AdapterError(errno: EINVAL, .ioctl, "VIDIOC_S_FMT on /dev/video0").code == .ioctl, "anything else keeps what failed")
        // A missing node is an unplug only when opening a device node; a missing file stays an open error (a config problem).
        #expect(AdapterError(errno: ENOENT, .open, "cannot open camera /dev/video9", deviceNode: true).isDisconnect)
        #expect(AdapterError(errno: ENOENT, .open, "client certificate /etc/x.pem is not readable").code == .open)
        #expect(AdapterError.posix(.storage, "cannot open the queue lock", errno: ENOSPC).code == .storage)
        #expect(AdapterError.posix(.storage, "x", errno: ENODEV).isDisconnect)
        let e = AdapterError(errno: ENODEV, .io, "read from /dev/ttyUSB0")
        #expect(e.errnoValue == ENODEV && e.cause == .errno(ENODEV))
        #expect(e.description.hasPrefix("read from /dev/ttyUSB0 (disconnected): errno \(ENODEV)"))
    }

    @Test func eintrIsRetriedAndOtherErrorsAreThrownClassified() throws {
        var calls = 0
        let r = try retryingOnInterrupt("test call") { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 7
        }
        #expect(r == 7 && calls == 3)
        do {
            _ = try retryingOnInterrupt("read from a closed fd", code: .io) { Glibc.read(-1, nil, 0) }
            Issue.record("read(-1) must fail")
        } catch {
            #expect(error.errnoValue == EBADF && error.code == .io && error.message == "read from a closed fd")
        }
        do {
            _ = try retryingOnInterrupt("cannot open", code: .open, deviceNode: true) { Glibc.open("/nonexistent/video0", O_RDONLY) }
            Issue.record("open of a missing node must fail")
        } catch {
            #expect(error.isDisconnect)
        }
    }

    @Test func theDeviceWaitSeesDataAndCancellation() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let cancellation = CaptureCancellation()
        #expect(try pollDevice(fds[0], events: Int16(POLLIN), timeoutMillis: 0, cancellation: cancellation) == 0, "nothing yet: timeout")
        _ = write(fds[1], "x", 1)
        let revents = try pollDevice(fds[0], events: Int16(POLLIN), timeoutMillis: 1000, cancellation: cancellation)
        #expect(revents.map { $0 & Int16(POLLIN) != 0 } == true)
        cancellation.cancel()
        #expect(try pollDevice(fds[0], events: Int16(POLLIN), timeoutMillis: 1000, cancellation: cancellation) == nil, "cancelled wins")
        #expect(cancellation.isCancelled)
    }

    @Test func aBackoffWaitEndsWhenCancelledFromAnotherThread() {
        let cancellation = CaptureCancellation()
        #expect(cancellation.sleep(seconds: 0) == true, "a zero wait completes")
        Thread { usleep(50_000); cancellation.cancel() }.start()
        // Without the wake-up this would return true after 30 s.
        #expect(cancellation.sleep(seconds: 30) == false)
        #expect(cancellation.sleep(seconds: 30) == false, "stays cancelled")
    }
}

// capture-check: the daemon's V4L2 capture engine (Sources/CheckpointAdapters/Camera, Sources/CheckpointCore/Camera),
// compiled without OpenCV so it starts quickly inside the TCG VM (a binary linking OpenCV loads ~160 shared
// libraries, ~25 s per start under software emulation). Used only by camera-vm.test.sh.
// Usage: capture-check DEVICE SECONDS FORMAT[,FORMAT…] WIDTH HEIGHT FPS
import CheckpointCore
import Foundation
import Logging

let args = CommandLine.arguments
guard args.count == 7, let seconds = Double(args[2]), let width = Int(args[4]), let height = Int(args[5]), let fps = Int(args[6]) else {
    print("usage: capture-check DEVICE SECONDS FORMATS WIDTH HEIGHT FPS")
    exit(2)
}
LoggingSystem.bootstrap { label in
    var h = StreamLogHandler.standardError(label: label)
    h.logLevel = .info
    return h
}
let settings = CameraSettings(device: args[1], formats: args[3].split(separator: ",").compactMap { CameraPixelFormat(name: String($0)) },
                              width: width, height: height, fps: fps, buffers: 4, frameTimeoutMs: 2500, output: .gray8)
let engine = V4L2CaptureEngine(settings: settings)

final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var count = 0
    var badSize = 0
    var sizes = Set<String>()
    func add(_ frame: Frame) {
        lock.lock()
        count += 1
        if frame.pixels.count != frame.width * frame.height { badSize += 1 }
        sizes.insert("\(frame.width)x\(frame.height)")
        lock.unlock()
    }
    func read<T>(_ body: (Tally) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(self)
    }
}

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

let tally = Tally()
let thread = Thread { engine.run { tally.add($0) } }
thread.start()
let start = Date()
while -start.timeIntervalSinceNow < seconds {
    Thread.sleep(forTimeInterval: 0.5)
    let n = tally.read { $0.count }
    say(String(format: "t=%.1f frames=%d health=", -start.timeIntervalSinceNow, n) + engine.status.health.description)
}
engine.cancellation.cancel()
Thread.sleep(forTimeInterval: 0.5)
let s = engine.status
let c = s.counters
let (count, badSize, sizes) = tally.read { ($0.count, $0.badSize, $0.sizes) }
say("format: \(s.format.map { "\($0)" } ?? "none")")
say("frame sizes: \(sizes.sorted().joined(separator: ",")) bad_size=\(badSize)")
say("summary: frames=\(count) health=\(s.health) delivered=\(c.delivered) stale=\(c.droppedStale) error_flag=\(c.droppedErrorFlag) "
    + "corrupt=\(c.droppedCorrupt) warmup=\(c.droppedWarmup) seq_gaps=\(c.sequenceGaps) missed=\(c.framesMissed) timeouts=\(c.timeouts) "
    + "restarts=\(c.streamRestarts) reopens=\(c.reopens) disconnects=\(c.disconnects) last_error=\(s.lastError ?? "none")")

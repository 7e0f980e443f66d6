// capture-check: the daemon's V4L2 capture engine (Sources/CheckpointAdapters/Camera, Sources/CheckpointCore/Camera),
// compiled without OpenCV so it starts quickly inside the TCG VM (a binary linking OpenCV loads ~160 shared
// libraries, ~25 s per start under software emulation). Used only by camera-vm.test.sh.
// Usage: capture-check DEVICE OUTDIR
// Writes, in one process (each start costs seconds under emulation):
//   OUTDIR/list.txt       what `checkpointctl camera list --controls` prints (same CameraProbe code)
//   OUTDIR/negotiate.txt  asking for MJPEG,GREY at 322x241 and 30 fps until 10 frames came (60 s at most): the
//                         driver's answer wins
//   OUTDIR/cap.txt        YUYV 320x240 at 25 fps with vivid's error-injection controls pressed through a second
//                         fd once frames flow (20 frames apart): V4L2_BUF_FLAG_ERROR, fatal streaming error,
//                         Disconnect, 100 % dropped buffers until the engine restarted and reopened (frozen
//                         camera), then 20 frames after recovery; each step waits (60 s at most), no fixed windows;
//                         progress every 0.5 s
import CheckpointCore
import Foundation
import Synchronization
import Logging

let args = CommandLine.arguments
guard args.count == 3 else {
    print("usage: capture-check DEVICE OUTDIR")
    exit(2)
}
let device = args[1], dir = args[2]

/// Log lines and progress go to the current phase's file.
final class Sink: @unchecked Sendable {
    static let shared = Sink()
    private let lock = NSLock()
    private var handle: FileHandle?
    func open(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        try? handle?.close()
        let path = "\(dir)/\(name)"
        FileManager.default.createFile(atPath: path, contents: nil)
        handle = try? FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }
    func say(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        try? handle?.write(contentsOf: Data((text + "\n").utf8))
    }
}

struct SinkLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(metadata ?? [:]) { $1 }
        let meta = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        Sink.shared.say("\(level) \(meta) \(message)")
    }
}
LoggingSystem.bootstrap { _ in SinkLogHandler() }

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

/// Sets a vivid control by its name through a second, short-lived fd (closed at once, so that after Disconnect
/// the capture's own reopen can succeed once it has closed its fd too).
@Sendable func press(_ device: String, _ name: String, _ value: Int, _ frames: Int) {
    do {
        let dev = try SystemV4L2Device(path: device)
        defer { dev.close() }
        guard let id = try dev.queryControls().first(where: { $0.name == name })?.id else {
            Sink.shared.say("could not find control \(name)")
            return
        }
        try dev.setControl(id: id, value: value)
        Sink.shared.say("set \(CameraControlNames.normalize(name))=\(value) after \(frames) frames")
    } catch {
        Sink.shared.say("could not set \(name): \(error)")
    }
}

/// Captures until the injection script is done (inject), or `untilFrames` frames arrived, or `maxSeconds` passed.
func capture(formats: String, width: Int, height: Int, fps: Int, maxSeconds: Double, untilFrames: Int = .max, inject: Bool) {
    let settings = CameraSettings(device: device, formats: formats.split(separator: ",").compactMap { CameraPixelFormat(name: String($0)) },
                                  width: width, height: height, fps: fps, buffers: 4, frameTimeoutMs: 2500, output: .gray8)
    // The engine lives on its thread; this thread sees its published status and its cancellation.
    let cancellation = CaptureCancellation()
    let published = PublishedStatus(CameraStatus(device: device))
    let tally = Tally()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        let engine = V4L2CaptureEngine(settings: settings, cancellation: cancellation, onStatus: { published.set($0) })
        engine.run { tally.add($0) }
        done.signal()
    }
    thread.start()
    let start = Date()
    let stop = Tally()  // count > 0: the injection script has finished
    if inject {
        let path = device
        Thread {
            // Every step waits for what it needs (frames, the engine's own counters) with a generous deadline instead
            // of a fixed time, so a busy machine slows the run down but does not change what it shows.
            func frames() -> Int { tally.read { $0.count } }
            func waitUntil(_ seconds: Double = 60, _ condition: () -> Bool) -> Bool {
                let deadline = Date(timeIntervalSinceNow: seconds)
                while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                return condition()
            }
            func waitFor(_ n: Int) { _ = waitUntil { frames() >= n } }
            waitFor(30); press(path, "Inject V4L2_BUF_FLAG_ERROR", 1, frames())
            waitFor(frames() + 20); press(path, "Inject Fatal Streaming Error", 1, frames())
            waitFor(frames() + 20); press(path, "Disconnect", 1, frames())
            waitFor(frames() + 20)
            // A frozen camera: every buffer dropped until the engine has both restarted the stream (first frame
            // timeout) and reopened the device (second one in a row).
            let before = published.get().counters
            press(path, "Percentage of Dropped Buffers", 100, frames())
            let escalated = waitUntil {
                let c = published.get().counters
                return c.timeouts >= before.timeouts + 2 && c.streamRestarts > before.streamRestarts && c.reopens > before.reopens
            }
            Sink.shared.say("frozen camera: \(escalated ? "restarted and reopened" : "no restart and reopen within 60 s")")
            let atRecovery = frames()
            press(path, "Percentage of Dropped Buffers", 0, atRecovery)
            // Frames flow again: 20 more delivered after the drop ended, waited for (up to 60 s), not counted in a window.
            let started = Date()
            let recovered = waitUntil { frames() >= atRecovery + 20 }
            let after = frames() - atRecovery
            Sink.shared.say("after recovery: \(recovered ? "delivered" : "only") \(after) frames in " + String(format: "%.1f s", -started.timeIntervalSinceNow))
            stop.add(Frame(width: 1, height: 1, layout: .gray8, pixels: [0], sequence: 0, monotonicNanos: 0))
        }.start()
    }
    while -start.timeIntervalSinceNow < maxSeconds && stop.read({ $0.count }) == 0 && tally.read({ $0.count }) < untilFrames {
        Thread.sleep(forTimeInterval: 0.5)
        let n = tally.read { $0.count }
        Sink.shared.say(String(format: "t=%.1f frames=%d health=", -start.timeIntervalSinceNow, n) + published.get().health.description)
    }
    cancellation.cancel()
    done.wait()
    let s = published.get()
    let c = s.counters
    let (count, badSize, sizes) = tally.read { ($0.count, $0.badSize, $0.sizes) }
    Sink.shared.say("format: \(s.format.map { "\($0)" } ?? "none")")
    Sink.shared.say("frame sizes: \(sizes.sorted().joined(separator: ",")) bad_size=\(badSize)")
    Sink.shared.say("summary: frames=\(count) health=\(s.health) delivered=\(c.delivered) stale=\(c.droppedStale) error_flag=\(c.droppedErrorFlag) "
        + "corrupt=\(c.droppedCorrupt) warmup=\(c.droppedWarmup) seq_gaps=\(c.sequenceGaps) missed=\(c.framesMissed) timeouts=\(c.timeouts) "
        + "restarts=\(c.streamRestarts) reopens=\(c.reopens) disconnects=\(c.disconnects) last_error=\(s.lastError ?? "none")")
}

Sink.shared.open("list.txt")
do {
    Sink.shared.say(try CameraProbe.describe(path: device).render())
    Sink.shared.say("list rc=0")
} catch {
    Sink.shared.say("\(device): \(error)")
    Sink.shared.say("list rc=1")
}
Sink.shared.open("negotiate.txt")
capture(formats: "MJPEG,GREY", width: 322, height: 241, fps: 30, maxSeconds: 60, untilFrames: 10, inject: false)
Sink.shared.open("cap.txt")
capture(formats: "YUYV", width: 320, height: 240, fps: 25, maxSeconds: 480, inject: true)
Sink.shared.say("capture rc=0")
Sink.shared.open("done.txt")

/// The engine's status as its `onStatus` publishes it, readable from any thread.
final class PublishedStatus: Sendable {
    private let value: Mutex<CameraStatus>
    init(_ initial: CameraStatus) { value = Mutex(initial) }
    func set(_ status: CameraStatus) { value.withLock { $0 = status } }
    func get() -> CameraStatus { value.withLock { $0 } }
}

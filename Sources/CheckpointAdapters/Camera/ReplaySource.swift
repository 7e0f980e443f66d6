import CheckpointCore
import Foundation
import Logging
import Synchronization

/// Frames from a directory of JPEG/PNG images (sorted by name, e.g. what `checkpointctl camera record` wrote),
/// paced at a fixed fps and looping, behind the same `FrameSource` interface as the V4L2 camera.
/// Used by the demo, the tests, and technicians reproducing a field problem.
public final class ReplaySource: FrameSource, Sendable {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public let directory: String
    public let files: [String]
    public let fps: Double
    public let loop: Bool
    public let output: PixelLayout
    private let logger: Logger
    private struct Counts {
        var undecodable = 0
        var delivered = 0
    }
    private let counts = Mutex(Counts())

    /// - Throws: when the directory cannot be read or holds no JPEG/PNG image, or fps is not positive.
    public init(directory: String, fps: Double, loop: Bool = true, output: PixelLayout = .bgr24, logger: Logger = Logger(label: "checkpointd.camera.replay")) throws(AdapterError) {
        guard fps > 0, fps <= 1000 else {
            throw AdapterError(.unsupported, "replay fps \(fps) is out of range (allowed: >0 … 1000)")
        }
        self.files = try Self.listImages(in: directory)
        self.directory = directory
        self.fps = fps
        self.loop = loop
        self.output = output
        self.logger = logger
    }

    /// The image files in `directory`, sorted by name.
    public static func listImages(in directory: String) throws(AdapterError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw AdapterError(.open, "cannot read replay directory \(directory)", cause: .text("\(error.localizedDescription)"))
        }
        let images = names.filter { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !images.isEmpty else {
            throw AdapterError(.open, "replay directory \(directory) holds no .jpg, .jpeg or .png image")
        }
        return images.map { (directory as NSString).appendingPathComponent($0) }
    }

    public var description: String { "replay of \(files.count) images from \(directory) at \(fps) fps" }

    /// Files that failed to decode so far (skipped, not fatal).
    public var undecodable: Int { counts.withLock { $0.undecodable } }

    public var delivered: Int { counts.withLock { $0.delivered } }

    /// Loads one file as a frame.
    public static func load(_ path: String, output: PixelLayout, sequence: UInt64) throws(AdapterError) -> Frame {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdapterError(.open, "cannot read replay image \(path)")
        }
        let image: ImageCodec.Image
        do {
            image = try ImageCodec.decode([UInt8](data), gray: output == .gray8)
        } catch {
            throw AdapterError(error.code, "replay image \(path): \(error.message)", cause: error.cause)
        }
        return Frame(width: image.width, height: image.height, layout: output, pixels: image.pixels,
                     sequence: sequence, monotonicNanos: monotonicNanos())
    }

    /// Plays the images on a dedicated thread; the stream finishes after the last image unless looping.
    public func events() -> AsyncStream<CameraEvent> {
        let (stream, continuation) = AsyncStream<CameraEvent>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let cancellation = CaptureCancellation()
        continuation.onTermination = { _ in cancellation.cancel() }
        let thread = Thread { [self] in
            self.play(cancellation: cancellation) { continuation.yield(.frame($0)) }
            continuation.finish()
        }
        thread.name = "camera-replay"
        thread.start()
        return stream
    }

    func play(cancellation: CaptureCancellation, deliver: (Frame) -> Void) {
        let period = 1.0 / fps
        var sequence: UInt64 = 0
        var next = Date()
        var failuresInARow = 0
        repeat {
            for path in files {
                if cancellation.isCancelled { return }
                do {
                    let frame = try Self.load(path, output: output, sequence: sequence)
                    failuresInARow = 0
                    counts.withLock { $0.delivered += 1 }
                    deliver(frame)
                } catch {
                    failuresInARow += 1
                    counts.withLock { $0.undecodable += 1 }
                    logger.warning("replay image skipped", metadata: ["error": "\(error)"])
                    // Every file bad: don't spin.
                    if failuresInARow >= files.count && !cancellation.sleep(seconds: 1) { return }
                }
                sequence += 1
                next = next.addingTimeInterval(period)
                let wait = next.timeIntervalSinceNow
                if wait > 0 {
                    if !cancellation.sleep(seconds: wait) { return }
                } else if wait < -1 {
                    next = Date()  // fell far behind (slow disk): re-anchor instead of bursting
                }
            }
        } while loop
    }
}

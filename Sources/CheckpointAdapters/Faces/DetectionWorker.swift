import CheckpointCore
import Foundation
import Logging

/// Runs one `FaceDetector` on its own dedicated thread (detection blocks for milliseconds and the
/// OpenCV handle is not thread-safe), and hands results back to async callers.
public final class DetectionWorker: Sendable {
    /// Holds the non-Sendable detector; it is only ever touched on `thread`.
    private final class Box: @unchecked Sendable {
        var detector: FaceDetector?
    }

    private let thread: DedicatedThread
    private let box: Box
    public let kind: FaceDetectorKind
    /// `.ok`, or degraded ("blind to masked faces (…)") on the Haar fallback.
    public let health: HealthSupervisor.State

    /// Creates the detector on the worker thread. Throws the load error (naming the model path) when
    /// neither YuNet nor the allowed fallback loads.
    public init(config: FaceDetectorConfig, logger: Logger = Logger(label: "checkpointd.faces")) async throws {
        let thread = DedicatedThread(name: "face-detector")
        let box = Box()
        do {
            let (kind, health) = try await thread.run { () throws -> (FaceDetectorKind, HealthSupervisor.State) in
                let detector = try FaceDetector(config: config, logger: logger)
                box.detector = detector
                return (detector.kind, detector.health)
            }
            self.kind = kind
            self.health = health
        } catch {
            thread.stop()
            throw error
        }
        self.thread = thread
        self.box = box
    }

    deinit {
        let box = self.box
        thread.enqueue { box.detector = nil }
        thread.stop()
    }

    /// Detects faces in `frame` on the worker thread, timing the call.
    public func detect(_ frame: Frame) async throws -> FaceDetections {
        let box = self.box
        return try await thread.run { () throws -> FaceDetections in
            guard let detector = box.detector else { throw AdapterError(.closed, "face detector was shut down") }
            let start = DispatchTime.now().uptimeNanoseconds
            let faces = try detector.detect(frame)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            return FaceDetections(frameSequence: frame.sequence, monotonicNanos: frame.monotonicNanos,
                                  frameWidth: frame.width, frameHeight: frame.height, faces: faces, milliseconds: ms)
        }
    }

    /// Releases the detector; later `detect` calls throw `.closed`.
    public func shutdown() async {
        let box = self.box
        _ = try? await thread.run { box.detector = nil }
    }
}

/// Encodes the snapshot crop of a face as a bounded JPEG.
public enum FaceSnapshotEncoder {
    /// Crops `face` with the configured margin and encodes it, lowering quality (down to 30) and then
    /// resolution until the JPEG is at most `maxBytes`.
    public static func encode(_ frame: Frame, face: FaceBox, config: FaceSnapshotConfig) throws(AdapterError) -> [UInt8] {
        var crop: Frame
        do { crop = try FaceCrop.crop(frame, box: face, margin: config.margin) } catch {
            throw AdapterError(.unsupported, "cannot crop the face snapshot", cause: .text(error.description))
        }
        var quality = config.jpegQuality
        while true {
            let jpeg = try ImageCodec.encode(crop.pixels, width: crop.width, height: crop.height,
                                             channels: crop.layout.bytesPerPixel, quality: quality)
            if jpeg.count <= config.maxBytes { return jpeg }
            if quality > 30 {
                quality = max(30, quality - 10)
            } else if crop.width > 32 && crop.height > 32 {
                crop = FaceCrop.downscale(crop, factor: 0.75)
            } else {
                throw AdapterError(.unsupported, "face snapshot does not fit in \(config.maxBytes) bytes even at \(crop.width)×\(crop.height), quality \(quality)")
            }
        }
    }
}

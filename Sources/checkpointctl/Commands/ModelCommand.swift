import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl model …`: the face model is not in the package (it is a separate download with its own license);
/// this puts a copy an installer fetched where the daemon loads it, after checking it is the one the daemon expects.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Install the YuNet face model.",
        subcommands: [Install.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a downloaded YuNet 2022mar model's sha256 and install it, 0644, where the daemon loads it.",
            discussion: "The destination is the configuration's [detector] model (the package's default: "
                + "\(FaceDetectorConfig.defaultModelPath)) unless --to is given. The file is written atomically "
                + "(a daemon reading it sees the old or the new model, never part of one). A file whose sha256 is not "
                + "YuNet 2022mar's (\(FaceDetectorConfig.yunet2022marSHA256)) is refused: exit 1, nothing written. "
                + "Restart checkpointd afterwards to load it.")

        @Argument(help: ArgumentHelp("The downloaded face_detection_yunet_2022mar.onnx.", valueName: "path"))
        var path: String

        @OptionGroup var daemon: DaemonConfigOption

        @Option(help: ArgumentHelp("Install here instead of the configuration's [detector] model.", valueName: "file"))
        var to: String?

        func run() throws {
            let destination = try resolvedDestination()
            let bytes = try Self.readModel(path)
            let digest = SHA256.hex(SHA256.hash(bytes))
            guard digest == FaceDetectorConfig.yunet2022marSHA256 else {
                throw CtlError.runtime("\(path): sha256 \(digest) is not YuNet 2022mar's (\(FaceDetectorConfig.yunet2022marSHA256)): "
                                       + "not installed; download face_detection_yunet_2022mar.onnx again (README, \"The face model\")")
            }
            let dir = (destination as NSString).deletingLastPathComponent
            if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
                do {
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o755])
                } catch {
                    throw CtlError.runtime("cannot create \(dir): \(Self.reason(error))")
                }
            }
            do {
                try AtomicFileWriter.write(bytes: bytes, to: destination, mode: 0o644)
            } catch {
                throw CtlError.runtime("cannot install \(destination): \(error)")
            }
            print("installed \(destination) (YuNet 2022mar, \(bytes.count) bytes, sha256 verified); "
                  + "restart checkpointd to load it: systemctl restart checkpointd")
        }

        /// `--to`, else the configuration's `[detector] model`; with no configuration file at all (a tool run away
        /// from a kiosk), the schema's default path.
        private func resolvedDestination() throws -> String {
            if let to { return to }
            guard FileManager.default.fileExists(atPath: daemon.config) else {
                if case .string(let s) = CheckpointConfigSchema.defaultValue(table: "detector", key: "model") { return s }
                return FaceDetectorConfig.defaultModelPath
            }
            return try daemon.load(forDefaultsOf: ["--to"]).detector.modelPath
        }

        /// The whole file; a file far larger than any YuNet model is refused before it is read.
        private static func readModel(_ path: String) throws -> [UInt8] {
            let limit = 64 << 20
            let attributes: [FileAttributeKey: Any]
            do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
                throw CtlError.runtime("\(path): cannot read: \(reason(error))")
            }
            if let size = attributes[.size] as? Int, size > limit {
                throw CtlError.runtime("\(path): \(size) bytes is not YuNet 2022mar (\(FaceDetectorConfig.yunet2022marBytes) bytes): not installed")
            }
            guard let data = FileManager.default.contents(atPath: path) else { throw CtlError.runtime("\(path): cannot read") }
            return [UInt8](data)
        }

        private static func reason(_ error: any Error) -> String {
            if let e = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, e.domain == NSPOSIXErrorDomain {
                return String(cString: strerror(Int32(e.code)))
            }
            return (error as NSError).localizedDescription
        }
    }
}

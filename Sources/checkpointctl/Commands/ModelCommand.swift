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
            let digest = Digest.sha256Hex(bytes)
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

        /// `--to`, else the configuration's `[detector] model` (main file and drop-ins); with no configuration file at all
        /// (a tool run away from a kiosk), the schema's default path. The model usually goes in before the site settings
        /// (README, "Install a kiosk"), so a configuration that is not complete yet still says where the model goes.
        private func resolvedDestination() throws -> String {
            if let to { return to }
            let config = daemon.config
            let defaultPath: String
            if case .string(let s) = CheckpointConfigSchema.defaultValue(table: "detector", key: "model") { defaultPath = s }
            else { defaultPath = FaceDetectorConfig.defaultModelPath }
            guard FileManager.default.fileExists(atPath: config) else { return defaultPath }
            // The TOML library aborts on some malformed files: parse in a child first (see ConfigPreflight).
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
            let checkpointd = ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("checkpointd")
            if FileManager.default.isExecutableFile(atPath: checkpointd),
               case .parserCrashed(let file, let signal, _) = ConfigPreflight.checkBlocking(path: config, executable: checkpointd) {
                throw CtlError.config("\(file): not valid TOML: the parser stopped with signal \(signal) on this file; "
                                      + "run checkpointd --check-config \(config), or give --to")
            }
            if case .success(let c) = ConfigLoader.result(path: config) { return c.detector.modelPath }
            switch ConfigLoader.document(path: config) {
            case .success(let d):
                guard let p = d.value(at: ["detector", "model"])?.stringValue else { return defaultPath }
                return ResolvedTable.resolve(p, against: d.directory(for: ["detector", "model"]))
            case .failure(let e):
                throw CtlError.config("\(e) (the model's path comes from it; or give --to)")
            }
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
            if let e = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, e.domain == NSPOSIXErrorDomain,
               let code = POSIXErrorCode(rawValue: Int32(e.code)) {
                return "\(POSIXError(code).localizedDescription)"
            }
            return (error as NSError).localizedDescription
        }
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CheckpointCore
import Foundation
import NIOSSL

/// `checkpointd --check-config` beyond the file: what the configuration names must exist on this machine and be
/// usable by the service user (as `vector validate` checks its sources and sinks). `--no-environment` skips it.
///
/// Checked: the camera and serial devices exist and the service user can open them read-write; the face model is
/// readable and has its sha256; the TLS files are readable and their certificates valid (a warning under 30 days
/// left, a problem once expired); the API socket's group exists. Each finding is one line naming the key's
/// FILE:LINE.
public enum ConfigEnvironment {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public var isWarning: Bool
        public var diagnostic: ConfigDiagnostic
        public var description: String { diagnostic.description }
    }

    /// The user the unit runs as (`User=checkpointd`).
    public static let serviceUser = "checkpointd"
    /// Certificates expiring sooner than this are a warning.
    public static let expiryWarning: TimeInterval = 30 * 24 * 3600

    /// Who opens the files: uid and groups (primary and supplementary, from the user and group databases).
    public struct Identity: Sendable {
        public var name: String
        public var uid: uid_t
        public var groups: Set<gid_t>

        /// The named user, or nil when it does not exist on this machine.
        public static func user(_ name: String) -> Identity? {
            var pw = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: 16384)
            guard getpwnam_r(name, &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
            var count: Int32 = 256
            var gids = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(name, pw.pw_gid, &gids, &count) < 0 { count = 0 }
            return Identity(name: name, uid: pw.pw_uid, groups: Set(gids.prefix(Int(max(0, count)))).union([pw.pw_gid]))
        }

        /// This process.
        public static var current: Identity {
            var gids = [gid_t](repeating: 0, count: Int(max(0, getgroups(0, nil))))
            let n = getgroups(Int32(gids.count), &gids)
            let name = String(cString: getpwuid(geteuid())?.pointee.pw_name ?? strdup("uid \(geteuid())"))
            return Identity(name: name, uid: geteuid(), groups: Set(gids.prefix(Int(max(0, n)))).union([getegid()]))
        }
    }

    /// Every finding for `config`, checked for `serviceUser` (else, when no such user exists here, for this process,
    /// with a warning saying so).
    public static func check(_ config: CheckpointConfig, serviceUser: String = serviceUser, now: Date = Date()) -> [Finding] {
        var findings: [Finding] = []
        func add(_ path: [String], _ message: String, warning: Bool = false, allowed: String? = nil) {
            let at = config.location(of: path)
            findings.append(Finding(isWarning: warning, diagnostic: ConfigDiagnostic(
                file: at.file, line: at.line, keyPath: TOMLKeyPath.render(path), message: (warning ? "warning: " : "") + message,
                allowed: allowed)))
        }
        let who: Identity
        if let service = Identity.user(serviceUser) {
            who = service
        } else {
            who = .current
            add([], "the service user \(serviceUser) does not exist here: files are checked for \(who.name) instead", warning: true)
        }

        switch config.camera.source {
        case .v4l2:
            if let p = problem(config.camera.device, for: who, write: true, device: true) { add(["camera", "device"], p) }
        case .replay:
            if let dir = config.camera.replayPath, let p = problem(dir, for: who, write: false, directory: true) {
                add(["camera", "replay_path"], p)
            }
        }
        if let p = problem(config.thermal.port, for: who, write: true, device: true) { add(["thermal", "port"], p) }

        let model = config.detector.modelPath
        if let p = problem(model, for: who, write: false) {
            add(["detector", "model"], p)
        } else {
            do { try FaceDetector.verifyModel(at: model, sha256: config.detector.modelSHA256 ?? FaceDetectorConfig.yunet2022marSHA256) }
            catch { add(["detector", "model"], error.message) }
        }

        let tls: [(key: String, path: String?, certificate: Bool)] = [
            ("ca_file", config.upload.caFile, true), ("client_cert", config.upload.clientCert, true),
            ("client_key", config.upload.clientKey, false),
        ]
        for (key, path, isCertificate) in tls {
            guard let path else { continue }
            if let p = problem(path, for: who, write: false) { add(["upload", key], p); continue }
            guard isCertificate else { continue }
            let certificates: [NIOSSLCertificate]
            do { certificates = try NIOSSLCertificate.fromPEMFile(path) } catch {
                add(["upload", key], "\(path) holds no PEM certificate that can be read (\(error))")
                continue
            }
            // The first certificate that expires decides (a bundle's expired CA is as fatal as an expired leaf).
            guard let first = certificates.min(by: { $0.notValidAfter < $1.notValidAfter }) else {
                add(["upload", key], "\(path) holds no certificate")
                continue
            }
            let expiry = Date(timeIntervalSince1970: TimeInterval(first.notValidAfter))
            let stamp = ISO8601DateFormatter().string(from: expiry)
            if expiry <= now {
                add(["upload", key], "certificate in \(path) expired at \(stamp); uploads will fail", allowed: "a certificate that has not expired")
            } else if expiry.timeIntervalSince(now) < expiryWarning {
                let days = Int(expiry.timeIntervalSince(now) / 86400)
                add(["upload", key], "certificate in \(path) expires in \(days) day\(days == 1 ? "" : "s") (\(stamp)); renew it", warning: true)
            }
        }

        if let group = config.api.socketGroup, (try? SocketPermissions.groupID(group)) == nil {
            add(["api", "socket_group"], "group \"\(group)\" does not exist on this system", allowed: "an existing group (getent group)")
        }
        return findings
    }

    /// Why `who` cannot use `path` (missing, wrong kind, no permission), or nil.
    static func problem(_ path: String, for who: Identity, write: Bool, device: Bool = false, directory: Bool = false) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return "\(path): \(String(cString: strerror(errno)))" }
        let kind = st.st_mode & S_IFMT
        if directory && kind != S_IFDIR { return "\(path) is not a directory" }
        if device && kind != S_IFCHR { return "\(path) is not a device (a character device is needed)" }
        if !directory && !device && kind != S_IFREG { return "\(path) is not a regular file" }
        if who.uid == 0 { return nil }
        let bits: mode_t
        if st.st_uid == who.uid { bits = (st.st_mode >> 6) & 7 }
        else if who.groups.contains(st.st_gid) { bits = (st.st_mode >> 3) & 7 }
        else { bits = st.st_mode & 7 }
        let need: mode_t = (write ? 6 : 4) | (directory ? 1 : 0)
        if bits & need != need {
            let owner = String(cString: getpwuid(st.st_uid)?.pointee.pw_name ?? strdup("\(st.st_uid)"))
            let group = String(cString: getgrgid(st.st_gid)?.pointee.gr_name ?? strdup("\(st.st_gid)"))
            return "\(path) is not \(write ? "readable and writable" : "readable") by \(who.name) "
                + "(mode \(String(st.st_mode & 0o777, radix: 8)), owner \(owner), group \(group))"
        }
        return nil
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation

/// The API socket's mode and group (`[api] socket_mode`, `socket_group`).
///
/// A group member reaches the socket only through its directory: under systemd that is the unit's
/// RuntimeDirectory (/run/checkpointd, 0750, owned by the service user). So when a group is set, the socket's
/// directory is given to that group too (mode g+x kept or added), as long as the daemon owns it. A process may only
/// give its files to a group it belongs to: the daemon's user must be a member of the socket group (root aside).
public enum SocketPermissions {
    /// The gid of `name`, or an error naming the key when the group does not exist.
    public static func groupID(_ name: String) throws -> gid_t {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else {
            throw AdapterError(.config, "[api] socket_group: group \"\(name)\" does not exist on this system")
        }
        return group.gr_gid
    }

    /// chmod `path` to `mode`; with a group, chown it (and its directory) to that group first.
    public static func apply(path: String, mode: Int, group: String?) throws {
        if let group {
            let gid = try groupID(group)
            guard chown(path, uid_t.max, gid) == 0 else {
                throw AdapterError.posix(.io, "chown \(path) to group \(group) (the daemon's user must be a member of it: "
                                         + "add it to the unit's SupplementaryGroups=)")
            }
            let dir = (path as NSString).deletingLastPathComponent
            var st = stat()
            if stat(dir, &st) == 0, st.st_uid == geteuid() {
                if st.st_gid != gid, chown(dir, uid_t.max, gid) != 0 {
                    throw AdapterError.posix(.io, "chown \(dir) to group \(group)")
                }
                // Members must be able to traverse the directory, nothing more.
                if st.st_mode & S_IXGRP == 0, chmod(dir, (st.st_mode & 0o7777) | S_IXGRP) != 0 {
                    throw AdapterError.posix(.io, "chmod g+x \(dir)")
                }
            }
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw AdapterError.posix(.io, "chmod \(String(mode, radix: 8)) \(path)")
        }
    }
}

extension AdapterError.Code {
    /// A setting that cannot work on this system (a missing group…).
    public static let config = AdapterError.Code("config")
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Testing
@testable import CheckpointAdapters

/// `checkpointd --check-config`'s machine checks judge files as the service user would open them.
@Suite struct ConfigEnvironmentTests {
    static let nobody = ConfigEnvironment.Identity(name: "nobody", uid: 65534, groups: [65534])

    @Test func permissionsAreJudgedForTheServiceUserNotForThisProcess() throws {
        let dir = uplinkTempDir("env")
        let key = dir + "/kiosk.key"
        try Data("secret".utf8).write(to: URL(fileURLWithPath: key))
        chmod(key, 0o600)
        let problem = try #require(ConfigEnvironment.problem(key, for: Self.nobody, write: false))
        #expect(problem.hasPrefix("\(key) is not readable by nobody (mode 600, owner "))
        chmod(key, 0o644)
        #expect(ConfigEnvironment.problem(key, for: Self.nobody, write: false) == nil)
        #expect(ConfigEnvironment.problem(key, for: Self.nobody, write: true)?.contains("not readable and writable") == true)
        // The owner's bits count for the owner, the group's for a member.
        let owner = ConfigEnvironment.Identity(name: "me", uid: getuid(), groups: [])
        chmod(key, 0o600)
        #expect(ConfigEnvironment.problem(key, for: owner, write: false) == nil)
    }

    @Test func kindsAndMissingFiles() throws {
        let file = uplinkTempDir("envkind") + "/plain"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(ConfigEnvironment.problem("/dev/null", for: Self.nobody, write: true, device: true) == nil, "mode 666 character device")
        #expect(ConfigEnvironment.problem(file, for: Self.nobody, write: false, device: true)?.hasSuffix("is not a device (a character device is needed)") == true)
        #expect(ConfigEnvironment.problem("/no/such/file", for: Self.nobody, write: false) == "/no/such/file: No such file or directory")
        #expect(ConfigEnvironment.problem(file, for: Self.nobody, write: false, directory: true) == "\(file) is not a directory")
    }
}

@testable import CheckpointReceiver
import Foundation
import Testing

@Suite("Receiver: device identity (client certificate CN = deviceId, revocation list)")
struct DeviceIdentityTests {
    /// A self-signed certificate made by openssl with this CN and serial, as DER.
    static func certificate(cn: String, serial: String) throws -> [UInt8] {
        let dir = receiverTempDir("cert")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/k.pem",
                       "-out", dir + "/c.der", "-outform", "DER", "-days", "2", "-subj", "/O=Tinh Thai Nguyen/CN=\(cn)", "-set_serial", "0x" + serial]
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/c.der")))
    }

    @Test func theSubjectCommonNameAndSerialAreRead() throws {
        let id = try ClientIdentity(der: try Self.certificate(cn: "TN-01-K3", serial: "0A1B2C"))
        #expect(id.commonName == "TN-01-K3")
        #expect(id.serial == "a1b2c")
    }

    @Test func onlyTheDevicesOwnCertificateMayUploadForIt() {
        let policy = DevicePolicy(requireClientCertificate: true)
        let k3 = ClientIdentity(commonName: "TN-01-K3", serial: "1")
        #expect(policy.check(k3, deviceId: "TN-01-K3") == .allowed)
        guard case .forbidden = policy.check(k3, deviceId: "TN-01-K4") else { Issue.record("another device's certificate was accepted"); return }
        #expect(policy.check(nil, deviceId: "TN-01-K3") == .unauthenticated)
        // Without mutual TLS (a loopback test receiver) nothing is demanded.
        #expect(DevicePolicy().check(nil, deviceId: "x") == .allowed)
    }

    @Test func aRevokedCertificateIsRefusedAsSoonAsTheListChanges() throws {
        let path = receiverTempDir("crl") + "/revoked.txt"
        try "# revoked kiosks\nserial=0A1B2C\n".write(toFile: path, atomically: true, encoding: .utf8)
        let list = try RevocationList(path: path)
        let policy = DevicePolicy(requireClientCertificate: true, revoked: list)
        let k3 = ClientIdentity(commonName: "TN-01-K3", serial: "a1b2c")
        let k4 = ClientIdentity(commonName: "TN-01-K4", serial: "ff01")
        guard case .forbidden(let why) = policy.check(k3, deviceId: "TN-01-K3") else { Issue.record("revoked certificate accepted"); return }
        #expect(why.contains("revoked"))
        #expect(policy.check(k4, deviceId: "TN-01-K4") == .allowed)
        // The province adds K4 (colon form, as some tools print it); the file's time moves on.
        try "0A1B2C\nFF:01   # stolen\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        #expect(policy.check(k4, deviceId: "TN-01-K4") != .allowed)
        #expect(list.count == 2)
    }

    @Test func serialsAreNormalised() {
        #expect(ClientIdentity.normalizeSerial("serial=00AB") == "ab")
        #expect(ClientIdentity.normalizeSerial("0a:1b") == "a1b")
        #expect(ClientIdentity.normalizeSerial("0") == "0")
        #expect(RevocationList.parse("# only a comment\n\n  \n1F # x\n") == ["1f"])
        #expect(throws: ReceiverError.self) { try RevocationList(path: "/nonexistent/revoked.txt") }
    }
}

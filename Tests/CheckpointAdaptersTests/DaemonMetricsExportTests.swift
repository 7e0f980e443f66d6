import CheckpointCore
import Foundation
import Prometheus
import Testing
@testable import CheckpointAdapters

@Suite struct DaemonMetricsExportTests {
    /// What a scrape shows for one sample line ("name value" or "name{labels} value").
    func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    @Test func sinceStartUploadCountsAreCountersThatGrowByWhatHappened() {
        let metrics = UplinkMetrics()
        var status = UploaderStatus()
        metrics.update(queue: nil, uploader: status)
        #expect(value(metrics.render(), "checkpointd_uploads_delivered_total") == 0)
        #expect(!metrics.render().contains("checkpointd_last_upload_success_timestamp_seconds"))   // never is not a time
        status.delivered = 3
        status.failedAttempts = 2
        status.lastDeliveryAt = Date(timeIntervalSince1970: 1_800_000_000)
        metrics.update(queue: nil, uploader: status)
        metrics.update(queue: nil, uploader: status)   // a second scrape adds nothing
        status.delivered = 5
        metrics.update(queue: nil, uploader: status)
        let text = metrics.render()
        #expect(value(text, "checkpointd_uploads_delivered_total") == 5)
        #expect(value(text, "checkpointd_upload_failed_attempts_total") == 2)
        #expect(value(text, "checkpointd_uploads_dead_lettered_total") == 0)
        #expect(value(text, "checkpointd_last_upload_success_timestamp_seconds") == 1_800_000_000)
        #expect(text.contains("# TYPE checkpointd_uploads_delivered_total counter"))
    }

    @Test func everyExportedMetricHasHelpAndItsCatalogType() {
        let metrics = UplinkMetrics()
        let state = DaemonStateMetrics(registry: metrics.registry, version: "9.8.7")
        state.calibration(id: "cal-2026-11-20-A1", calibratedAt: ConfigDateTime(utc: Date().addingTimeInterval(-7200)))
        state.update(warmUpRemainingSeconds: 90.4)
        metrics.update(queue: nil, uploader: UploaderStatus())
        let text = metrics.render()
        let byName = Dictionary(uniqueKeysWithValues: MetricCatalog.all.map { ($0.name, $0) })
        let typed = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ") }
        #expect(typed.count >= 15)
        for t in typed {
            let name = String(t[2])
            let d = byName[name]
            #expect(d != nil, "\(name) is not in MetricCatalog")
            #expect(d.map { t[3] == "\($0.kind.rawValue)" } ?? false, "\(name)")
            #expect(text.contains("# HELP \(name) \(d?.help ?? "?")"), "\(name)")
        }
        #expect(value(text, "checkpointd_build_info{version=\"9.8.7\"}") == 1)
        #expect(value(text, "checkpointd_calibration_info{id=\"cal-2026-11-20-A1\"}") == 1)
        let age = value(text, "checkpointd_calibration_age_seconds") ?? 0
        #expect(age >= 7200 && age < 7260)
        #expect(value(text, "checkpointd_sensor_warmup_remaining_seconds") == 91)
        #expect(!text.contains("client_certificate"))   // none configured: no series
    }

    @Test func aNewCalibrationReplacesTheInfoSeries() {
        let metrics = UplinkMetrics()
        let state = DaemonStateMetrics(registry: metrics.registry)
        state.calibration(id: "cal-old", calibratedAt: ConfigDateTime(kind: .localDateTime, year: 2026, month: 1, day: 1))
        state.update(warmUpRemainingSeconds: nil)
        #expect(!metrics.render().contains("checkpointd_calibration_age_seconds"))   // a local date-time has no instant
        #expect(!metrics.render().contains("checkpointd_sensor_warmup_remaining_seconds "))   // the sensor is not running
        state.calibration(id: "cal-new", calibratedAt: ConfigDateTime(utc: Date()))
        state.update(warmUpRemainingSeconds: nil)
        let text = metrics.render()
        #expect(!text.contains("cal-old"))
        #expect(value(text, "checkpointd_calibration_info{id=\"cal-new\"}") == 1)
        #expect(value(text, "checkpointd_calibration_age_seconds") != nil)
    }

    @Test func theClientCertificatesExpiryIsExportedOnlyWhenOneIsConfigured() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("client.pem").path
        try (Self.utcTimeCertificate + "\n" + Self.generalizedTimeCertificate).write(toFile: path, atomically: true, encoding: .utf8)
        let metrics = UplinkMetrics()
        let state = DaemonStateMetrics(registry: metrics.registry)
        state.clientCertificate(path: path)
        state.update(warmUpRemainingSeconds: nil)
        #expect(value(metrics.render(), "checkpointd_upload_client_certificate_expiry_timestamp_seconds") == 1_799_214_730)   // the first (leaf)
        state.clientCertificate(path: nil)
        state.update(warmUpRemainingSeconds: nil)
        #expect(!metrics.render().contains("client_certificate"))
        state.clientCertificate(path: dir.appendingPathComponent("missing.pem").path)
        state.update(warmUpRemainingSeconds: nil)
        #expect(!metrics.render().contains("client_certificate"))
    }

    @Test func certificateNotAfterReadsUTCTimeAndGeneralizedTimeAndTheChainsFirstToExpire() throws {
        // openssl req -x509 -days 30 / -days 10000: notAfter Jan 6 05:52:10 2027 GMT (UTCTime), Apr 24 05:52:11 2054 GMT
        // (GeneralizedTime, used from 2050 on).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cpd-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        #expect(try CertificateValidity.notAfter(pemFile: file("utc.pem", Self.utcTimeCertificate)).timeIntervalSince1970 == 1_799_214_730)
        #expect(try CertificateValidity.notAfter(pemFile: file("gen.pem", Self.generalizedTimeCertificate)).timeIntervalSince1970 == 2_660_622_731)
        let chain = try file("chain.pem", Self.generalizedTimeCertificate + "\n" + Self.utcTimeCertificate)
        #expect(try CertificateValidity.notAfter(pemFile: chain).timeIntervalSince1970 == 1_799_214_730)
        #expect(throws: AdapterError.self) { try CertificateValidity.notAfter(pemFile: file("bad.pem", "not a certificate")) }
        #expect(throws: AdapterError.self) { try CertificateValidity.notAfter(pemFile: dir.appendingPathComponent("missing.pem").path) }
    }

    static let utcTimeCertificate = """
-----BEGIN CERTIFICATE-----
MIIBgDCCASWgAwIBAgIUbM8VCFWSVHLXfCNV2JJWprtkxrIwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa2lvc2stdGVzdDAeFw0yNjEyMDcwNTUyMTBaFw0yNzAxMDYw
NTUyMTBaMBUxEzARBgNVBAMMCmtpb3NrLXRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATYAgdf2T4TODzRwb7TS4AWoQSJFhTtHqZ43FxXLWGpDrx37dqhF2nx
wuno38E1Fwjqxa32ML7EZwsjndORt9l4o1MwUTAdBgNVHQ4EFgQUhq673HwOJX5y
ub/10EpOKSZN0yswHwYDVR0jBBgwFoAUhq673HwOJX5yub/10EpOKSZN0yswDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAqycVFrbFWOwdgYTrNZRE
ho9jehjbOk0tYO9tbZswiw4CIQDuiHVsnY+138OZjjbVgWWd8RHcPz56aodZZTO3
qHlG3Q==
-----END CERTIFICATE-----
"""

    static let generalizedTimeCertificate = """
-----BEGIN CERTIFICATE-----
MIIBgjCCASegAwIBAgIUO/TsivWMJT9D+PQ1G1cwHOneUP4wCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa2lvc2stdGVzdDAgFw0yNjEyMDcwNTUyMTFaGA8yMDU0MDQy
NDA1NTIxMVowFTETMBEGA1UEAwwKa2lvc2stdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABDyfHIPKU+p/vMTuBntpAufDk3BZCaJ2MDB+AlLJu9lBiUuKrlgl
NTR6Jrbltc7tyu2PaqRfKTIP13LrD7m5a+6jUzBRMB0GA1UdDgQWBBS105i3zX73
+R2G06vtdxpX578SdzAfBgNVHSMEGDAWgBS105i3zX73+R2G06vtdxpX578SdzAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDX7R/6FEt/JeYuQ675
8DyL5wMZlImTgUBbFutX56R5oQIhAMphmuDsblbtxfSuvxbhkED3KeJ3FX4nv2oM
RZFAtvz/
-----END CERTIFICATE-----
"""
}

@Suite struct JournalSinkTests {
    @Test func journalStreamMustNameThisVeryFile() {
        #expect(JournalSink.streamMatches("8:12345", device: 8, inode: 12345))
        #expect(!JournalSink.streamMatches("8:12346", device: 8, inode: 12345))
        #expect(!JournalSink.streamMatches(nil, device: 8, inode: 12345))
        #expect(!JournalSink.streamMatches("", device: 8, inode: 12345))
        #expect(!JournalSink.streamMatches("8:12345:1", device: 8, inode: 12345))
        #expect(!JournalSink.streamMatches("x:1", device: 8, inode: 1))
        // This test's stderr is not the journal, whatever the variable claims.
        #expect(!JournalSink.stderrIsJournal(environment: ["JOURNAL_STREAM": "1:1"]))
    }
}

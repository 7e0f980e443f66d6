import Foundation
import Logging
import Testing
@testable import CheckpointCore

@Suite struct MetricCatalogTests {
    @Test func everyMetricFollowsPrometheusConventions() {
        for d in MetricCatalog.all { #expect(MetricCatalog.problems(d) == [], "\(d.name)") }
        #expect(Set(MetricCatalog.all.map(\.name)).count == MetricCatalog.all.count, "a name defined twice")
    }

    @Test func theConventionsCheckFindsWhatIsWrong() {
        #expect(MetricCatalog.problems(.init("checkpointd_uploads_delivered", .counter, "x")) == ["checkpointd_uploads_delivered: a counter must end in _total"])
        #expect(MetricCatalog.problems(.init("checkpointd_queue_pending_total", .gauge, "x")) == ["checkpointd_queue_pending_total: only counters end in _total"])
        #expect(MetricCatalog.problems(.init("checkpointd_enqueue_ms", .histogram, "x")).count == 2)
        #expect(MetricCatalog.problems(.init("checkpointd_calibration_info", .gauge, "x")) == ["checkpointd_calibration_info: an info metric is a gauge with labels"])
        #expect(MetricCatalog.problems(.init("checkpointd_x", .gauge, " ")) == ["checkpointd_x: no help text"])
        #expect(MetricCatalog.problems(.init("uploads_total", .counter, "x")) == ["uploads_total: not in the checkpointd_ namespace"])
    }

    @Test func sinceStartCountsAreCountersAndTheNewStateMetricsExist() {
        let byName = Dictionary(uniqueKeysWithValues: MetricCatalog.all.map { ($0.name, $0) })
        for name in ["checkpointd_uploads_delivered_total", "checkpointd_uploads_dead_lettered_total", "checkpointd_upload_failed_attempts_total"] {
            #expect(byName[name]?.kind == .counter, "\(name)")
        }
        #expect(byName["checkpointd_build_info"]?.labels == ["version"])
        #expect(byName["checkpointd_calibration_info"]?.labels == ["id"])
        for name in ["checkpointd_sensor_up", "checkpointd_sensor_ambient_celsius", "checkpointd_sensor_warmup_remaining_seconds",
                     "checkpointd_calibration_age_seconds", "checkpointd_upload_client_certificate_expiry_timestamp_seconds",
                     "checkpointd_last_upload_success_timestamp_seconds"] {
            #expect(byName[name]?.kind == .gauge, "\(name)")
        }
    }
}

@Suite struct DaemonMetricValuesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func warmUpIsWholeSecondsAndNeverNegative() {
        func w(_ s: Double?) -> Double? {
            DaemonMetricValues(warmUpRemainingSeconds: s, calibratedAt: nil, clientCertificateNotAfter: nil, now: now).warmUpRemainingSeconds
        }
        #expect(w(nil) == nil)   // the sensor is not running: no number
        #expect(w(0) == 0)
        #expect(w(-3) == 0)
        #expect(w(12.2) == 13)
        #expect(w(.nan) == 0)
        #expect(w(.infinity) == 0)
    }

    @Test func calibrationAgeNeedsAnInstantInThePast() {
        func age(_ at: ConfigDateTime?) -> Double? {
            DaemonMetricValues(warmUpRemainingSeconds: nil, calibratedAt: at, clientCertificateNotAfter: nil, now: now).calibrationAgeSeconds
        }
        let dayAgo = ConfigDateTime(utc: now.addingTimeInterval(-86_400))
        #expect(age(dayAgo) == 86_400)
        // now is 2027-01-15T08:00:00Z; 14:00 at +07:00 is 07:00Z, an hour before.
        var plus7 = ConfigDateTime(kind: .offsetDateTime, year: 2027, month: 1, day: 15, hour: 14, minute: 0, second: 0, offsetMinutes: 420)
        #expect(age(plus7) == 3600)
        plus7.year = 2030   // after `now`: a wrong clock or a wrong file, not an age
        #expect(age(plus7) == nil)
        #expect(age(ConfigDateTime(kind: .localDateTime, year: 2026, month: 11, day: 20, hour: 9)) == nil)
        #expect(age(nil) == nil)
    }

    @Test func certificateExpiryIsAUnixTimestampOnlyWhenKnown() {
        let v = DaemonMetricValues(warmUpRemainingSeconds: nil, calibratedAt: nil,
                                   clientCertificateNotAfter: Date(timeIntervalSince1970: 1_799_214_730), now: now)
        #expect(v.clientCertificateExpiryTimestamp == 1_799_214_730)
        #expect(DaemonMetricValues(warmUpRemainingSeconds: nil, calibratedAt: nil, clientCertificateNotAfter: nil, now: now)
            .clientCertificateExpiryTimestamp == nil)
    }
}

@Suite struct JournalFieldsTests {
    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournalFields.fieldName("record_id") == "RECORD_ID")
        #expect(JournalFields.fieldName("camera.fps") == "CAMERA_FPS")
        #expect(JournalFields.fieldName("_SYSTEMD_UNIT") == "SYSTEMD_UNIT")   // never a trusted field
        #expect(JournalFields.fieldName("9lives") == "LIVES")
        #expect(JournalFields.fieldName("__") == nil)
        #expect(JournalFields.fieldName("message") == "META_MESSAGE")   // cannot replace the entry's own fields
        #expect(JournalFields.fieldName("priority") == "META_PRIORITY")
        #expect(JournalFields.fieldName(String(repeating: "a", count: 100))?.count == 64)
        #expect(JournalFields.fieldName("nhiệt_độ") == "NHI_T___")
    }

    @Test func anEntryCarriesMessagePriorityIdentifierCodeAndMetadata() {
        let fields = JournalFields.encode(label: "checkpointd.api", identifier: "checkpointd", level: .info, message: "declaration stored",
                                          metadata: ["record_id": "0193b2c4-aaaa", "screening": "normal"],
                                          file: "CheckpointAdapters/API/DeclarationAPI.swift", line: 382, function: "enqueue(_:)")
        #expect(fields == [
            "MESSAGE=checkpointd.api: declaration stored record_id=0193b2c4-aaaa screening=normal",
            "PRIORITY=6", "SYSLOG_IDENTIFIER=checkpointd",
            "CODE_FILE=CheckpointAdapters/API/DeclarationAPI.swift", "CODE_LINE=382", "CODE_FUNC=enqueue(_:)",
            "LOGGER=checkpointd.api", "RECORD_ID=0193b2c4-aaaa", "SCREENING=normal",
        ])
        let error = JournalFields.encode(label: "x", identifier: "checkpointd", level: .critical, message: "a\nb", metadata: ["reason": "line1\nline2"],
                                         file: "f", line: 1, function: "g")
        #expect(error.contains("PRIORITY=2"))
        #expect(error[0] == "MESSAGE=x: a\\nb reason=line1\\nline2")   // the same escaped text as the stderr line
        #expect(error.contains("REASON=line1\\nline2"))
    }

    @Test func theHandlerSendsEntriesAndFallsBackToLinesWhenTheJournalRefuses() {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var entries: [[String]] = []
            var lines: [String] = []
            var accept = true
        }
        let box = Box()
        let sink = JournaldLogHandler.Sink(entry: { fields in
            box.lock.withLock { box.entries.append(fields); return box.accept }
        }, write: { line in box.lock.withLock { box.lines.append(line) } })
        let logger = Logger(label: "checkpointd.upload") { JournaldLogHandler(label: $0, sink: sink) }
        logger.info("record delivered", metadata: ["record_id": "r-1"])
        #expect(box.entries.count == 1 && box.entries[0].contains("RECORD_ID=r-1") && box.lines.isEmpty)
        box.lock.withLock { box.accept = false }
        logger.warning("receiver slow", metadata: ["record_id": "r-2"])
        #expect(box.lines == ["<4>checkpointd.upload: receiver slow record_id=r-2\n"])
        logger.debug("below the level")
        #expect(box.entries.count == 2)
    }
}

import Foundation
import Testing
@testable import CheckpointCore

/// What one camera frame's codes tell the screen (`HealthQRScanOutcome`), and the event body it is sent as.
@Suite struct HealthQRScanTests {
    static let pcCovid = "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700"
    static let masked = "******029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700"
    static let cccd = "079190004321|026111222|Lê Thị Thu Hằng|24061990|Nữ|Tổ 7, Phường Quang Trung, Thái Nguyên|05072022"

    @Test func noCodeNoOutcome() {
        #expect(HealthQRScanOutcome.of(texts: []) == nil)
    }

    @Test func aHealthQRWinsOverRefusalsInTheSameFrame() throws {
        let o = try #require(HealthQRScanOutcome.of(texts: ["https://example.org", nil, Self.cccd], currentYear: 2026))
        #expect(o.kind == "qr-cccd")
        guard case .read(.cccd(let card)) = o else { Issue.record("not a CCCD"); return }
        #expect(card.fullName == "Lê Thị Thu Hằng")
    }

    @Test func refusalsCarryCodesNeverContent() throws {
        let cases: [(String?, HealthQRScanRefusal)] = [
            (nil, HealthQRScanRefusal(code: "not-text")),
            ("https://example.org/checkin/7731", HealthQRScanRefusal(code: "not-health-declaration", lookalike: .url)),
            ("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", HealthQRScanRefusal(code: "not-health-declaration", lookalike: .euCovidCertificate)),
            ("   ", HealthQRScanRefusal(code: "empty")),
            (String(repeating: "A", count: HealthQR.maxBytes + 1), HealthQRScanRefusal(code: "too-long")),
            ("079190004321|026111222|Lê Thị Thu Hằng|31021990|Nữ|Tổ 7|05072022",
             HealthQRScanRefusal(code: "invalid-field", format: .cccd, field: "date of birth")),
        ]
        for (text, expected) in cases {
            let o = try #require(HealthQRScanOutcome.of(texts: [text], currentYear: 2026), "\(expected.code)")
            guard case .refused(let r) = o else { Issue.record("\(expected.code): not refused"); continue }
            #expect(r.code == expected.code && r.lookalike == expected.lookalike && r.format == expected.format, "\(r)")
            if expected.field != nil { #expect(r.field != nil) }
            #expect(HealthQRScanRefusal.codes.contains(r.code))
            #expect(o.kind == "refused")
            let json = String(decoding: try JSONEncoder().encode(JSONValue.object(o.eventBody)), as: UTF8.self)
            #expect(!json.contains("example.org") && !json.contains("Hằng") && !json.contains("079190004321"), "\(json)")
        }
    }

    @Test func aReadCodeSendsItsPrefillAndAMaskedIDShownMasked() throws {
        let full = try #require(HealthQRScanOutcome.of(texts: [Self.pcCovid], currentYear: 2026))
        #expect(full.eventBody["kind"] == .string("qr-pccovid"))
        #expect(full.eventBody["maskedIdNumber"] == nil)
        guard case .object(let fields)? = full.eventBody["fields"] else { Issue.record("no fields"); return }
        #expect(fields["passport"] == .string("001093029317") && fields["source"] == .string("qr-pccovid"))

        let masked = try #require(HealthQRScanOutcome.of(texts: [Self.masked], currentYear: 2026))
        #expect(masked.eventBody["maskedIdNumber"] == .string("******029317"), "shown as it is, masked")
        guard case .object(let mf)? = masked.eventBody["fields"] else { Issue.record("no fields"); return }
        #expect(mf["passport"] == nil, "a masked number is never filled into the declaration")
        #expect(mf["fullName"] == .string("NGUYEN LE KHA HAN"))
    }

    @Test func everyRefusalKindHasACode() {
        let kinds: [HealthQRRefusal.Kind] = [.empty, .tooLong, .controlCharacters, .notHealthDeclaration(.unknown), .fieldCount, .invalidField]
        let codes = kinds.map { HealthQRScanRefusal(HealthQRRefusal($0, "x")).code }
        #expect(Set(codes).count == kinds.count)
        #expect(codes.allSatisfy(HealthQRScanRefusal.codes.contains))
    }
}

// Health-declaration QR codes (HealthQR.parse): the text a QR decoder hands over, from a code anyone can hold up.
//
// Both targets take a mode byte, then text:
//   first byte < 0x80: the rest of the input is the code's text, as is;
//   first byte ≥ 0x80: the rest replaces one field of a valid code of the target's format (pccovid-qr: one of the six
//                      fields or one of the four EXT sub-fields, of a masked or an unmasked code; cccd-qr: one of the
//                      seven fields, of the 7- or the 6-field layout), so every field's checks are reached with all
//                      the others valid.
// Invariants on every input (the same for both):
//   refused → a reason, never with a value of the code in it (no run of 5+ digits); over HealthQR.maxBytes → too
//             long; another kind of code → "this is not a health declaration QR"; a field refusal names the field
//             and the format;
//   accepted → every string in NFC; the code rendered again in its format (`text`) parses to the same value, and
//             renders to the same text; a masked ID number is kept exactly as given (stars included) and never
//             prefilled; a masked birth month or day stays nil; the declaration prefill carries the right `source`
//             and, completed with the fields a QR code has not, is accepted by DeclarationValidator unchanged.
import CheckpointCore
import Foundation

enum QRTargets {
    static let year = 2026
    static let validator = DeclarationValidator(currentYear: year)

    static let pcCovidTemplates: [[String]] = [
        ["******123456", "TRAN VAN BINH", "1990-**-**", "0", "100000000000000001", "<1<HS4790000000001<0912000001"],
        ["079090123456", "LE THI HOA", "1985-07-09", "1", "100000000000000002", "100000000000000003<2<DN4010000000002<+84912000002"],
    ]
    static let cccdTemplates: [[String]] = [
        ["079203001234", "025123456", "Nguyễn Văn An", "01011990", "Nam", "Số 3, Quang Trung, Phường Phan Đình Phùng, Thái Nguyên", "15082021"],
        ["001300000001", "Trần Thị Bích", "29022000", "Nữ", "Thôn Đông, Xã Phú Lương, Thái Nguyên", "01072023"],
    ]

    static let pcCovid: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let text = input(data, build: { slot, value in
            var f = pcCovidTemplates[(slot / 10) % pcCovidTemplates.count]
            let i = slot % 10
            if i < 6 {
                f[i] = value
            } else {
                var ext = f[5].split(separator: "<", omittingEmptySubsequences: false).map(String.init)
                ext[i - 6] = value
                f[5] = ext.joined(separator: "<")
            }
            return f.joined(separator: "|")
        }) else { return 0 }
        check(text)
        return 0
    }

    static let cccd: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let text = input(data, build: { slot, value in
            var f = cccdTemplates[(slot / 7) % cccdTemplates.count]
            f[slot % f.count] = value
            return f.joined(separator: "|")
        }) else { return 0 }
        check(text)
        return 0
    }

    /// The code's text from one input (see the mode byte above); nil when the bytes are not UTF-8 (a decoder hands
    /// over text, already valid).
    static func input(_ data: UnsafeRawBufferPointer, build: (Int, String) -> String) -> String? {
        guard let mode = data.first, let rest = strictText(UnsafeRawBufferPointer(rebasing: data.dropFirst())) else { return nil }
        return mode < 0x80 ? rest : build(Int(mode - 0x80), rest)
    }

    static func isNFC(_ s: String) -> Bool {
        s.unicodeScalars.elementsEqual(s.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    static func sameScalars(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    /// True when `s` has a run of at least 5 ASCII digits (an ID, QID or phone number would).
    static func hasDigitRun(_ s: String) -> Bool {
        var run = 0
        for u in s.unicodeScalars {
            run = ("0"..."9").contains(u) ? run + 1 : 0
            if run >= 5 { return true }
        }
        return false
    }

    /// The `|`-separated fields of the text as the parser sees them: outer white space and BOM off, each field
    /// trimmed and in NFC.
    static func fields(_ text: String) -> [String] {
        let u = text.unicodeScalars
        var a = u.startIndex, b = u.endIndex
        func trim(_ x: Unicode.Scalar) -> Bool { x.properties.isWhitespace || x == "\u{FEFF}" }
        while a < b, trim(u[a]) { a = u.index(after: a) }
        while a < b, trim(u[u.index(before: b)]) { b = u.index(before: b) }
        return u[a..<b].split(separator: "|", omittingEmptySubsequences: false).map { part in
            var s = Substring(part)
            while let f = s.unicodeScalars.first, f.properties.isWhitespace { s = Substring(s.unicodeScalars.dropFirst()) }
            while let l = s.unicodeScalars.last, l.properties.isWhitespace { s = Substring(s.unicodeScalars.dropLast()) }
            return String(s).precomposedStringWithCanonicalMapping
        }
    }

    /// Every string of a parsed code, for the NFC check.
    static func strings(_ qr: HealthQR) -> [String] {
        switch qr {
        case .pcCovid(let p): [p.idNumber, p.fullName, p.qid, p.proxyQID ?? "", p.healthInsuranceNumber ?? "", p.phone ?? "", p.text]
        case .cccd(let c): [c.idNumber, c.oldIDNumber ?? "", c.fullName, c.address, c.text]
        }
    }

    /// Scalar-exact equality of two parsed codes (`==` on String is canonical equivalence).
    static func identical(_ a: HealthQR, _ b: HealthQR) -> Bool {
        a == b && strings(a).count == strings(b).count && zip(strings(a), strings(b)).allSatisfy(sameScalars)
    }

    /// A declaration a kiosk could submit from the prefill: the prefill, completed with what a QR code does not hold.
    static let completion: [String: JSONValue] = [
        "fullName": .string("NGUYEN VAN A"), "birthYear": .number(1990), "gender": .string("Khac"), "nation": .string("VN"),
        "provinceId": .string("19"), "wardId": .string("05443"), "address": .string("Tổ 5"), "phone": .string("0912345678"),
        "hasPatient": .number(2), "hasFromSickCountry": .number(2), "hasSick": .number(2), "consent": .bool(true),
    ]

    static func check(_ text: String) {
        switch HealthQR.parse(text, currentYear: year) {
        case .failure(let refusal):
            require(!refusal.reason.isEmpty, "qr.reason", "refused without a reason")
            require(!hasDigitRun(refusal.reason) && !hasDigitRun(refusal.description), "qr.reason-private",
                    "the reason repeats a number from the code: \(excerpt(refusal.description))")
            if text.utf8.count > HealthQR.maxBytes {
                require(refusal.kind == .tooLong, "qr.too-long", "\(text.utf8.count) bytes refused as \(refusal.kind)")
            } else {
                require(refusal.kind != .tooLong, "qr.not-too-long", "\(text.utf8.count) bytes refused as too long")
            }
            switch refusal.kind {
            case .notHealthDeclaration:
                require(refusal.reason.hasPrefix("this is not a health declaration QR"), "qr.not-health-reason", refusal.reason)
            case .invalidField:
                require(refusal.field.map { !$0.isEmpty } ?? false, "qr.field", "a field refusal without the field: \(refusal.reason)")
                require(refusal.format != nil, "qr.field-format", "a field refusal without the format: \(refusal.reason)")
                let names = refusal.format == .cccd ? CCCDQR.fieldNames : PCCovidQR.fieldNames + PCCovidQR.extFieldNames
                require(names.contains(refusal.field ?? ""), "qr.field-name", "refused field \(refusal.field ?? "nil") is not one of the format's")
            case .fieldCount:
                require(refusal.format != nil, "qr.count-format", "a field-count refusal without the format")
                let n = fields(text).count
                require(refusal.format == .pcCovid ? n != 6 : (n != 6 && n != 7), "qr.count", "\(n) fields refused as the wrong number")
            case .empty:
                require(fields(text) == [""], "qr.empty", "text with content refused as empty")
            case .tooLong, .controlCharacters:
                break
            }
        case .success(let qr):
            require(text.utf8.count <= HealthQR.maxBytes, "qr.size", "accepted \(text.utf8.count) bytes")
            for s in strings(qr) { require(isNFC(s), "qr.nfc", "a parsed string is not in NFC: \(excerpt(s))") }
            let given = fields(text)

            // Rendered again in its format, the code parses to the same value and renders to the same text.
            let rendered = qr.text
            switch HealthQR.parse(rendered, currentYear: year) {
            case .success(let again):
                require(identical(again, qr), "qr.roundtrip", "rendered and parsed again, the code changed: \(excerpt(rendered))")
                require(sameScalars(again.text, rendered), "qr.render-stable", "rendering is not stable: \(excerpt(rendered))")
            case .failure(let r):
                fail("qr.reparse", "the rendered code is refused (\(r)): \(excerpt(rendered))")
            }

            let prefill = qr.declarationPrefill
            require(prefill[DeclarationSource.field] == .string(qr.format.source.rawValue), "qr.source", "prefill source \(String(describing: prefill["source"]))")
            switch qr {
            case .pcCovid(let p):
                require(given.count == 6, "qr.pccovid-fields", "a PC-COVID code accepted from \(given.count) fields")
                // Masked stays masked: the ID number exactly as given, never prefilled; masked month/day stay unknown.
                require(sameScalars(p.idNumber, given[0]), "qr.id-kept", "the ID number is not kept as given")
                if given[0].hasPrefix("*") {
                    require(p.isIDNumberMasked && prefill["passport"] == nil, "qr.masked-id", "a masked ID number was unmasked or prefilled")
                }
                let date = given[2].split(separator: "-", omittingEmptySubsequences: false)
                require(date.count == 3, "qr.date-shape", "birth date accepted without two dashes")
                if date.count == 3 {
                    require((date[1] == "**") == (p.birthDate.month == nil), "qr.masked-month", "month masked \(date[1] == "**"), parsed \(String(describing: p.birthDate.month))")
                    require((date[2] == "**") == (p.birthDate.day == nil), "qr.masked-day", "day masked \(date[2] == "**"), parsed \(String(describing: p.birthDate.day))")
                }
                require((1900...year).contains(p.birthDate.year), "qr.birth-year", "birth year \(p.birthDate.year)")
            case .cccd(let c):
                require(given.count == 6 || given.count == 7, "qr.cccd-fields", "a CCCD code accepted from \(given.count) fields")
                require(sameScalars(c.idNumber, given[0]), "qr.cccd-id", "the CCCD number is not kept as given")
                require(c.gender != .unknown, "qr.cccd-gender", "a CCCD code with an unknown gender")
                require(c.birthDate <= c.issueDate, "qr.cccd-dates", "issued before birth")
            }

            // The prefill is what the declaration accepts, field by field, and is stored unchanged.
            var declaration = completion
            for (k, v) in prefill { declaration[k] = v }
            do {
                let stored = try validator.validate(object: declaration)
                for (k, v) in prefill { require(stored[k] == v, "qr.prefill-stored", "prefill field \(k) changed when validated") }
            } catch {
                fail("qr.prefill-valid", "the prefill is refused by the declaration: \(error.errors.map { "\($0.field):\($0.code.rawValue)" })")
            }
        }
    }
}

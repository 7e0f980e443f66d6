import CheckpointCore
import Foundation
import Testing

/// Parses at a fixed year, so the tests do not age.
private func parse(_ text: String) -> Result<HealthQR, HealthQRRefusal> { HealthQR.parse(text, currentYear: 2026) }

private func accepted(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> HealthQR? {
    switch parse(text) {
    case .success(let qr): return qr
    case .failure(let r):
        Issue.record("refused: \(r)", sourceLocation: sourceLocation)
        return nil
    }
}

private func refusal(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> HealthQRRefusal? {
    switch parse(text) {
    case .success(let qr):
        Issue.record("accepted as \(qr.format)", sourceLocation: sourceLocation)
        return nil
    case .failure(let r): return r
    }
}

private func pcCovid(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> PCCovidQR? {
    guard let qr = accepted(text, sourceLocation: sourceLocation) else { return nil }
    guard case .pcCovid(let p) = qr else { Issue.record("read as \(qr.format)", sourceLocation: sourceLocation); return nil }
    return p
}

private func cccd(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> CCCDQR? {
    guard let qr = accepted(text, sourceLocation: sourceLocation) else { return nil }
    guard case .cccd(let c) = qr else { Issue.record("read as \(qr.format)", sourceLocation: sourceLocation); return nil }
    return c
}

private func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

@Suite("Health QR: PC-COVID personal code")
struct PCCovidQRTests {
    static let published = "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700"

    @Test func thePublishedExample() throws {
        let p = try #require(pcCovid(Self.published))
        #expect(p.idNumber == "001093029317")
        #expect(!p.isIDNumberMasked)
        #expect(p.fullName == "NGUYEN LE KHA HAN")
        #expect(p.birthDate == .init(year: 1987, month: 1, day: 18))
        #expect(p.declarant == .selfDeclared)
        #expect(p.qid == "162979388586171100")
        #expect(p.proxyQID == nil)
        #expect(p.gender == .male)
        #expect(p.healthInsuranceNumber == "HS4010120878821")
        #expect(p.phone == "0944713700")
        #expect(p.text == Self.published, "renders back to the same text")
        #expect(HealthQR.pcCovid(p).format.source == .pcCovidQR)
    }

    @Test func aMaskedIDNumberStaysMaskedAndIsNotPrefilled() throws {
        let text = "******029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700"
        let p = try #require(pcCovid(text))
        #expect(p.idNumber == "******029317")
        #expect(p.isIDNumberMasked)
        #expect(p.text == text)
        #expect(HealthQR.pcCovid(p).declarationPrefill["passport"] == nil, "a masked number is never prefilled (nor unmasked)")
        #expect(pcCovid("*********317|A|1987-01-18|0|1|")?.idNumber == "*********317")
    }

    @Test(arguments: [
        ("1987-**-**", nil, nil), ("1987-01-**", 1, nil), ("1987-**-18", nil, 18), ("1987-02-**", 2, nil), ("2000-02-29", 2, 29),
    ] as [(String, Int?, Int?)])
    func maskedDayAndMonthKeepTheYear(date: String, month: Int?, day: Int?) throws {
        let p = try #require(pcCovid("******029317|NGUYEN LE KHA HAN|\(date)|0|162979388586171100|<2"))
        #expect(p.birthDate.year == 1987 || p.birthDate.year == 2000)
        #expect(p.birthDate.month == month)
        #expect(p.birthDate.day == day)
        #expect(p.birthDate.description == date, "masked parts render as **")
        #expect(HealthQR.pcCovid(p).declarationPrefill["birthYear"] == .number(Double(p.birthDate.year)))
    }

    @Test func proxyDeclarations() throws {
        let p = try #require(pcCovid("******001235|PHAM THI DUNG|2015-**-**|1|163000000000000002|163000000000000001<2<<+84912000004"))
        #expect(p.declarant == .proxy)
        #expect(p.proxyQID == "163000000000000001")
        #expect(p.gender == .female)
        #expect(p.healthInsuranceNumber == nil)
        #expect(p.phone == "+84912000004")
        let prefill = HealthQR.pcCovid(p).declarationPrefill
        #expect(prefill["otherUser"] == .bool(true))
        #expect(prefill["gender"] == .string("Nu"))
        #expect(prefill["phone"] == .string("+84912000004"))
        // Declared by proxy without the proxy's QID: tolerated.
        #expect(pcCovid("******001235|PHAM THI DUNG|2015-**-**|1|163000000000000002|<2")?.proxyQID == nil)
    }

    @Test func eachEXTSubFieldMayBeMissingAtTheEnd() throws {
        let head = "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|"
        let full = try #require(pcCovid(head + "<1<HS4010120878821<0944713700"))
        let noPhone = try #require(pcCovid(head + "<1<HS4010120878821"))
        #expect(noPhone.phone == nil && noPhone.healthInsuranceNumber == "HS4010120878821" && noPhone.gender == .male)
        let noBHYT = try #require(pcCovid(head + "<1"))
        #expect(noBHYT.healthInsuranceNumber == nil && noBHYT.phone == nil && noBHYT.gender == .male)
        let noGender = try #require(pcCovid(head + "<"))
        #expect(noGender.gender == nil && noGender.proxyQID == nil)
        let noEXT = try #require(pcCovid(head))
        #expect(noEXT.gender == nil && noEXT.proxyQID == nil && noEXT.healthInsuranceNumber == nil && noEXT.phone == nil)
        // Empty sub-fields in the middle, and reserved ones after the phone (a signature) that are not kept.
        let gaps = try #require(pcCovid(head + "<<<0944713700<c2lnbmF0dXJl"))
        #expect(gaps.gender == nil && gaps.healthInsuranceNumber == nil && gaps.phone == "0944713700")
        #expect(gaps.text == head + "<<<0944713700")
        #expect(full.text == head + "<1<HS4010120878821<0944713700")
        #expect(noEXT.text == head)
        let unknownGender = try #require(pcCovid(head + "<0"))
        #expect(unknownGender.gender == .unknown)
        #expect(HealthQR.pcCovid(unknownGender).declarationPrefill["gender"] == nil, "unknown is not Khac")
    }

    @Test func passportNumbersHaveLetters() throws {
        let p = try #require(pcCovid("C1234567|NGUYEN VAN A|1990-05-06|0|1629|"))
        #expect(HealthQR.pcCovid(p).declarationPrefill["passport"] == .string("C1234567"))
    }

    @Test func thePrefillUsesTheDeclarationsFieldsAndFormats() throws {
        let qr = try #require(accepted(Self.published))
        #expect(qr.declarationPrefill == [
            "source": .string("qr-pccovid"), "fullName": .string("NGUYEN LE KHA HAN"), "birthYear": .number(1987),
            "gender": .string("Nam"), "passport": .string("001093029317"), "phone": .string("0944713700"), "otherUser": .bool(false),
        ])
        // A phone number the declaration would refuse is not prefilled.
        let p = try #require(pcCovid("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<<84944713700"))
        #expect(p.phone == "84944713700")
        #expect(HealthQR.pcCovid(p).declarationPrefill["phone"] == nil)
    }

    @Test(arguments: [
        ("001093029317|NGUYEN LE KHA HAN|1987-02-30|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-13-01|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-**-32|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-00-10|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|2001-02-29|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-1-18|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|18-01-1987|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|****-01-18|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-*1-18|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|1899-12-31|0|1629|", "NgaySinh"),
        ("001093029317|NGUYEN LE KHA HAN|2027-01-01|0|1629|", "NgaySinh"),
        ("|NGUYEN LE KHA HAN|1987-01-18|0|1629|", "SoGiayTo"),
        ("001093-029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|", "SoGiayTo"),
        ("0010**029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|", "SoGiayTo"),
        ("************|NGUYEN LE KHA HAN|1987-01-18|0|1629|", "SoGiayTo"),
        ("001093029317001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|", "SoGiayTo"),
        ("001093029317||1987-01-18|0|1629|", "HoTen"),
        ("001093029317|NGUYEN 3|1987-01-18|0|1629|", "HoTen"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|2|1629|", "LoaiDinhDanh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18||1629|", "LoaiDinhDanh"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|16x9|", "QID"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0||", "QID"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|١٢٣|", "QID"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|12a<1", "EXT proxy QID"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|<3", "EXT gender"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|<M", "EXT gender"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|<1<HS-401", "EXT BHYT number"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|<1<<0944 713 700", "EXT phone"),
        ("001093029317|NGUYEN LE KHA HAN|1987-01-18|0|1629|<1<<09447", "EXT phone"),
    ] as [(String, String)])
    func aBrokenFieldIsRefusedByName(text: String, field: String) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .invalidField)
        #expect(r.format == .pcCovid)
        #expect(r.field == field)
        #expect(!r.reason.isEmpty)
        #expect(r.description.hasPrefix("PC-COVID \(field): "))
        #expect(!r.description.contains("001093029317") && !r.description.contains("1629"), "values are never repeated")
    }

    @Test(arguments: [
        "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100",
        "001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1|extra",
        "001093029317|NGUYEN LE KHA HAN|1987-01-18",
    ])
    func theWrongNumberOfFieldsIsRefused(text: String) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .fieldCount)
        #expect(r.format == .pcCovid)
        #expect(r.reason.contains("6 fields"))
    }
}

@Suite("Health QR: chip ID card (CCCD)")
struct CCCDQRTests {
    static let address = "Số 3, Quang Trung, Phường Phan Đình Phùng, Thái Nguyên"
    static let seven = "079203001234|025123456|Nguyễn Văn An|01011990|Nam|\(address)|15082021"
    static let six = "079203001234|Nguyễn Thị Bình|29022000|Nữ|\(address)|01072023"

    @Test func sevenFieldsWithDiacritics() throws {
        let c = try #require(cccd(Self.seven))
        #expect(c.idNumber == "079203001234")
        #expect(c.oldIDNumber == "025123456")
        #expect(scalars(c.fullName) == scalars("Nguy\u{1EC5}n V\u{0103}n An"))
        #expect(c.birthDate == HealthQR.CalendarDate(year: 1990, month: 1, day: 1))
        #expect(c.gender == .male)
        #expect(scalars(c.address) == scalars(Self.address.precomposedStringWithCanonicalMapping))
        #expect(c.issueDate == HealthQR.CalendarDate(year: 2021, month: 8, day: 15))
        #expect(scalars(c.text) == scalars(Self.seven.precomposedStringWithCanonicalMapping))
    }

    @Test func sixFieldsWithoutTheOldCMND() throws {
        let c = try #require(cccd(Self.six))
        #expect(c.oldIDNumber == nil)
        #expect(c.gender == .female)
        #expect(c.birthDate == HealthQR.CalendarDate(year: 2000, month: 2, day: 29))
        // Rendered in the 7-field layout with the old number empty; both layouts read the same.
        #expect(c.text == "079203001234||Nguyễn Thị Bình|29022000|Nữ|\(Self.address)|01072023")
        #expect(cccd(c.text) == c)
        #expect(cccd("079203001234||Nguyễn Thị Bình|29022000|Nữ|\(Self.address)|01072023") == c)
    }

    @Test(arguments: [CCCDQRTests.seven, CCCDQRTests.six])
    func nfdInputIsReadAsNFC(text: String) throws {
        let nfd = text.decomposedStringWithCanonicalMapping
        #expect(scalars(nfd) != scalars(text), "the test input really is decomposed")
        let fromNFD = try #require(cccd(nfd))
        let fromNFC = try #require(cccd(text))
        #expect(scalars(fromNFD.fullName) == scalars(fromNFC.fullName))
        #expect(scalars(fromNFD.address) == scalars(fromNFC.address))
        #expect(scalars(fromNFD.text) == scalars(fromNFC.text))
        #expect(fromNFD.gender == fromNFC.gender)
        for s in [fromNFD.fullName, fromNFD.address] {
            #expect(scalars(s) == scalars(s.precomposedStringWithCanonicalMapping), "stored in NFC")
        }
    }

    @Test(arguments: [
        ("Nam", HealthQR.Gender.male), ("NAM", .male), ("nam", .male), ("Nữ", .female), ("Nu\u{031B}\u{0303}", .female), ("NỮ", .female),
        ("Nu", .female),
    ])
    func genderWords(word: String, gender: HealthQR.Gender) throws {
        #expect(cccd("079203001234|025123456|Nguyễn Văn An|01011990|\(word)|Hà Nội|15082021")?.gender == gender)
    }

    @Test func thePrefillUsesTheDeclarationsFieldsAndFormats() throws {
        let qr = try #require(accepted(Self.six.decomposedStringWithCanonicalMapping))
        let prefill = qr.declarationPrefill
        #expect(prefill == [
            "source": .string("qr-cccd"), "fullName": .string("Nguyễn Thị Bình"), "birthYear": .number(2000), "gender": .string("Nu"),
            "passport": .string("079203001234"), "address": .string(Self.address),
        ])
        if case .string(let name)? = prefill["fullName"] { #expect(scalars(name) == scalars("Nguy\u{1EC5}n Th\u{1ECB} B\u{00EC}nh")) }
    }

    @Test(arguments: [
        ("079203001234|025123456|Nguyễn Văn An|31022000|Nam|Hà Nội|15082021", "date of birth"),
        ("079203001234|025123456|Nguyễn Văn An|29021900|Nam|Hà Nội|15082021", "date of birth"),
        ("079203001234|025123456|Nguyễn Văn An|01131990|Nam|Hà Nội|15082021", "date of birth"),
        ("079203001234|025123456|Nguyễn Văn An|1990-01-01|Nam|Hà Nội|15082021", "date of birth"),
        ("079203001234|025123456|Nguyễn Văn An|01012027|Nam|Hà Nội|15082027", "date of birth"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|31042021", "issue date"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|01012027", "issue date"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|31121989", "issue date"),
        ("07920300123|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|15082021", "CCCD number"),
        ("07920300123X|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|15082021", "CCCD number"),
        ("079203001234|0251234|Nguyễn Văn An|01011990|Nam|Hà Nội|15082021", "old CMND number"),
        ("079203001234|025123456||01011990|Nam|Hà Nội|15082021", "name"),
        ("079203001234|025123456|\u{0301}An|01011990|Nam|Hà Nội|15082021", "name"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Khác|Hà Nội|15082021", "gender"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|M|Hà Nội|15082021", "gender"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam||15082021", "address"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam|, ,|15082021", "address"),
        ("079203001234|025123456|Nguyễn Văn An|01011990|Nam|\(String(repeating: "Hà Nội ", count: 40))|15082021", "address"),
        ("079203001234|Nguyễn Văn An|31022000|Nam|Hà Nội|15082021", "date of birth"),
    ] as [(String, String)])
    func aBrokenFieldIsRefusedByName(text: String, field: String) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .invalidField)
        #expect(r.format == .cccd)
        #expect(r.field == field)
        #expect(!r.reason.isEmpty)
        #expect(!r.description.contains("079203001234") && !r.description.contains("Nguy"), "values are never repeated")
    }

    @Test(arguments: [
        "079203001234|025123456|Nguyễn Văn An|01011990|Nam|Hà Nội|15082021|extra",
        "079203001234|025123456|Nguyễn Văn An|01011990|Nam",
    ])
    func theWrongNumberOfFieldsIsRefused(text: String) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .fieldCount)
        #expect(r.format == .cccd)
        #expect(r.reason.contains("7 fields"))
    }
}

@Suite("Health QR: text that is not a health declaration")
struct HealthQRRefusalTests {
    @Test(arguments: [
        ("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOK.IR9B+9D-7", HealthQR.Lookalike.euCovidCertificate),
        ("00020101021238540010A00000072701240006970436011012345678900208QRIBFTTA53037045802VN6304ABCD", .paymentCode),
        ("https://qr.example.vn/checkin/12", .url),
        ("http://example.vn", .url),
        ("HTTPS://QR.EXAMPLE.VN/X", .url),
        ("hello", .unknown),
        ("WIFI:S:kiosk;T:WPA;P:x;;", .unknown),
        ("a|b|c", .unknown),
        ("a|b|c|d|e|f", .unknown),
        ("a|b|c|d|e|f|g", .unknown),
    ])
    func otherCodesAreNamed(text: String, lookalike: HealthQR.Lookalike) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .notHealthDeclaration(lookalike))
        #expect(r.reason.hasPrefix("this is not a health declaration QR"))
        #expect(r.format == nil && r.field == nil)
        if lookalike != .unknown { #expect(r.reason.contains(lookalike.description)) }
    }

    @Test func surroundingWhitespaceIsTrimmed() throws {
        let text = PCCovidQRTests.published
        #expect(accepted("  \(text) \r\n") == accepted(text))
        #expect(accepted("\u{FEFF}\(text)\n") == accepted(text), "a byte-order mark from the decoder")
        #expect(accepted("\u{00A0}\(text)\t") == accepted(text))
        // Around each field too.
        let spaced = " 001093029317 | NGUYEN LE KHA HAN |1987-01-18| 0 | 162979388586171100 | < 1 < HS4010120878821 < 0944713700 "
        #expect(accepted(spaced) == accepted(text))
        #expect(accepted(spaced)?.text == text)
    }

    @Test(arguments: ["", "   ", "\r\n\t", "\u{FEFF}"])
    func emptyTextIsRefused(text: String) throws {
        #expect(refusal(text)?.kind == .empty)
    }

    @Test(arguments: [
        "001093029317|NGUYEN LE\u{0}KHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\nKHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\tKHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\u{200B}KHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\u{202E}KHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\u{2028}KHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\u{7F}KHA HAN|1987-01-18|0|162979388586171100|",
        "001093029317|NGUYEN LE\u{85}KHA HAN|1987-01-18|0|162979388586171100|",
    ])
    func controlCharactersAreRefused(text: String) throws {
        let r = try #require(refusal(text))
        #expect(r.kind == .controlCharacters)
        #expect(!r.reason.isEmpty)
    }

    @Test func absurdLengthsAreRefused() throws {
        let long = PCCovidQRTests.published + String(repeating: " ", count: HealthQR.maxBytes)
        let r = try #require(refusal(long))
        #expect(r.kind == .tooLong)
        #expect(r.reason.contains("\(HealthQR.maxBytes)"))
        let name = String(repeating: "A", count: 300)
        #expect(refusal("001093029317|\(name)|1987-01-18|0|1629|")?.field == "HoTen")
    }

    @Test func refusalsNeverRepeatAValue() throws {
        let texts = [
            "001093029317|NGUYEN LE KHA HAN|1987-02-30|0|162979388586171100|", "079203001234|025123456|Nguyễn Văn An|31022000|Nam|Hà Nội|15082021",
            "079203001234|025123456|Nguyễn Văn An", "HC1:6BFOXN*TS0BI$ZD", "https://example.vn/079203001234",
        ]
        for text in texts {
            let r = try #require(refusal(text))
            for secret in ["001093029317", "162979388586171100", "079203001234", "Nguyễn", "NGUYEN", "example"] {
                #expect(!r.description.contains(secret))
            }
        }
    }
}

@Suite("Declaration source")
struct DeclarationSourceTests {
    static var valid: [String: Any] { [
        "fullName": "NGUYEN THI LAN", "birthYear": 1990, "gender": "Nu", "nation": "VN", "provinceId": "19",
        "wardId": "05436", "address": "12 Hoang Van Thu", "phone": "0912345678",
        "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 1, "consent": true,
    ] }

    func validate(_ changes: [String: Any]) throws(DeclarationError) -> [String: JSONValue] {
        var d = Self.valid
        for (k, v) in changes { d[k] = v }
        return try DeclarationValidator(currentYear: 2026).validate(try! JSONSerialization.data(withJSONObject: d))
    }

    @Test(arguments: ["form", "qr-pccovid", "qr-cccd"])
    func theThreeSourcesAreAcceptedAndStored(source: String) throws {
        #expect(try validate(["source": source])["source"] == .string(source))
        #expect(DeclarationSource(rawValue: source) != nil)
    }

    @Test func anAbsentSourceIsStoredAsForm() throws {
        #expect(try validate([:])["source"] == .string("form"))
        #expect(try validate(["source": NSNull()])["source"] == .string("form"))
        // What is stored validates again unchanged.
        let stored = try validate([:])
        #expect(try DeclarationValidator(currentYear: 2026).validate(object: stored) == stored)
    }

    @Test(arguments: [
        ("qr", "invalid-choice"), ("QR-CCCD", "invalid-choice"), ("", "invalid-choice"), ("camera", "invalid-choice"),
    ] as [(String, String)])
    func anyOtherSourceIsA422(source: String, code: String) throws {
        do {
            _ = try validate(["source": source])
            Issue.record("source \(source) accepted")
        } catch {
            #expect(error.httpStatus == 422)
            #expect(error.errors.map { "\($0.field):\($0.code.rawValue)" } == ["source:\(code)"])
            #expect(error.field == "source")
        }
    }

    @Test func aSourceThatIsNotAStringIsA422() throws {
        for bad in [1, true, ["qr-cccd"]] as [Any] {
            do {
                _ = try validate(["source": bad])
                Issue.record("source \(bad) accepted")
            } catch {
                #expect(error.errors.map { "\($0.field):\($0.code.rawValue)" } == ["source:type"])
            }
        }
    }

    @Test(arguments: [
        PCCovidQRTests.published,
        "******029317|NGUYEN LE KHA HAN|1987-**-**|1|162979388586171100|123<0<<84944713700",
        CCCDQRTests.seven, CCCDQRTests.six.decomposedStringWithCanonicalMapping,
    ])
    func aPrefilledDeclarationIsAcceptedWithItsSource(text: String) throws {
        let qr = try #require(accepted(text))
        var body: [String: JSONValue] = [
            "fullName": .string("X"), "birthYear": .number(1950), "gender": .string("Khac"), "nation": .string("VN"),
            "provinceId": .string("19"), "wardId": .string("05436"), "address": .string("x"), "phone": .string("0912345678"),
            "hasPatient": .number(2), "hasFromSickCountry": .number(2), "hasSick": .number(2), "consent": .bool(true),
        ]
        let prefill = qr.declarationPrefill
        for (k, v) in prefill { body[k] = v }
        let stored = try DeclarationValidator(currentYear: 2026).validate(object: body)
        for (k, v) in prefill { #expect(stored[k] == v, "\(k) stored as prefilled") }
        #expect(stored["source"] == .string(qr.format.source.rawValue))
    }
}

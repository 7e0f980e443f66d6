import CheckpointCore
import Foundation
import Testing

@Suite("Declaration validation")
struct DeclarationValidationTests {
    static var valid: [String: Any] { [
        "fullName": "NGUYEN THI LAN", "birthYear": 1990, "gender": "Nu", "nation": "VN", "provinceId": "19",
        "districtId": "164", "wardId": "05436", "address": "12 Hoang Van Thu", "phone": "0912345678",
        "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 1, "consent": true,
    ] }

    func body(_ changes: [String: Any?] = [:]) -> Data {
        var d = Self.valid
        for (k, v) in changes { d[k] = v }
        return try! JSONSerialization.data(withJSONObject: d)
    }

    func refusal(_ data: Data) -> DeclarationError? {
        do {
            _ = try DeclarationValidator(currentYear: 2026).validate(data)
            return nil
        } catch { return error }
    }

    @Test func acceptsACompleteDeclaration() throws {
        let d = try DeclarationValidator(currentYear: 2026).validate(body(["email": "lan@example.vn", "symptoms": ["cough"], "passport": "C1234567"]))
        #expect(d["fullName"] == .string("NGUYEN THI LAN"))
        #expect(d["birthYear"] == .number(1990))
        #expect(d["symptoms"] == .array([.string("cough")]))
    }

    @Test func refusesNonJSONAs400() {
        let e = refusal(Data("name=lan".utf8))
        #expect(e?.kind == .malformed)
        #expect(e?.httpStatus == 400)
    }

    @Test func refusesAnArrayAs400() {
        #expect(refusal(Data("[1,2]".utf8))?.httpStatus == 400)
    }

    @Test func refusesOversizeAs413() {
        let big = Data(repeating: 0x20, count: 64 * 1024 + 1)
        let e = refusal(big)
        #expect(e?.httpStatus == 413)
        #expect(e?.message.contains("65536") == true)
    }

    @Test(arguments: ["fullName", "birthYear", "gender", "phone", "hasSick", "consent", "wardId"])
    func missingRequiredFieldIs422NamingTheField(field: String) {
        var d = Self.valid
        d.removeValue(forKey: field)
        let e = refusal(try! JSONSerialization.data(withJSONObject: d))
        #expect(e?.httpStatus == 422)
        #expect(e?.field == field)
    }

    @Test func wrongTypesAndRangesAre422() {
        #expect(refusal(body(["birthYear": "1990"]))?.field == "birthYear")
        #expect(refusal(body(["birthYear": 1850]))?.field == "birthYear")
        #expect(refusal(body(["birthYear": 2030]))?.field == "birthYear")
        #expect(refusal(body(["gender": "M"]))?.field == "gender")
        #expect(refusal(body(["phone": "12345"]))?.field == "phone")
        #expect(refusal(body(["hasSick": 3]))?.field == "hasSick")
        #expect(refusal(body(["consent": false]))?.field == "consent")
        #expect(refusal(body(["passport": "C-12"]))?.field == "passport")
        #expect(refusal(body(["email": "no-at-sign"]))?.field == "email")
        #expect(refusal(body(["symptoms": ["headache"]]))?.field == "symptoms[0]")
        #expect(refusal(body(["fullName": String(repeating: "A", count: 256)]))?.field == "fullName")
        #expect(refusal(body(["fullName": "   "]))?.field == "fullName")
    }

    @Test func unknownFieldsAreRefused() {
        let e = refusal(body(["favouriteColour": "blue"]))
        #expect(e?.httpStatus == 422)
        #expect(e?.field == "favouriteColour")
    }

    @Test func vietnamesePhoneForms() throws {
        for ok in ["0912345678", "+84912345678", "02083855555"] {
            #expect(refusal(body(["phone": ok])) == nil, "\(ok) should be accepted")
        }
        for bad in ["912345678", "+1 555 0100", "09123", "0912-345-678"] {
            #expect(refusal(body(["phone": bad]))?.field == "phone", "\(bad) should be refused")
        }
    }

    func codes(_ data: Data) -> [String] {
        (refusal(data)?.errors ?? []).map { "\($0.field):\($0.code.rawValue)" }
    }

    @Test func eachProblemHasItsLanguageNeutralCode() {
        #expect(codes(body(["fullName": nil])) == ["fullName:required"])
        #expect(codes(body(["birthYear": "1990"])) == ["birthYear:type"])
        #expect(codes(body(["birthYear": 1850])) == ["birthYear:out-of-range"])
        #expect(codes(body(["fullName": "   "])) == ["fullName:empty"])
        #expect(codes(body(["fullName": String(repeating: "A", count: 256)])) == ["fullName:too-long"])
        #expect(codes(body(["gender": "M"])) == ["gender:invalid-choice"])
        #expect(codes(body(["hasSick": 3])) == ["hasSick:invalid-choice"])
        #expect(codes(body(["symptoms": ["cough", "headache"]])) == ["symptoms[1]:invalid-choice"])
        #expect(codes(body(["phone": "12345"])) == ["phone:invalid-phone"])
        #expect(codes(body(["email": "no-at-sign"])) == ["email:invalid-email"])
        #expect(codes(body(["passport": "C-12"])) == ["passport:invalid-characters"])
        #expect(codes(body(["favouriteColour": "blue"])) == ["favouriteColour:unknown-field"])
        #expect(codes(body(["consent": false])) == ["consent:consent-required"])
        #expect(codes(body(["consent": "yes"])) == ["consent:type"])
    }

    @Test func everyInvalidFieldIsReportedAtOnce() throws {
        let e = try #require(refusal(body(["phone": "12345", "gender": "X", "consent": false, "address": nil, "extra": 1, "email": "x"])))
        #expect(e.kind == .invalid && e.httpStatus == 422)
        #expect(e.errors.map { "\($0.field):\($0.code.rawValue)" } == [
            "extra:unknown-field", "address:required", "gender:invalid-choice", "phone:invalid-phone", "consent:consent-required",
            "email:invalid-email",
        ])
        #expect(e.field == "extra", "the first one")
        #expect(e.message.contains("6 fields"))
        #expect(!e.message.contains("12345"), "values are never repeated back")
    }

    @Test func districtIsOptionalAfterThe2025Reform() throws {
        let d = try DeclarationValidator(currentYear: 2026).validate(body(["districtId": nil]))
        #expect(d["districtId"] == nil)
        #expect(codes(body(["districtId": ""])) == ["districtId:empty"], "when given it is still checked")
    }

    @Test func stringsAreTrimmedAndNFCNormalised() throws {
        let decomposed = "Nguye\u{0302}\u{0303}n Thi\u{0323} Lan"   // as some keyboards send it
        let d = try DeclarationValidator(currentYear: 2026).validate(body(["phone": " 0912345678", "fullName": " \(decomposed)\n"]))
        #expect(d["phone"] == .string("0912345678"))
        #expect(d["fullName"] == .string("Nguy\u{1EC5}n Th\u{1ECB} Lan"))
        if case .string(let name)? = d["fullName"] { #expect(name.unicodeScalars.count == 14) }
        // Stored values validate again unchanged.
        let again = try JSONEncoder().encode(d)
        #expect(try DeclarationValidator(currentYear: 2026).validate(again) == d)
    }

    @Test func theScreeningIdIsTakenOutOfTheDeclaration() throws {
        let v = DeclarationValidator(currentYear: 2026)
        let s = try v.validateSubmission(body(["screeningId": "6A1F4C2E-3B5D-4E7F-8A9B-0C1D2E3F4A5B"]))
        #expect(s.screeningId == "6A1F4C2E-3B5D-4E7F-8A9B-0C1D2E3F4A5B")
        #expect(s.declaration["screeningId"] == nil)
        #expect(try v.validateSubmission(body()).screeningId == nil)
        #expect(try v.validateSubmission(body(["screeningId": NSNull()])).screeningId == nil)
        do {
            _ = try v.validateSubmission(body(["screeningId": 7, "phone": "1"]))
            Issue.record("a numeric screeningId was accepted")
        } catch {
            #expect(error.errors.map(\.field) == ["screeningId", "phone"])
        }
        #expect(codes(body(["screeningId": "x"])) == ["screeningId:unknown-field"], "only a submission may carry it")
    }
}

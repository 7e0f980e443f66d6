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
}

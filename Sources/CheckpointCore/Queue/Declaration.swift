import Foundation

/// Why a declaration was refused; maps one-to-one onto the API's 400 / 413 / 422.
public struct DeclarationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not JSON, or not a JSON object (HTTP 400).
        case malformed
        /// Larger than the limit (HTTP 413).
        case tooLarge
        /// Well-formed JSON but fields are missing, of the wrong type or out of range (HTTP 422); `errors` lists them all.
        case invalid
    }

    /// What is wrong with one field, as a language-neutral code the kiosk screen translates.
    public enum Code: String, Sendable, Equatable, Codable, CaseIterable {
        case required
        case type
        case empty
        case tooLong = "too-long"
        case outOfRange = "out-of-range"
        case invalidChoice = "invalid-choice"
        case invalidPhone = "invalid-phone"
        case invalidEmail = "invalid-email"
        case invalidCharacters = "invalid-characters"
        case unknownField = "unknown-field"
        case consentRequired = "consent-required"
    }

    /// One invalid field: its name, the code, and an English explanation (for logs and the summary; never a value).
    public struct FieldError: Sendable, Equatable, CustomStringConvertible {
        public var field: String
        public var code: Code
        public var message: String
        public init(_ field: String, _ code: Code, _ message: String) {
            self.field = field
            self.code = code
            self.message = message
        }
        public var description: String { "\(field): \(message)" }
    }

    public var kind: Kind
    /// The offending field (the first one, for `.invalid`).
    public var field: String?
    public var message: String
    /// Every invalid field, in the order checked (`.invalid` only).
    public var errors: [FieldError]

    public init(_ kind: Kind, field: String? = nil, _ message: String) {
        self.kind = kind
        self.field = field
        self.message = message
        self.errors = []
    }

    /// A 422 listing every invalid field (at least one).
    public init(invalid errors: [FieldError]) {
        self.kind = .invalid
        self.errors = errors
        self.field = errors.first?.field
        self.message = errors.count == 1 ? errors[0].description
            : "\(errors.count) fields are invalid: " + errors.map(\.description).joined(separator: "; ")
    }

    public var httpStatus: Int {
        switch kind {
        case .malformed: 400
        case .tooLarge: 413
        case .invalid: 422
        }
    }

    public var description: String {
        if errors.isEmpty, let field { return "\(field): \(message)" }
        return message
    }
}

/// Where a declaration's data came from: the declaration's `source` field, stored with it in the record.
///
/// Absent means `form` (typed on the kiosk); the kiosk sends `qr-pccovid` or `qr-cccd` when the form was prefilled from
/// a scanned code (`HealthQR.declarationPrefill`), even if the person then corrected some fields.
public enum DeclarationSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// Typed on the kiosk's form (the default).
    case form
    /// Prefilled from a PC-COVID personal QR code (Decision 1405/QĐ-BTTTT).
    case pcCovidQR = "qr-pccovid"
    /// Prefilled from the QR code printed on a chip citizen ID card (CCCD).
    case cccdQR = "qr-cccd"

    /// The declaration field that holds it.
    public static let field = "source"
}

/// A declaration as submitted: the validated declaration and the screening it names.
public struct DeclarationSubmission: Sendable, Equatable {
    /// The validated declaration, strings trimmed and NFC-normalised.
    public var declaration: [String: JSONValue]
    /// The top-level `screeningId` the kiosk sent, if any (removed from the declaration); nil when absent or null.
    public var screeningId: String?
}

/// Validates the health declaration a kiosk submits.
///
/// Fields follow the Vietnamese domestic health declaration (tokhaiyte.vn "Khai báo toàn dân"):
///
/// | Field | Required | Type / rule |
/// |---|---|---|
/// | `fullName` | yes | string, 1–255 characters |
/// | `birthYear` | yes | integer, 1900 … current year |
/// | `gender` | yes | "Nam", "Nu" or "Khac" |
/// | `nation` | yes | string, 1–64 (country id) |
/// | `provinceId`, `wardId` | yes | string, 1–32 (administrative unit codes: province, then commune/ward) |
/// | `districtId` | no | string, 1–32 (districts were abolished by the 2025 reform; kept for older forms) |
/// | `address` | yes | string, 1–255 |
/// | `phone` | yes | Vietnamese number: `0` or `+84` then 9–10 digits |
/// | `hasPatient`, `hasFromSickCountry`, `hasSick` | yes | 1 = yes, 2 = no (14-day contact questions) |
/// | `otherUser` | no | boolean (declared on someone's behalf) |
/// | `passport` | no | ID / passport number, letters and digits, ≤ 20 |
/// | `email` | no | string with one "@", ≤ 255 |
/// | `countryPassing` | no | string ≤ 1000 (places visited in 14 days) |
/// | `symptoms` | no | array of "fever", "cough", "breathless", "pneumonia", "sore-throat", "tired" |
/// | `symptomsNote` | no | string ≤ 1000 |
/// | `source` | no | "form" (the default, stored when absent), "qr-pccovid" or "qr-cccd" (`DeclarationSource`) |
/// | `consent` | yes | must be `true` (Decree 13/2023: silence is not consent) |
///
/// Unknown fields are refused, so nothing unexpected (and possibly personal) is stored. Every invalid field is
/// reported at once (`DeclarationError.errors`), with a language-neutral code. Strings are stored trimmed and in NFC.
public struct DeclarationValidator: Sendable {
    public static let defaultMaxBytes = 64 * 1024

    public var maxBytes: Int
    /// The latest birth year accepted (the current year).
    public var currentYear: Int

    public init(maxBytes: Int = DeclarationValidator.defaultMaxBytes, currentYear: Int? = nil) {
        self.maxBytes = maxBytes
        self.currentYear = currentYear ?? Calendar(identifier: .gregorian).component(.year, from: Date())
    }

    static let symptoms: Set<String> = ["fever", "cough", "breathless", "pneumonia", "sore-throat", "tired"]
    static let required = ["fullName", "birthYear", "gender", "nation", "provinceId", "wardId",
                           "address", "phone", "hasPatient", "hasFromSickCountry", "hasSick", "consent"]
    static let optional: Set<String> = ["districtId", "otherUser", "passport", "email", "countryPassing", "symptoms", "symptomsNote",
                                        DeclarationSource.field]
    /// The top-level key naming the screening a declaration belongs to; not part of the declaration.
    public static let screeningIdKey = "screeningId"

    /// Parses and validates a request body. Returns the declaration as a JSON object (strings trimmed and
    /// NFC-normalised).
    public func validate(_ body: Data) throws(DeclarationError) -> [String: JSONValue] {
        try validate(object: try parse(body))
    }

    /// Parses a POST /v1/declarations body: takes the optional `screeningId` out, then validates the rest.
    public func validateSubmission(_ body: Data) throws(DeclarationError) -> DeclarationSubmission {
        var object = try parse(body)
        var screeningId: String?
        switch object.removeValue(forKey: Self.screeningIdKey) {
        case nil, .null?: break
        case .string(let s)?: screeningId = s
        case let other?:
            // Reported with the declaration's own problems, so the kiosk sees everything at once.
            var errors = [DeclarationError.FieldError(Self.screeningIdKey, .type, "must be a string, got \(other.typeName)")]
            do { _ = try validate(object: object) } catch { errors += error.errors }
            throw DeclarationError(invalid: errors)
        }
        return DeclarationSubmission(declaration: try validate(object: object), screeningId: screeningId)
    }

    private func parse(_ body: Data) throws(DeclarationError) -> [String: JSONValue] {
        if body.count > maxBytes {
            throw DeclarationError(.tooLarge, "declaration is \(body.count) bytes; the limit is \(maxBytes)")
        }
        if body.isEmpty { throw DeclarationError(.malformed, "empty body; expected a JSON object") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw DeclarationError(.malformed, "body is not valid JSON: \(Self.describe(error))")
        }
        guard case .object(let object) = value else {
            throw DeclarationError(.malformed, "expected a JSON object, got \(value.typeName)")
        }
        return object
    }

    /// Validates an already-parsed declaration, reporting every invalid field at once. Returns it with its
    /// strings trimmed and NFC-normalised and its `source` filled in ("form" when absent): the form that is stored.
    @discardableResult
    public func validate(object input: [String: JSONValue]) throws(DeclarationError) -> [String: JSONValue] {
        var o = input.mapValues(Self.normalised)
        var errors: [DeclarationError.FieldError] = []
        func fail(_ field: String, _ code: DeclarationError.Code, _ message: String) {
            errors.append(.init(field, code, message))
        }
        for key in o.keys.sorted() where !Self.required.contains(key) && !Self.optional.contains(key) {
            fail(key, .unknownField, "unknown field")
        }
        var missing = Set<String>()
        for key in Self.required where o[key] == nil || o[key] == .null {
            fail(key, .required, "required field is missing")
            missing.insert(key)
        }
        /// A present, non-null value of `key`, or nil (missing ones are already reported).
        func value(_ key: String) -> JSONValue? {
            guard let v = o[key], v != .null, !missing.contains(key) else { return nil }
            return v
        }
        @discardableResult func string(_ key: String, max: Int, allowEmpty: Bool = false) -> String? {
            guard let v = value(key) else { return nil }
            guard case .string(let s) = v else { fail(key, .type, "must be a string, got \(v.typeName)"); return nil }
            if s.isEmpty && !allowEmpty { fail(key, .empty, "must not be empty"); return nil }
            if s.count > max { fail(key, .tooLong, "longer than \(max) characters"); return nil }
            return s
        }
        func integer(_ key: String) -> Int? {
            guard let v = value(key) else { return nil }
            guard case .number(let n) = v, n.rounded() == n, abs(n) < 1e9 else {
                fail(key, .type, "must be an integer, got \(v.typeName)")
                return nil
            }
            return Int(n)
        }

        string("fullName", max: 255)
        if let year = integer("birthYear"), !(1900...currentYear).contains(year) {
            fail("birthYear", .outOfRange, "must be between 1900 and \(currentYear), got \(year)")
        }
        if let gender = string("gender", max: 4), !["Nam", "Nu", "Khac"].contains(gender) {
            fail("gender", .invalidChoice, "must be \"Nam\", \"Nu\" or \"Khac\"")
        }
        string("nation", max: 64)
        for key in ["provinceId", "districtId", "wardId"] { string(key, max: 32) }
        string("address", max: 255)
        if let phone = string("phone", max: 16), !Self.isVietnamesePhone(phone) {
            fail("phone", .invalidPhone, "must be a Vietnamese number: 0 or +84 followed by 9 or 10 digits")
        }
        for key in ["hasPatient", "hasFromSickCountry", "hasSick"] {
            if let v = integer(key), v != 1 && v != 2 { fail(key, .invalidChoice, "must be 1 (yes) or 2 (no), got \(v)") }
        }
        if let consent = value("consent") {
            if case .bool(let given) = consent {
                if !given { fail("consent", .consentRequired, "must be true: the person has to agree") }
            } else {
                fail("consent", .type, "must be a boolean, got \(consent.typeName)")
            }
        }
        if let v = value("otherUser") {
            if case .bool = v {} else { fail("otherUser", .type, "must be a boolean, got \(v.typeName)") }
        }
        if let p = string("passport", max: 20),
           !p.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("A"..."Z").contains($0) || ("a"..."z").contains($0) }) {
            fail("passport", .invalidCharacters, "letters and digits only")
        }
        if let e = string("email", max: 255) {
            let parts = e.split(separator: "@", omittingEmptySubsequences: false)
            if !(parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")) { fail("email", .invalidEmail, "not an e-mail address") }
        }
        string("countryPassing", max: 1000, allowEmpty: true)
        string("symptomsNote", max: 1000, allowEmpty: true)
        if let s = value("symptoms") {
            if case .array(let items) = s {
                for (i, item) in items.enumerated() {
                    guard case .string(let name) = item, Self.symptoms.contains(name) else {
                        fail("symptoms[\(i)]", .invalidChoice, "must be one of \(Self.symptoms.sorted().joined(separator: ", "))")
                        continue
                    }
                }
            } else {
                fail("symptoms", .type, "must be an array, got \(s.typeName)")
            }
        }
        if let source = value(DeclarationSource.field) {
            if case .string(let s) = source {
                if DeclarationSource(rawValue: s) == nil {
                    let choices = DeclarationSource.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                    fail(DeclarationSource.field, .invalidChoice, "must be one of \(choices)")
                }
            } else {
                fail(DeclarationSource.field, .type, "must be a string, got \(source.typeName)")
            }
        }
        if !errors.isEmpty { throw DeclarationError(invalid: errors) }
        if value(DeclarationSource.field) == nil { o[DeclarationSource.field] = .string(DeclarationSource.form.rawValue) }
        return o
    }

    /// Strings (also inside arrays) trimmed of surrounding white space and in Unicode NFC, so the same text typed on
    /// different keyboards is stored the same way.
    static func normalised(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping)
        case .array(let items): return .array(items.map(normalised))
        default: return v
        }
    }

    static func isVietnamesePhone(_ s: String) -> Bool {
        var digits = Substring(s)
        if digits.hasPrefix("+84") { digits = digits.dropFirst(3) } else if digits.hasPrefix("0") { digits = digits.dropFirst() } else { return false }
        return (9...10).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let ctx) = error {
            if let underlying = ctx.underlyingError as NSError?, let d = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return d
            }
            return ctx.debugDescription
        }
        return "\(error)"
    }
}

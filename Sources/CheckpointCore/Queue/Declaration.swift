import Foundation

/// Why a declaration was refused; maps one-to-one onto the API's 400 / 413 / 422.
public struct DeclarationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not JSON, or not a JSON object (HTTP 400).
        case malformed
        /// Larger than the limit (HTTP 413).
        case tooLarge
        /// Well-formed JSON but a field is missing, of the wrong type or out of range (HTTP 422).
        case invalid
    }

    public var kind: Kind
    /// The offending field, when there is one.
    public var field: String?
    public var message: String

    public init(_ kind: Kind, field: String? = nil, _ message: String) {
        self.kind = kind
        self.field = field
        self.message = message
    }

    public var httpStatus: Int {
        switch kind {
        case .malformed: 400
        case .tooLarge: 413
        case .invalid: 422
        }
    }

    public var description: String {
        if let field { return "\(field): \(message)" }
        return message
    }
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
/// | `provinceId`, `districtId`, `wardId` | yes | string, 1–32 (administrative unit codes) |
/// | `address` | yes | string, 1–255 |
/// | `phone` | yes | Vietnamese number: `0` or `+84` then 9–10 digits |
/// | `hasPatient`, `hasFromSickCountry`, `hasSick` | yes | 1 = yes, 2 = no (14-day contact questions) |
/// | `otherUser` | no | boolean (declared on someone's behalf) |
/// | `passport` | no | ID / passport number, letters and digits, ≤ 20 |
/// | `email` | no | string with one "@", ≤ 255 |
/// | `countryPassing` | no | string ≤ 1000 (places visited in 14 days) |
/// | `symptoms` | no | array of "fever", "cough", "breathless", "pneumonia", "sore-throat", "tired" |
/// | `symptomsNote` | no | string ≤ 1000 |
/// | `consent` | yes | must be `true` (Decree 13/2023: silence is not consent) |
///
/// Unknown fields are refused, so nothing unexpected (and possibly personal) is stored.
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
    static let required = ["fullName", "birthYear", "gender", "nation", "provinceId", "districtId", "wardId",
                           "address", "phone", "hasPatient", "hasFromSickCountry", "hasSick", "consent"]
    static let optional: Set<String> = ["otherUser", "passport", "email", "countryPassing", "symptoms", "symptomsNote"]

    /// Parses and validates a request body. Returns the declaration as a JSON object.
    public func validate(_ body: Data) throws(DeclarationError) -> [String: JSONValue] {
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
        try validate(object: object)
        return object
    }

    /// Validates an already-parsed declaration.
    public func validate(object o: [String: JSONValue]) throws(DeclarationError) {
        for key in o.keys.sorted() where !Self.required.contains(key) && !Self.optional.contains(key) {
            throw DeclarationError(.invalid, field: key, "unknown field")
        }
        for key in Self.required where o[key] == nil || o[key] == .null {
            throw DeclarationError(.invalid, field: key, "required field is missing")
        }
        try string(o, "fullName", max: 255)
        let year = try integer(o, "birthYear")
        guard (1900...currentYear).contains(year) else {
            throw DeclarationError(.invalid, field: "birthYear", "must be between 1900 and \(currentYear), got \(year)")
        }
        let gender = try string(o, "gender", max: 4)
        guard ["Nam", "Nu", "Khac"].contains(gender) else {
            throw DeclarationError(.invalid, field: "gender", "must be \"Nam\", \"Nu\" or \"Khac\"")
        }
        try string(o, "nation", max: 64)
        for key in ["provinceId", "districtId", "wardId"] { try string(o, key, max: 32) }
        try string(o, "address", max: 255)
        let phone = try string(o, "phone", max: 16)
        guard Self.isVietnamesePhone(phone) else {
            throw DeclarationError(.invalid, field: "phone", "must be a Vietnamese number: 0 or +84 followed by 9 or 10 digits")
        }
        for key in ["hasPatient", "hasFromSickCountry", "hasSick"] {
            let v = try integer(o, key)
            guard v == 1 || v == 2 else { throw DeclarationError(.invalid, field: key, "must be 1 (yes) or 2 (no), got \(v)") }
        }
        guard case .bool(let consent) = o["consent"]! else {
            throw DeclarationError(.invalid, field: "consent", "must be a boolean, got \(o["consent"]!.typeName)")
        }
        guard consent else { throw DeclarationError(.invalid, field: "consent", "must be true: the person has to agree") }

        if let v = o["otherUser"], v != .null {
            guard case .bool = v else { throw DeclarationError(.invalid, field: "otherUser", "must be a boolean, got \(v.typeName)") }
        }
        if o["passport"] != nil, o["passport"] != .null {
            let p = try string(o, "passport", max: 20)
            guard p.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("A"..."Z").contains($0) || ("a"..."z").contains($0) }) else {
                throw DeclarationError(.invalid, field: "passport", "letters and digits only")
            }
        }
        if o["email"] != nil, o["email"] != .null {
            let e = try string(o, "email", max: 255)
            let parts = e.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains(".") else {
                throw DeclarationError(.invalid, field: "email", "not an e-mail address")
            }
        }
        if o["countryPassing"] != nil, o["countryPassing"] != .null { try string(o, "countryPassing", max: 1000, allowEmpty: true) }
        if o["symptomsNote"] != nil, o["symptomsNote"] != .null { try string(o, "symptomsNote", max: 1000, allowEmpty: true) }
        if let s = o["symptoms"], s != .null {
            guard case .array(let items) = s else {
                throw DeclarationError(.invalid, field: "symptoms", "must be an array, got \(s.typeName)")
            }
            for (i, item) in items.enumerated() {
                guard case .string(let name) = item, Self.symptoms.contains(name) else {
                    throw DeclarationError(.invalid, field: "symptoms[\(i)]",
                                           "must be one of \(Self.symptoms.sorted().joined(separator: ", "))")
                }
            }
        }
    }

    @discardableResult
    private func string(_ o: [String: JSONValue], _ key: String, max: Int, allowEmpty: Bool = false) throws(DeclarationError) -> String {
        guard case .string(let s) = o[key]! else {
            throw DeclarationError(.invalid, field: key, "must be a string, got \(o[key]!.typeName)")
        }
        let trimmed = s.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty && !allowEmpty { throw DeclarationError(.invalid, field: key, "must not be empty") }
        if s.count > max { throw DeclarationError(.invalid, field: key, "longer than \(max) characters") }
        return trimmed
    }

    private func integer(_ o: [String: JSONValue], _ key: String) throws(DeclarationError) -> Int {
        guard case .number(let n) = o[key]! else {
            throw DeclarationError(.invalid, field: key, "must be an integer, got \(o[key]!.typeName)")
        }
        guard n.rounded() == n, abs(n) < 1e9 else { throw DeclarationError(.invalid, field: key, "must be an integer, got \(n)") }
        return Int(n)
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

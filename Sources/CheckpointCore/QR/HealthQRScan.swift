import Foundation

/// What the kiosk tells the screen about one camera frame while the person shows a code: a health declaration QR read
/// (its declaration prefill), or a refusal with a language-neutral reason code the page translates. Frames without
/// a code have no outcome.
///
/// Event body (`GET /v1/qr/events`, see `eventBody`):
/// - read: `{"kind": "qr-pccovid" | "qr-cccd", "fields": {…declarationPrefill…}}`, plus `"maskedIdNumber"` when a
///   PC-COVID code carries a masked ID number (shown masked, never submitted: the declaration's passport field cannot
///   hold `*`);
/// - refused: `{"refused": <code>}`, plus `"lookalike"` for another kind of code, `"format"` and `"field"` for a
///   broken health QR. Codes and names only, never a value from the code.
public enum HealthQRScanOutcome: Sendable, Equatable {
    case read(HealthQR)
    case refused(HealthQRScanRefusal)

    /// The outcome for the codes found in one frame (`nil` text = a code whose bytes are not UTF-8), or nil when the
    /// frame holds none. A health QR wins over refusals; otherwise the first code's refusal.
    public static func of(texts: [String?], currentYear: Int? = nil) -> HealthQRScanOutcome? {
        var first: HealthQRScanRefusal?
        for text in texts {
            guard let text else {
                first = first ?? HealthQRScanRefusal(code: HealthQRScanRefusal.notText)
                continue
            }
            switch HealthQR.parse(text, currentYear: currentYear) {
            case .success(let qr): return .read(qr)
            case .failure(let refusal): first = first ?? HealthQRScanRefusal(refusal)
            }
        }
        return first.map(HealthQRScanOutcome.refused)
    }

    /// The metric label: "qr-pccovid" / "qr-cccd", or "refused".
    public var kind: String {
        switch self {
        case .read(let qr): qr.format.source.rawValue
        case .refused: "refused"
        }
    }

    /// The JSON object sent to the screen.
    public var eventBody: [String: JSONValue] {
        switch self {
        case .read(let qr):
            var body: [String: JSONValue] = ["kind": .string(qr.format.source.rawValue), "fields": .object(qr.declarationPrefill)]
            if case .pcCovid(let p) = qr, p.isIDNumberMasked { body["maskedIdNumber"] = .string(p.idNumber) }
            return body
        case .refused(let r):
            var body: [String: JSONValue] = ["refused": .string(r.code)]
            if let l = r.lookalike { body["lookalike"] = .string(l.rawValue) }
            if let f = r.format { body["format"] = .string(f.source.rawValue) }
            if let f = r.field { body["field"] = .string(f) }
            return body
        }
    }
}

/// A refusal as the screen and the metrics see it: a code, never content.
public struct HealthQRScanRefusal: Sendable, Equatable {
    /// "not-health-declaration", "field-count", "invalid-field", "control-characters", "too-long", "empty", or
    /// `notText` for a code whose bytes are not UTF-8 text.
    public var code: String
    public var lookalike: HealthQR.Lookalike?
    public var format: HealthQR.Format?
    /// The broken field's name in its format ("NgaySinh", "CCCD number", …), never its value.
    public var field: String?

    public static let notText = "not-text"
    /// Every code, for the page's catalogue and the tests.
    public static let codes = ["not-health-declaration", "field-count", "invalid-field", "control-characters", "too-long", "empty", notText]

    public init(code: String, lookalike: HealthQR.Lookalike? = nil, format: HealthQR.Format? = nil, field: String? = nil) {
        self.code = code
        self.lookalike = lookalike
        self.format = format
        self.field = field
    }

    public init(_ refusal: HealthQRRefusal) {
        switch refusal.kind {
        case .empty: self.init(code: "empty")
        case .tooLong: self.init(code: "too-long")
        case .controlCharacters: self.init(code: "control-characters", format: refusal.format)
        case .notHealthDeclaration(let l): self.init(code: "not-health-declaration", lookalike: l)
        case .fieldCount: self.init(code: "field-count", format: refusal.format)
        case .invalidField: self.init(code: "invalid-field", format: refusal.format, field: refusal.field)
        }
    }
}

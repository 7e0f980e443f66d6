import Foundation

extension HealthQR {
    /// The declaration fields a scanned code fills in, with the field names and value formats `DeclarationValidator`
    /// accepts, and `source` ("qr-pccovid" or "qr-cccd"). The person completes the rest on the form.
    ///
    /// | Declaration field | PC-COVID | CCCD |
    /// |---|---|---|
    /// | `fullName` | `HoTen` | name |
    /// | `birthYear` | year of `NgaySinh` | year of the date of birth |
    /// | `gender` | EXT gender 1 → "Nam", 2 → "Nu"; 0 (unknown) or missing: left out | "Nam" / "Nu" |
    /// | `passport` | `SoGiayTo`, only when not masked | CCCD number |
    /// | `phone` | EXT phone, only when the declaration accepts it (0 or +84 then 9–10 digits) | — |
    /// | `address` | — | address |
    /// | `otherUser` | `LoaiDinhDanh` = 1 (declared by proxy) | — |
    /// | `source` | "qr-pccovid" | "qr-cccd" |
    ///
    /// Never filled: the QID and the proxy's QID, the health-insurance number, the old CMND number and the issue date
    /// (the declaration has no field for them, so they are not kept); birth month and day (the form asks the year).
    public var declarationPrefill: [String: JSONValue] {
        var d: [String: JSONValue] = [DeclarationSource.field: .string(format.source.rawValue)]
        switch self {
        case .pcCovid(let qr):
            d["fullName"] = .string(qr.fullName)
            d["birthYear"] = .number(Double(qr.birthDate.year))
            if let gender = qr.gender?.declarationValue { d["gender"] = .string(gender) }
            if !qr.isIDNumberMasked { d["passport"] = .string(qr.idNumber) }
            if let phone = qr.phone, DeclarationValidator.isVietnamesePhone(phone) { d["phone"] = .string(phone) }
            d["otherUser"] = .bool(qr.declarant == .proxy)
        case .cccd(let qr):
            d["fullName"] = .string(qr.fullName)
            d["birthYear"] = .number(Double(qr.birthDate.year))
            if let gender = qr.gender.declarationValue { d["gender"] = .string(gender) }
            d["passport"] = .string(qr.idNumber)
            d["address"] = .string(qr.address)
        }
        return d
    }
}

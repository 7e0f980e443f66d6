import Foundation

/// The QR code printed on a chip citizen ID card (Căn cước công dân, CCCD):
/// `CCCD|oldCMND|Name|DOB|Gender|Address|IssueDate`, or the same without `oldCMND` (6 fields).
///
/// | Field | Here | Rule |
/// |---|---|---|
/// | CCCD number | `idNumber` | 12 digits |
/// | old CMND number | `oldIDNumber` | 9 or 12 digits, or empty (nil) |
/// | name | `fullName` | with Vietnamese diacritics, NFC, ≤ 255 |
/// | date of birth | `birthDate` | `ddmmyyyy`, a real date, 1900 … current year |
/// | gender | `gender` | `Nam` or `Nữ` (NFC or NFD, any case; `Nu` too) |
/// | address | `address` | permanent residence, NFC, ≤ 255 |
/// | issue date | `issueDate` | `ddmmyyyy`, a real date, not before the birth date, not after the current year |
public struct CCCDQR: Sendable, Equatable {
    public var idNumber: String
    public var oldIDNumber: String?
    public var fullName: String
    public var birthDate: HealthQR.CalendarDate
    public var gender: HealthQR.Gender
    public var address: String
    public var issueDate: HealthQR.CalendarDate

    public init(idNumber: String, oldIDNumber: String? = nil, fullName: String, birthDate: HealthQR.CalendarDate,
                gender: HealthQR.Gender, address: String, issueDate: HealthQR.CalendarDate) {
        self.idNumber = idNumber
        self.oldIDNumber = oldIDNumber
        self.fullName = fullName
        self.birthDate = birthDate
        self.gender = gender
        self.address = address
        self.issueDate = issueDate
    }

    /// The field names, in order (7-field layout), used in refusals.
    public static let fieldNames = ["CCCD number", "old CMND number", "name", "date of birth", "gender", "address", "issue date"]

    static let maxTextLength = 255

    /// The gender a field names, or nil: "Nam" → male, "Nữ" / "Nu" → female (NFC input, any case).
    static func gender(_ s: String) -> HealthQR.Gender? {
        switch s.precomposedStringWithCanonicalMapping.lowercased() {
        case "nam": .male
        case "n\u{1EEF}", "nu": .female   // "nữ"
        default: nil
        }
    }

    /// The fields (already split, trimmed and NFC) of a code with 6 or 7 fields.
    static func parse(fields all: [String], currentYear: Int) -> Result<CCCDQR, HealthQRRefusal> {
        func refuse(_ field: String, _ reason: String) -> Result<CCCDQR, HealthQRRefusal> {
            .failure(HealthQRRefusal(.invalidField, format: .cccd, field: field, reason))
        }
        // The 6-field variant has no old CMND number: read it as the 7-field layout with that field empty.
        let f = all.count == 7 ? all : [all[0], ""] + all[1...]

        let id = f[0]
        if !HealthQR.isDigits(id, count: 12...12) { return refuse("CCCD number", "must be 12 digits") }
        let old = f[1]
        if !old.isEmpty && !HealthQR.isDigits(old, count: 9...9) && !HealthQR.isDigits(old, count: 12...12) {
            return refuse("old CMND number", "must be 9 or 12 digits, or empty")
        }
        let name = f[2]
        if name.isEmpty { return refuse("name", "the name is empty") }
        if name.count > maxTextLength { return refuse("name", "the name is longer than \(maxTextLength) characters") }
        if !HealthQR.isPersonName(name) { return refuse("name", "the name may hold only letters, spaces, apostrophes, hyphens and full stops") }

        guard let birth = date(f[3]) else { return refuse("date of birth", "must be a real date written ddmmyyyy") }
        if !(1900...currentYear).contains(birth.year) {
            return refuse("date of birth", "the birth year must be between 1900 and \(currentYear)")
        }
        guard let gender = gender(f[4]) else { return refuse("gender", "must be \"Nam\" or \"Nữ\"") }

        let address = f[5]
        if address.isEmpty { return refuse("address", "the address is empty") }
        if address.count > maxTextLength { return refuse("address", "the address is longer than \(maxTextLength) characters") }
        if !address.unicodeScalars.contains(where: { $0.properties.isAlphabetic || HealthQR.isASCIIDigit($0) }) {
            return refuse("address", "the address holds no letter or digit")
        }

        guard let issued = date(f[6]) else { return refuse("issue date", "must be a real date written ddmmyyyy") }
        if issued.year > currentYear { return refuse("issue date", "the issue date is after \(currentYear)") }
        if issued < birth { return refuse("issue date", "the card was issued before its holder was born") }

        return .success(CCCDQR(idNumber: id, oldIDNumber: old.isEmpty ? nil : old, fullName: name, birthDate: birth,
                               gender: gender, address: address, issueDate: issued))
    }

    /// `ddmmyyyy`, a real date; nil otherwise.
    static func date(_ s: String) -> HealthQR.CalendarDate? {
        guard HealthQR.isDigits(s, count: 8...8) else { return nil }
        let u = Array(s.unicodeScalars)
        func n(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(u[$1].value - 48) } }
        return HealthQR.CalendarDate(year: n(4..<8), month: n(2..<4), day: n(0..<2))
    }

    static func text(_ d: HealthQR.CalendarDate) -> String {
        HealthQR.digits(d.day, 2) + HealthQR.digits(d.month, 2) + HealthQR.digits(d.year, 4)
    }

    /// The code's text from these fields, in the 7-field layout (an empty old CMND number when there is none).
    public var text: String {
        let genderText = switch gender {
        case .male: "Nam"
        case .female: "N\u{1EEF}"
        case .unknown: ""   // not on a card; an unknown gender renders as a code that does not parse
        }
        return [idNumber, oldIDNumber ?? "", fullName, Self.text(birthDate), genderText, address, Self.text(issueDate)]
            .joined(separator: "|")
    }
}

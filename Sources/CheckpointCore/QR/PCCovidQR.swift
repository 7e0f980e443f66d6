import Foundation

/// The PC-COVID personal QR code (Decision 1405/QĐ-BTTTT, v1.1): `SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`.
///
/// | Field | Here | Rule |
/// |---|---|---|
/// | `SoGiayTo` | `idNumber` | CMND, CCCD or passport number: letters and digits, ≤ 20, leading characters maskable with `*` (kept masked) |
/// | `HoTen` | `fullName` | a name (the format says upper case without diacritics; kept as printed, NFC), ≤ 255 |
/// | `NgaySinh` | `birthDate` | `YYYY-MM-DD`, month and/or day maskable as `**`; the year always, 1900 … current year |
/// | `LoaiDinhDanh` | `declarant` | 0 = self-declared, 1 = declared by proxy |
/// | `QID` | `qid` | the national QR platform's ID: digits, ≤ 32 |
/// | `EXT` | below | sub-fields separated by `<`; missing trailing ones are tolerated |
/// | EXT 1 | `proxyQID` | the proxy's QID: digits, ≤ 32, or empty |
/// | EXT 2 | `gender` | 0 unknown, 1 male, 2 female, or empty |
/// | EXT 3 | `healthInsuranceNumber` | BHYT card number: letters and digits, ≤ 20, or empty |
/// | EXT 4 | `phone` | digits, optionally after `+`, 8–15 digits, or empty |
///
/// Sub-fields after the phone (the format reserves them, e.g. for a digital signature) are ignored and not kept.
/// Published example: `001093029317|NGUYEN LE KHA HAN|1987-01-18|0|162979388586171100|<1<HS4010120878821<0944713700`.
public struct PCCovidQR: Sendable, Equatable {
    /// Who declared the data behind the code (`LoaiDinhDanh`).
    public enum Declarant: String, Sendable, Equatable, CaseIterable {
        case selfDeclared = "0"
        case proxy = "1"
    }

    /// `NgaySinh`: the year always; month and day only when the code shows them.
    public struct BirthDate: Sendable, Equatable, CustomStringConvertible {
        public var year: Int
        /// nil when masked (`**`).
        public var month: Int?
        /// nil when masked (`**`).
        public var day: Int?
        public init(year: Int, month: Int?, day: Int?) {
            self.year = year
            self.month = month
            self.day = day
        }
        /// As printed: `YYYY-MM-DD` with `**` for a masked part.
        public var description: String {
            "\(HealthQR.digits(year, 4))-\(month.map { HealthQR.digits($0, 2) } ?? "**")-\(day.map { HealthQR.digits($0, 2) } ?? "**")"
        }
    }

    /// `SoGiayTo` as printed: a masked number keeps its `*`s.
    public var idNumber: String
    public var fullName: String
    public var birthDate: BirthDate
    public var declarant: Declarant
    public var qid: String
    public var proxyQID: String?
    public var gender: HealthQR.Gender?
    public var healthInsuranceNumber: String?
    public var phone: String?

    public init(idNumber: String, fullName: String, birthDate: BirthDate, declarant: Declarant, qid: String,
                proxyQID: String? = nil, gender: HealthQR.Gender? = nil, healthInsuranceNumber: String? = nil, phone: String? = nil) {
        self.idNumber = idNumber
        self.fullName = fullName
        self.birthDate = birthDate
        self.declarant = declarant
        self.qid = qid
        self.proxyQID = proxyQID
        self.gender = gender
        self.healthInsuranceNumber = healthInsuranceNumber
        self.phone = phone
    }

    /// True when leading characters of `idNumber` are masked: the full number is not known.
    public var isIDNumberMasked: Bool { idNumber.unicodeScalars.first == "*" }

    /// The field names of the format, in order (used in refusals).
    public static let fieldNames = ["SoGiayTo", "HoTen", "NgaySinh", "LoaiDinhDanh", "QID", "EXT"]
    /// The EXT sub-fields read, in order (used in refusals).
    public static let extFieldNames = ["EXT proxy QID", "EXT gender", "EXT BHYT number", "EXT phone"]

    static let maxIDLength = 20
    static let maxNameLength = 255
    static let maxQIDLength = 32

    /// The fields (already split, trimmed and NFC) of a code with six fields.
    static func parse(fields f: [String], currentYear: Int) -> Result<PCCovidQR, HealthQRRefusal> {
        func refuse(_ field: String, _ reason: String) -> Result<PCCovidQR, HealthQRRefusal> {
            .failure(HealthQRRefusal(.invalidField, format: .pcCovid, field: field, reason))
        }
        // SoGiayTo: letters and digits, the leading ones possibly masked.
        let id = f[0]
        let visible = id.unicodeScalars.drop { $0 == "*" }
        if id.isEmpty { return refuse("SoGiayTo", "the ID number is empty") }
        if id.unicodeScalars.count > maxIDLength { return refuse("SoGiayTo", "the ID number is longer than \(maxIDLength) characters") }
        if visible.isEmpty { return refuse("SoGiayTo", "the ID number is masked entirely") }
        if !visible.allSatisfy({ HealthQR.isASCIIDigit($0) || HealthQR.isASCIILetter($0) }) {
            return refuse("SoGiayTo", "the ID number may hold only letters and digits, after a leading mask of \"*\"")
        }

        let name = f[1]
        if name.isEmpty { return refuse("HoTen", "the name is empty") }
        if name.count > maxNameLength { return refuse("HoTen", "the name is longer than \(maxNameLength) characters") }
        if !HealthQR.isPersonName(name) { return refuse("HoTen", "the name may hold only letters, spaces, apostrophes, hyphens and full stops") }

        let birth: BirthDate
        switch parseBirthDate(f[2], currentYear: currentYear) {
        case .success(let b): birth = b
        case .failure(let reason): return refuse("NgaySinh", reason.text)
        }

        guard let declarant = Declarant(rawValue: f[3]) else {
            return refuse("LoaiDinhDanh", "must be 0 (self-declared) or 1 (declared by proxy)")
        }

        let qid = f[4]
        if !HealthQR.isDigits(qid, count: 1...maxQIDLength) { return refuse("QID", "must be 1 to \(maxQIDLength) digits") }

        var qr = PCCovidQR(idNumber: id, fullName: name, birthDate: birth, declarant: declarant, qid: qid)
        // EXT: proxy QID < gender < BHYT number < phone < … Each sub-field may be missing at the end, or empty.
        let ext = f[5].unicodeScalars.split(separator: "<", omittingEmptySubsequences: false).map(HealthQR.field)
        func sub(_ i: Int) -> String? { i < ext.count && !ext[i].isEmpty ? ext[i] : nil }
        if let proxy = sub(0) {
            if !HealthQR.isDigits(proxy, count: 1...maxQIDLength) { return refuse(extFieldNames[0], "must be 1 to \(maxQIDLength) digits") }
            qr.proxyQID = proxy
        }
        if let g = sub(1) {
            switch g {
            case "0": qr.gender = .unknown
            case "1": qr.gender = .male
            case "2": qr.gender = .female
            default: return refuse(extFieldNames[1], "must be 0 (unknown), 1 (male) or 2 (female)")
            }
        }
        if let bhyt = sub(2) {
            if bhyt.unicodeScalars.count > 20 || !bhyt.unicodeScalars.allSatisfy({ HealthQR.isASCIIDigit($0) || HealthQR.isASCIILetter($0) }) {
                return refuse(extFieldNames[2], "the health-insurance number may hold only letters and digits, at most 20")
            }
            qr.healthInsuranceNumber = bhyt
        }
        if let phone = sub(3) {
            let digits = phone.hasPrefix("+") ? String(phone.unicodeScalars.dropFirst()) : phone
            if !HealthQR.isDigits(digits, count: 8...15) {
                return refuse(extFieldNames[3], "the phone number must be 8 to 15 digits, optionally after \"+\"")
            }
            qr.phone = phone
        }
        return .success(qr)
    }

    struct DateProblem: Error { var text: String }

    static func parseBirthDate(_ s: String, currentYear: Int) -> Result<BirthDate, DateProblem> {
        let parts = s.unicodeScalars.split(separator: "-", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        guard parts.count == 3, HealthQR.isDigits(parts[0], count: 4...4), parts[1].unicodeScalars.count == 2, parts[2].unicodeScalars.count == 2
        else { return .failure(DateProblem(text: "the birth date must be YYYY-MM-DD, with ** for a masked month or day")) }
        let year = HealthQR.number(parts[0])!
        guard (1900...currentYear).contains(year) else {
            return .failure(DateProblem(text: "the birth year must be between 1900 and \(currentYear)"))
        }
        func part(_ p: String) -> Int?? {
            if p == "**" { return .some(nil) }
            guard HealthQR.isDigits(p, count: 2...2) else { return nil }
            return .some(HealthQR.number(p))
        }
        guard let month = part(parts[1]), let day = part(parts[2]) else {
            return .failure(DateProblem(text: "the birth month and day must be two digits or **"))
        }
        if let m = month, !(1...12).contains(m) { return .failure(DateProblem(text: "the birth month does not exist")) }
        if let d = day {
            // With the month masked, the day must exist in some month.
            let last = month.map { HealthQR.daysIn(month: $0, year: year) } ?? 31
            if !(1...last).contains(d) { return .failure(DateProblem(text: "the birth date does not exist")) }
        }
        return .success(BirthDate(year: year, month: month, day: day))
    }

    /// The code's text from these fields: masked parts stay masked, empty trailing EXT sub-fields are left out.
    public var text: String {
        var ext = [proxyQID ?? "", gender.map(Self.code) ?? "", healthInsuranceNumber ?? "", phone ?? ""]
        while ext.last == "" { ext.removeLast() }
        return [idNumber, fullName, birthDate.description, declarant.rawValue, qid, ext.joined(separator: "<")].joined(separator: "|")
    }

    static func code(_ g: HealthQR.Gender) -> String {
        switch g {
        case .unknown: "0"
        case .male: "1"
        case .female: "2"
        }
    }
}

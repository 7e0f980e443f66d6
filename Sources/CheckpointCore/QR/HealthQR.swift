import Foundation

/// A health-declaration QR code the kiosk can read a person's details from, parsed from the code's decoded text.
///
/// Two formats are read (the project's research notes "standards-and-declaration", §B.3–B.5):
/// - the PC-COVID personal QR code of Decision 1405/QĐ-BTTTT, `SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`
///   (`PCCovidQR`);
/// - the QR code printed on a chip citizen ID card, `CCCD|oldCMND|Name|DOB|Gender|Address|IssueDate`, or the same
///   without the old CMND number (`CCCDQR`).
///
/// Anything else is refused with a reason (`HealthQRRefusal`): other codes a person may show at a checkpoint (an EU
/// digital COVID certificate, a bank transfer code, a web address) are named. Reasons name the field, never its value:
/// they may be logged.
///
/// What is parsed is only read: a masked ID number or birth date stays masked, nothing is completed or guessed.
/// `declarationPrefill` maps a parsed code onto the declaration's fields (`DeclarationValidator`).
public enum HealthQR: Sendable, Equatable {
    case pcCovid(PCCovidQR)
    case cccd(CCCDQR)

    /// The longest decoded text accepted, in UTF-8 bytes. A PC-COVID code is about 100 bytes, a CCCD code about 200.
    public static let maxBytes = 1000

    /// The two formats, for refusals that know which one the text was meant to be.
    public enum Format: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        case pcCovid = "PC-COVID"
        case cccd = "CCCD"

        /// What a declaration prefilled from this format records as its `source`.
        public var source: DeclarationSource {
            switch self {
            case .pcCovid: .pcCovidQR
            case .cccd: .cccdQR
            }
        }

        public var description: String { rawValue }
    }

    /// What a QR code that is not a health declaration looks like.
    public enum Lookalike: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        /// `HC1:`: an EU digital COVID certificate (Vietnam's vaccine passport, Decision 5772/QĐ-BYT).
        case euCovidCertificate = "eu-dcc"
        /// `000201…`: an EMVCo merchant-presented code, e.g. a VietQR bank transfer.
        case paymentCode = "vietqr"
        /// `http://` or `https://`: a web address (e.g. a place's check-in page).
        case url
        /// None of the above.
        case unknown

        public var description: String {
            switch self {
            case .euCovidCertificate: "an EU digital COVID certificate (vaccine passport)"
            case .paymentCode: "a VietQR / EMVCo bank payment code"
            case .url: "a web address"
            case .unknown: "a code of unknown format"
            }
        }
    }

    /// Gender as the codes carry it. The CCCD card has only male and female; PC-COVID also has 0 = unknown.
    public enum Gender: Sendable, Equatable, CaseIterable {
        case unknown
        case male
        case female

        /// The declaration's `gender` value ("Nam", "Nu"), or nil for unknown: "Khac" means other, not unknown.
        public var declarationValue: String? {
            switch self {
            case .unknown: nil
            case .male: "Nam"
            case .female: "Nu"
            }
        }
    }

    /// A full calendar date (proleptic Gregorian), as the CCCD code prints its dates.
    public struct CalendarDate: Sendable, Equatable, Comparable, CustomStringConvertible {
        public var year: Int
        public var month: Int
        public var day: Int
        /// A valid date, or nil (31 February, month 13, …).
        public init?(year: Int, month: Int, day: Int) {
            guard (1...12).contains(month), (1...HealthQR.daysIn(month: month, year: year)).contains(day) else { return nil }
            self.year = year
            self.month = month
            self.day = day
        }
        public static func < (a: CalendarDate, b: CalendarDate) -> Bool {
            (a.year, a.month, a.day) < (b.year, b.month, b.day)
        }
        /// ISO 8601, `YYYY-MM-DD`.
        public var description: String { "\(HealthQR.digits(year, 4))-\(HealthQR.digits(month, 2))-\(HealthQR.digits(day, 2))" }
    }

    // MARK: Parsing

    /// Parses the decoded text of a QR code.
    ///
    /// Surrounding white space (and a byte-order mark) is trimmed; each field is trimmed too and brought to Unicode
    /// NFC. Refused: more than `maxBytes`, control or invisible formatting characters, codes of another kind, a wrong
    /// number of fields, and any field that breaks its format (the reason names the field).
    /// - Parameter currentYear: the latest year a birth or issue date may have (default: this year).
    public static func parse(_ text: String, currentYear: Int? = nil) -> Result<HealthQR, HealthQRRefusal> {
        let year = currentYear ?? Calendar(identifier: .gregorian).component(.year, from: Date())
        let size = text.utf8.count
        if size > maxBytes {
            return .failure(HealthQRRefusal(.tooLong, "the code holds \(size) bytes; a health declaration QR holds at most \(maxBytes)"))
        }
        let scalars = trimmed(Substring(text).unicodeScalars, extra: ["\u{FEFF}"])
        if scalars.isEmpty { return .failure(HealthQRRefusal(.empty, "the code is empty")) }
        let body = String(String.UnicodeScalarView(scalars))
        if let lookalike = lookalike(body) {
            return .failure(HealthQRRefusal(.notHealthDeclaration(lookalike), "this is not a health declaration QR: it looks like \(lookalike)"))
        }
        if scalars.contains(where: isForbidden) {
            return .failure(HealthQRRefusal(.controlCharacters, "the code contains control or invisible formatting characters"))
        }
        let fields = scalars.split(separator: "|", omittingEmptySubsequences: false).map(field)
        switch guessFormat(fields) {
        case nil:
            return .failure(HealthQRRefusal(.notHealthDeclaration(.unknown), "this is not a health declaration QR: its format is unknown"))
        case .pcCovid?:
            guard fields.count == PCCovidQR.fieldNames.count else {
                return .failure(HealthQRRefusal(.fieldCount, format: .pcCovid,
                                                "a PC-COVID code has 6 fields separated by \"|\"; this one has \(fields.count)"))
            }
            return PCCovidQR.parse(fields: fields, currentYear: year).map(HealthQR.pcCovid)
        case .cccd?:
            guard fields.count == 6 || fields.count == 7 else {
                return .failure(HealthQRRefusal(.fieldCount, format: .cccd,
                                                "a CCCD code has 7 fields separated by \"|\" (6 without the old CMND number); this one has \(fields.count)"))
            }
            return CCCDQR.parse(fields: fields, currentYear: year).map(HealthQR.cccd)
        }
    }

    /// Which format the code was meant to be, from features only one of them has; nil when none shows.
    ///
    /// PC-COVID: a `YYYY-` birth date in field 3, 0 or 1 in field 4, an EXT field that is empty or starts with `<`.
    /// CCCD: an 8-digit date and a gender word at their places (7 fields, or 6 without the old CMND number).
    /// Six fields fit both layouts: the one with more features wins, PC-COVID on a tie.
    static func guessFormat(_ f: [String]) -> Format? {
        func at(_ i: Int) -> String? { i < f.count ? f[i] : nil }
        func isYearDash(_ s: String?) -> Bool {
            guard let s else { return false }
            let u = Array(s.unicodeScalars)
            return u.count >= 5 && u[0..<4].allSatisfy(isASCIIDigit) && u[4] == "-"
        }
        func isDate8(_ s: String?) -> Bool { s.map { isDigits($0, count: 8...8) } ?? false }
        func isGender(_ s: String?) -> Bool { s.map { CCCDQR.gender($0) != nil } ?? false }
        func score(_ checks: Bool...) -> Int { checks.filter { $0 }.count }

        let pc = score(isYearDash(at(2)), at(3) == "0" || at(3) == "1", at(5).map { $0.isEmpty || $0.hasPrefix("<") } ?? false)
        let cccd7 = score(isDate8(at(3)), isGender(at(4)), isDate8(at(6)))
        let cccd6 = score(isDate8(at(2)), isGender(at(3)), isDate8(at(5)))
        switch f.count {
        case 7: return cccd7 > 0 ? .cccd : pc > 0 ? .pcCovid : cccd6 > 0 ? .cccd : nil
        case 6: return pc > 0 && pc >= cccd6 ? .pcCovid : cccd6 > 0 || cccd7 > 0 ? .cccd : nil
        default:
            let best = max(pc, cccd7, cccd6)
            if best == 0 { return nil }
            return pc == best ? .pcCovid : .cccd
        }
    }

    static func lookalike(_ text: String) -> Lookalike? {
        if text.hasPrefix("HC1:") { return .euCovidCertificate }
        if text.hasPrefix("000201") { return .paymentCode }
        let head = String(text.unicodeScalars.prefix(8)).lowercased()
        if head.hasPrefix("http://") || head.hasPrefix("https://") { return .url }
        return nil
    }

    // MARK: Rendering

    /// The code's text in its format, from the parsed fields (masked parts stay masked). Parsing it gives this value back.
    public var text: String {
        switch self {
        case .pcCovid(let qr): qr.text
        case .cccd(let qr): qr.text
        }
    }

    public var format: Format {
        switch self {
        case .pcCovid: .pcCovid
        case .cccd: .cccd
        }
    }

    // MARK: Helpers shared by the formats

    /// Control characters (also tab and newlines inside the code), format characters (zero-width, bidi controls),
    /// line and paragraph separators, surrogates and private-use characters.
    static func isForbidden(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse: true
        default: false
        }
    }

    static func isWhitespace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace
    }

    /// `scalars` without surrounding white space (and the `extra` scalars).
    static func trimmed(_ scalars: Substring.UnicodeScalarView, extra: Set<Unicode.Scalar> = []) -> Substring.UnicodeScalarView {
        var s = scalars
        while let first = s.first, isWhitespace(first) || extra.contains(first) { s.removeFirst() }
        while let last = s.last, isWhitespace(last) || extra.contains(last) { s.removeLast() }
        return s
    }

    /// One field: trimmed, in NFC.
    static func field(_ scalars: Substring.UnicodeScalarView.SubSequence) -> String {
        String(String.UnicodeScalarView(trimmed(scalars))).precomposedStringWithCanonicalMapping
    }

    static func isASCIIDigit(_ u: Unicode.Scalar) -> Bool { ("0"..."9").contains(u) }
    static func isASCIILetter(_ u: Unicode.Scalar) -> Bool { ("A"..."Z").contains(u) || ("a"..."z").contains(u) }

    /// ASCII digits only, with a length in `count`.
    static func isDigits(_ s: String, count: ClosedRange<Int>) -> Bool {
        count.contains(s.unicodeScalars.count) && s.unicodeScalars.allSatisfy(isASCIIDigit)
    }

    /// The value of ASCII digits (at most 9 of them), or nil.
    static func number(_ s: some StringProtocol) -> Int? {
        let u = s.unicodeScalars
        guard !u.isEmpty, u.count <= 9, u.allSatisfy(isASCIIDigit) else { return nil }
        return u.reduce(0) { $0 * 10 + Int($1.value - 48) }
    }

    /// A person's name: letters (any script; combining marks only after a letter), spaces, apostrophes, hyphens and
    /// full stops, starting with a letter.
    static func isPersonName(_ s: String) -> Bool {
        var previousIsLetter = false
        for (i, u) in s.unicodeScalars.enumerated() {
            if isMark(u) {
                if !previousIsLetter { return false }
            } else if u.properties.isAlphabetic {
                previousIsLetter = true
            } else if i > 0 && (u == " " || u == "'" || u == "\u{2019}" || u == "-" || u == ".") {
                previousIsLetter = false
            } else {
                return false
            }
        }
        return !s.unicodeScalars.isEmpty   // the first one is a letter
    }

    static func isMark(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `n` in decimal, zero-padded to `width`.
    static func digits(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Why a QR code's text was refused. The reason names the field, never its value (it may be logged).
public struct HealthQRRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Nothing but white space.
        case empty
        /// More than `HealthQR.maxBytes`.
        case tooLong
        /// Control or invisible formatting characters inside the code.
        case controlCharacters
        /// Another kind of code ("this is not a health declaration QR"), and what it looks like.
        case notHealthDeclaration(HealthQR.Lookalike)
        /// A health declaration format, but with the wrong number of `|`-separated fields.
        case fieldCount
        /// One field breaks its format; `field` names it.
        case invalidField
    }

    public var kind: Kind
    /// The format the code was read as, when it was recognised.
    public var format: HealthQR.Format?
    /// The offending field (`.invalidField`), by its name in the format: "NgaySinh", "EXT phone", "CCCD number", …
    public var field: String?
    /// An English explanation, never containing a value from the code.
    public var reason: String

    public init(_ kind: Kind, format: HealthQR.Format? = nil, field: String? = nil, _ reason: String) {
        self.kind = kind
        self.format = format
        self.field = field
        self.reason = reason
    }

    public var description: String {
        switch (format, field) {
        case let (format?, field?): "\(format) \(field): \(reason)"
        case let (format?, nil): "\(format): \(reason)"
        default: reason
        }
    }
}

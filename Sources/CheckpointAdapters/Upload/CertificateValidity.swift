import Foundation
import SwiftASN1

/// When an X.509 certificate stops being valid (`notAfter`), read from a PEM file with swift-asn1's DER parser: only
/// the validity field is read (no signature or chain checking; curl does that when it connects).
public enum CertificateValidity {
    /// The `notAfter` of the first certificate in `path` (a client certificate file may carry its chain after it).
    public static func notAfter(pemFile path: String) throws -> Date {
        try notAfter(pem: String(contentsOfFile: path, encoding: .utf8))
    }

    public static func notAfter(pem: String) throws -> Date {
        guard let first = try PEMDocument.parseMultiple(pemString: pem).first(where: { $0.discriminator == "CERTIFICATE" }) else {
            throw AdapterError(.unsupported, "no PEM CERTIFICATE block")
        }
        return try notAfter(der: first.derBytes)
    }

    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
    /// validity SEQUENCE { notBefore Time, notAfter Time }, … }, … } (RFC 5280 §4.1).
    public static func notAfter(der: [UInt8]) throws -> Date {
        let bad = AdapterError(.unsupported, "not an X.509 certificate")
        guard case .constructed(let certificate) = try DER.parse(der).content,
              let tbs = certificate.first(where: { _ in true }), case .constructed(let fields) = tbs.content else { throw bad }
        var field = fields.makeIterator()
        var next = field.next()
        if next?.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) { next = field.next() }
        _ = field.next()   // signature algorithm (`next` was the serial number)
        _ = field.next()   // issuer
        guard next != nil, let validity = field.next(), case .constructed(let times) = validity.content else { throw bad }
        var time = times.makeIterator()
        _ = time.next()
        guard let end = time.next() else { throw bad }
        var c = DateComponents()
        switch end.identifier {
        case UTCTime.defaultIdentifier:
            let t = try UTCTime(derEncoded: end)
            (c.year, c.month, c.day, c.hour, c.minute, c.second) = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        case GeneralizedTime.defaultIdentifier:
            let t = try GeneralizedTime(derEncoded: end)
            (c.year, c.month, c.day, c.hour, c.minute, c.second) = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        default:
            throw bad
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let date = calendar.date(from: c) else { throw bad }
        return date
    }
}

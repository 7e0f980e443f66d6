// JSON from outside: the kiosk's POST /v1/declarations body, and record JSON (read back from the queue, and what
// checkpoint-receiver decodes from an upload).
//
// declaration:  DeclarationValidator.validate either accepts (only known fields; a valid `source`, "form" when none was
//               sent; the value round-trips through a QueueRecord's encode/decode unchanged and validates again) or
//               refuses with a kind matching the body (413 over the limit, 400 not a JSON object, 422 with the field
//               named) and a message.
// queue-record: QueueRecord.decode either throws or gives a record that encodes, decodes again, and whose
//               encoding is then stable (encode ∘ decode is idempotent after one pass).
import CheckpointCore
import Foundation

enum JSONTargets {
    static let validator = DeclarationValidator(maxBytes: 4096, currentYear: 2026)
    static let known: Set<String> = ["fullName", "birthYear", "gender", "nation", "provinceId", "districtId", "wardId", "address",
                                     "phone", "hasPatient", "hasFromSickCountry", "hasSick", "consent", "otherUser", "passport",
                                     "email", "countryPassing", "symptoms", "symptomsNote", "source"]

    static let clock = RecordClock(wallTime: Date(timeIntervalSince1970: 1_795_000_000.125), clockSynced: true,
                                   bootId: "4f0e1c2a-8d1b-4c53-9a36-0f2b8e5d7c11", monotonicNanos: 123_456_789)

    static let declaration: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        let body = Data(data)
        do throws(DeclarationError) {
            let object = try validator.validate(body)
            require(body.count <= validator.maxBytes, "declaration.size", "accepted \(body.count) bytes over the \(validator.maxBytes) limit")
            for key in object.keys { require(known.contains(key), "declaration.known-fields", "accepted unknown field \(excerpt(key))") }
            require(object["consent"] == .bool(true), "declaration.consent", "accepted without consent = true")
            // Where the data came from is always stored: what was sent, or "form" when nothing (or null) was.
            guard case .string(let source)? = object[DeclarationSource.field], DeclarationSource(rawValue: source) != nil else {
                fail("declaration.source", "stored without a valid source: \(String(describing: object[DeclarationSource.field]))")
            }

            // Stored and uploaded inside a QueueRecord: the declaration comes back unchanged.
            let record = QueueRecord(id: UUID(uuidString: "6a1f4c2e-3b5d-4e7f-8a9b-0c1d2e3f4a5b")!, checkpointId: "cp-1", deviceId: "kiosk-1",
                                     clock: clock, declaration: object, screening: .unavailable(ScreeningSummary.noScreeningIdFlag), faceCaptured: false)
            let json: Data
            do { json = try record.encoded() } catch { fail("declaration.encode", "an accepted declaration does not encode: \(error)") }
            let back: QueueRecord
            do { back = try QueueRecord.decode(json) } catch { fail("declaration.decode", "an accepted declaration's record does not decode: \(error)") }
            require(back.declaration == object, "declaration.roundtrip", "the declaration changed through encode/decode")

            // And what was stored is itself a valid declaration.
            let again: Data
            do { again = try JSONEncoder().encode(back.declaration) } catch { fail("declaration.reencode", "\(error)") }
            do {
                let reparsed = try validator.validate(again)
                require(reparsed == object, "declaration.revalidate-equal", "re-validated declaration differs")
            } catch {
                fail("declaration.revalidate", "the stored declaration is refused when submitted again: \(error)")
            }
        } catch {
            require(!error.message.isEmpty, "declaration.message", "refused without a message")
            require([400, 413, 422].contains(error.httpStatus), "declaration.status", "status \(error.httpStatus)")
            if body.count > validator.maxBytes {
                require(error.kind == .tooLarge, "declaration.too-large", "\(body.count) bytes refused as \(error.kind), not 413")
            } else {
                require(error.kind != .tooLarge, "declaration.not-too-large", "\(body.count) bytes refused as too large")
            }
            switch error.kind {
            case .invalid:
                require(error.field != nil, "declaration.field", "422 without the field: \(error.message)")
            case .malformed:
                // 400 only for what is not a JSON object at all.
                if let value = try? JSONDecoder().decode(JSONValue.self, from: body), case .object = value {
                    fail("declaration.malformed", "a JSON object was refused as malformed: \(error.message)")
                }
            case .tooLarge:
                break
            }
        }
        return 0
    }

    static let queueRecord: @Sendable (UnsafeRawBufferPointer) -> Int32 = { data in
        guard let first = try? QueueRecord.decode(Data(data)) else { return 0 }
        let e1: Data
        do { e1 = try first.encoded() } catch { fail("queue-record.encode", "a decoded record does not encode: \(error)") }
        let second: QueueRecord
        do { second = try QueueRecord.decode(e1) } catch {
            fail("queue-record.redecode", "a record's own encoding does not decode: \(error): \(excerpt(String(decoding: e1, as: UTF8.self), 400))")
        }
        require(second.id == first.id && second.declaration == first.declaration && second.checkpointId == first.checkpointId
                && second.deviceId == first.deviceId && second.screening.result == first.screening.result,
                "queue-record.roundtrip", "identity, declaration or result changed through encode/decode")
        let e2: Data
        do { e2 = try second.encoded() } catch { fail("queue-record.encode2", "\(error)") }
        require(e1 == e2, "queue-record.stable",
                "encoding is not stable:\n  \(excerpt(String(decoding: e1, as: UTF8.self), 600))\n  \(excerpt(String(decoding: e2, as: UTF8.self), 600))")
        return 0
    }
}

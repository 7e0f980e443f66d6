import CheckpointCore
@testable import CheckpointReceiver
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

func receiverTempDir(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "receiver-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func sampleRecord(_ i: Int = 0, device: String = "kiosk-test") -> QueueRecord {
    QueueRecord(checkpointId: "TN-01", deviceId: device,
                clock: RecordClock(wallTime: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), clockSynced: true, bootId: "boot",
                                   monotonicNanos: UInt64(i)),
                declaration: ["fullName": .string("TRAN VAN \(i)"), "birthYear": .number(1985)],
                screening: ScreeningSummary(result: .normal, rawTemperatureC: 34.0, correctedTemperatureC: 36.5, calibrationId: "c1", sensor: "s"),
                faceCaptured: true)
}

let boundary = "ckpt-test-boundary"

/// The multipart body the kiosk's uploader sends: a `record` part and optionally a `face` part.
func multipart(json: Data, face: Data? = nil) -> ByteBuffer {
    var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"record\"\r\nContent-Type: application/json\r\n\r\n".utf8)
    body += json
    if let face {
        body += Data("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"face\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
        body += face
    }
    body += Data("\r\n--\(boundary)--\r\n".utf8)
    return ByteBuffer(bytes: body)
}

func uploadHeaders(key: String) -> HTTPFields {
    var h: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
    h[HTTPFields.Element.Name("Idempotency-Key")!] = key
    return h
}

func jsonObject(_ response: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
}

/// An application over `service`'s routes, for `app.test(.router)`.
func testApplication(_ service: ReceiverService) -> some ApplicationProtocol {
    Application(router: service.router())
}

import Foundation

/// Monitoring stills (issue #20's monitoring view): on an operator's request at the receiver, carried on a heartbeat's
/// reply (the kiosk cannot be reached), a kiosk uploads one current camera still for the province's monitoring app,
/// with every detected face blurred unless `[monitoring] blur_faces = false`. Off by default
/// (`[monitoring] still_enabled`); a kiosk with stills off answers the request with a refusal, so the fleet page says so
/// instead of waiting. Nothing about a still is queued: one upload (with one retry) on the heartbeat's own handle,
/// dropped if it fails.
public enum MonitoringStill {
    /// Added around each detected face box on every side, as a fraction of the box's width and height: hair, ears and
    /// chin go too, and a box the detector placed a little off still covers the face.
    public static let faceMargin = 0.3
    /// Blocks across the larger side of a blurred region: the face becomes a smooth blend of this many block colours
    /// in each direction (far below what recognition, by eye or by machine, needs).
    public static let blocksAcross = 5
    /// JPEG quality of a still.
    public static let jpegQuality = 80
    /// Longest a request id may be (the receiver's are UUIDs).
    public static let maxRequestIdLength = 64

    /// The region that is blurred for `box` in a `width`×`height` frame: the box grown by `faceMargin`, clipped, in
    /// whole pixels (x0, y0 inclusive; x1, y1 exclusive); nil when nothing of it is inside the frame.
    public static func region(_ box: FaceBox, width: Int, height: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        let r = box.expanded(by: faceMargin).pixelBounds(width: width, height: height)
        return r.x1 > r.x0 && r.y1 > r.y0 ? r : nil
    }

    /// `frame` with every face in `boxes` blurred beyond recognition: each region (`region(_:width:height:)`) is
    /// reduced to a grid of block means (`blocksAcross` across its larger side) and filled with their bilinear blend,
    /// so no detail finer than a block survives and no block edge is left sharp. Pixels outside every region are
    /// unchanged. Works on BGR and gray frames alike.
    public static func blurFaces(_ frame: Frame, boxes: [FaceBox]) -> Frame {
        var out = frame
        let channels = frame.layout.bytesPerPixel
        for box in boxes {
            guard let r = region(box, width: frame.width, height: frame.height) else { continue }
            let w = r.x1 - r.x0, h = r.y1 - r.y0
            let block = max(1, Int((Double(max(w, h)) / Double(blocksAcross)).rounded(.up)))
            let gw = (w + block - 1) / block, gh = (h + block - 1) / block
            // Block means, from the original frame (overlapping faces are each blurred from the source).
            var means = [Double](repeating: 0, count: gw * gh * channels)
            var counts = [Double](repeating: 0, count: gw * gh)
            for y in r.y0..<r.y1 {
                let by = (y - r.y0) / block
                let row = y * frame.width * channels
                for x in r.x0..<r.x1 {
                    let cell = by * gw + (x - r.x0) / block
                    counts[cell] += 1
                    for c in 0..<channels { means[cell * channels + c] += Double(frame.pixels[row + x * channels + c]) }
                }
            }
            for cell in 0..<(gw * gh) where counts[cell] > 0 {
                for c in 0..<channels { means[cell * channels + c] /= counts[cell] }
            }
            // Each pixel: the bilinear blend of the four nearest block centres.
            out.pixels.withUnsafeMutableBufferPointer { px in
                for y in r.y0..<r.y1 {
                    let fy = min(max(0, (Double(y - r.y0) + 0.5) / Double(block) - 0.5), Double(gh - 1))
                    let cy0 = Int(fy), cy1 = min(gh - 1, cy0 + 1), ty = fy - Double(cy0)
                    for x in r.x0..<r.x1 {
                        let fx = min(max(0, (Double(x - r.x0) + 0.5) / Double(block) - 0.5), Double(gw - 1))
                        let cx0 = Int(fx), cx1 = min(gw - 1, cx0 + 1), tx = fx - Double(cx0)
                        let o = (y * frame.width + x) * channels
                        for c in 0..<channels {
                            let a = means[(cy0 * gw + cx0) * channels + c], b = means[(cy0 * gw + cx1) * channels + c]
                            let d = means[(cy1 * gw + cx0) * channels + c], e = means[(cy1 * gw + cx1) * channels + c]
                            let v = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty
                            px[o + c] = UInt8(clamping: Int(v.rounded()))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Where stills go: the upload endpoint with its last path segment replaced by `monitoring/stills`
    /// (`https://host/v1/records` → `https://host/v1/monitoring/stills`), same TLS and client certificate.
    public static func endpoint(forUpload upload: String) -> String {
        Heartbeat.endpoint(forUpload: upload, last: "monitoring/stills")
    }

    /// Where a kiosk says it will not send a still: `…/v1/monitoring/still-refusals`.
    public static func refusalEndpoint(forUpload upload: String) -> String {
        Heartbeat.endpoint(forUpload: upload, last: "monitoring/still-refusals")
    }

    /// The query of a still's upload: who sends it, for which request, and whether its faces are blurred.
    public static func query(deviceId: String, requestId: String, facesBlurred: Bool, faces: Int) -> String {
        var c = URLComponents()
        c.queryItems = [URLQueryItem(name: "deviceId", value: deviceId), URLQueryItem(name: "requestId", value: requestId),
                        URLQueryItem(name: "facesBlurred", value: facesBlurred ? "true" : "false"), URLQueryItem(name: "faces", value: "\(faces)")]
        return c.percentEncodedQuery ?? ""
    }

    /// Whether `id` can be a request id: 1–`maxRequestIdLength` letters, digits and dashes (nothing else reaches a
    /// log line, a URL or a file name).
    public static func isValidRequestId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= maxRequestIdLength && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
    }
}

/// An operator's request for one still, as the heartbeat's reply carries it (`HeartbeatReceipt.stillRequest`).
public struct StillRequest: Codable, Sendable, Equatable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// The receiver's reply to a heartbeat (`HeartbeatReceipt` in openapi.yaml).
public struct HeartbeatReceipt: Codable, Sendable, Equatable {
    public var deviceId: String
    public var receivedAt: String
    /// A monitoring still an operator asked for since the last heartbeat; carried once.
    public var stillRequest: StillRequest?

    public init(deviceId: String, receivedAt: String, stillRequest: StillRequest? = nil) {
        self.deviceId = deviceId
        self.receivedAt = receivedAt
        self.stillRequest = stillRequest
    }

    /// The receipt in a reply body; nil when the body is not one (an older receiver answers with fewer fields, which
    /// decode; a proxy's page does not).
    public static func decode(_ body: some Collection<UInt8>) -> HeartbeatReceipt? {
        try? JSONDecoder().decode(HeartbeatReceipt.self, from: Data(body))
    }
}

/// A kiosk's answer that no still will come for a request (`StillRefusal` in openapi.yaml).
public struct StillRefusal: Codable, Sendable, Equatable {
    public enum Reason: String, Codable, Sendable, CaseIterable {
        /// `[monitoring] still_enabled = false` on this kiosk.
        case disabled
        /// No camera frame came (camera lost, or no vision stage running).
        case noCameraFrame = "no-camera-frame"
    }
    public var deviceId: String
    public var requestId: String
    public var reason: Reason
    public init(deviceId: String, requestId: String, reason: Reason) {
        self.deviceId = deviceId
        self.requestId = requestId
        self.reason = reason
    }
    public func encoded() throws -> Data { try QueueRecord.encoder.encode(self) }
}

/// What a kiosk does with a still request: the policy, apart from the camera and the network.
public struct StillRequestPolicy: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Take the newest frame, blur its faces when `blurFaces`, upload it.
        case capture(blurFaces: Bool)
        /// Send no image: tell the receiver why.
        case refuse(StillRefusal.Reason)
        /// A request id that cannot be one, or one already answered (a repeated reply): nothing is sent.
        case ignore(why: String)
    }

    public var stillEnabled: Bool
    public var blurFaces: Bool
    /// The request ids answered lately (a reply repeated by a proxy or a retried heartbeat is answered once).
    public private(set) var answered: [String] = []
    static let remembered = 16

    public init(stillEnabled: Bool, blurFaces: Bool) {
        self.stillEnabled = stillEnabled
        self.blurFaces = blurFaces
    }

    /// What to do with `request`; remembers it as answered.
    public mutating func action(for request: StillRequest) -> Action {
        guard MonitoringStill.isValidRequestId(request.id) else { return .ignore(why: "malformed request id") }
        guard !answered.contains(request.id) else { return .ignore(why: "already answered") }
        answered.append(request.id)
        if answered.count > Self.remembered { answered.removeFirst(answered.count - Self.remembered) }
        return stillEnabled ? .capture(blurFaces: blurFaces) : .refuse(.disabled)
    }
}

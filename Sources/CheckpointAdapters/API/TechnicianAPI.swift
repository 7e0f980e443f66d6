import CheckpointCore
import Foundation
import Hummingbird
import NIOCore

/// Live views for the technician's `checkpointctl`, on the Unix socket only (its group is the technicians'; the
/// kiosk screen's TCP listener never serves them): what the thermal sensor sees now, so nothing has to be stopped.
extension DeclarationAPI {
    func addTechnicianRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/thermal") { [self] _, _ -> Response in
            guard let live = await self.screening.thermalLive() else {
                return Self.problem(.serviceUnavailable, "no thermal frame yet", field: nil, code: "no-thermal-frame")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let body = try? encoder.encode(live) else {
                return Self.problem(.internalServerError, "cannot encode the thermal view", field: nil, code: "internal")
            }
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        // The next camera frame with every face, its landmarks, the registered thermal overlay and the readiness
        // reasons drawn on it, as PNG; with `?raw=1` the frame as the camera gave it (what `calibrate registration --auto`
        // compares). It shows a person: served only here, to the technicians' group, never kept.
        router.get("/v1/camera/snapshot.png") { [self] request, _ -> Response in
            let raw = request.uri.queryParameters.get("raw") == "1"
            guard let snapshot = self.snapshot else {
                return Self.problem(.serviceUnavailable, "no camera stage is running", field: nil, code: "no-camera")
            }
            guard let capture = await snapshot.next(timeout: .seconds(10)) else {
                return Self.problem(.serviceUnavailable, "no camera frame within 10 s", field: nil, code: "no-camera-frame")
            }
            let context = await self.screening.snapshotContext()
            let faces = capture.faces.map { f in
                TechnicianSnapshot.Face(box: f.box, landmarks: f.landmarks, score: f.score,
                                        measured: capture.measured.map { f.box.iou($0) > 0.3 } ?? false)
            }
            let png = try? await ImageCodec.encodeOffPool(png: true, quality: 90) {
                raw ? capture.frame : TechnicianSnapshot.render(capture.frame, faces: faces, thermal: context.thermal, lines: context.lines)
            }
            guard let png else { return Self.problem(.internalServerError, "cannot encode the snapshot", field: nil, code: "internal") }
            return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: png)))
        }
    }
}

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
    }
}

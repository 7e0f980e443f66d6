import CheckpointAdapters
import CheckpointCore
import Foundation

/// `calibrate registration --auto`: the dialogue with the technician and the captures from the running daemon
/// (`GET /v1/camera/snapshot.png?raw=1`, `GET /v1/thermal`); finding the target is `RegistrationTargetLocator`'s.
struct AutoRegistration {
    let link: DaemonLink
    let positions: Int
    let nominal: Double
    var locator = RegistrationTargetLocator()

    struct Result {
        var pairs: [(Homography.Pair, Double?)]
        /// The last position's images, for the overlay: the target shows where both images agree.
        var canvas: OverlayRenderer.Canvas
        var thermal: ThermalFrame
    }

    struct Shot {
        var camera: ImageCodec.Image
        var thermal: [Double]
        var thermalWidth: Int
        var thermalHeight: Int
        var ambientC: Double
    }

    func run() async throws -> Result {
        say("automatic registration with checkpointd at \(link.socket): a heated target (a disc at 40–60 °C on a thin stand) is found "
            + "in the camera image and the thermal frame at each position, as what changed since the empty view")
        say("1. clear the view: no target and nobody in front of the kiosk; press Enter")
        guard readLine() != nil else { throw CtlError.runtime("registration stopped: no answer on standard input") }
        let empty = try await capture()
        say("   empty view captured (camera \(empty.camera.width)×\(empty.camera.height), thermal \(empty.thermalWidth)×\(empty.thermalHeight))")
        var pairs: [(Homography.Pair, Double?)] = []
        var last: Shot?
        while pairs.count < positions {
            let n = pairs.count + 1
            say("\(n + 1). put the target at position \(n) of \(positions) (spread them: corners, edges, centre), step aside; press Enter, "
                + "or type its distance in m if it is not \(nominal) m (q: finish with what is found)")
            guard let answer = readLine()?.trimmingCharacters(in: .whitespaces) else { break }
            if answer == "q" { break }
            var distance: Double?
            if !answer.isEmpty {
                guard let d = Double(answer), d.isFinite, d > 0 else {
                    say("   '\(answer)' is not a distance in m; this position was not taken")
                    continue
                }
                distance = abs(d - nominal) < 1e-6 ? nil : d
            }
            let shot = try await capture()
            guard shot.camera.width == empty.camera.width, shot.camera.height == empty.camera.height, shot.thermal.count == empty.thermal.count else {
                throw CtlError.runtime("the camera or thermal image size changed since the empty view; run the registration again")
            }
            let camera = locator.locateCamera(empty: empty.camera.pixels, target: shot.camera.pixels, width: shot.camera.width,
                                              height: shot.camera.height, channels: shot.camera.channels)
            let thermal = locator.locateThermal(empty: empty.thermal, target: shot.thermal, width: shot.thermalWidth, height: shot.thermalHeight)
            switch (camera, thermal) {
            case (.success(let c), .success(let t)):
                pairs.append((Homography.Pair(cameraX: c.x, cameraY: c.y, thermalX: t.x, thermalY: t.y), distance))
                last = shot
                say(String(format: "   found: camera (%.1f, %.1f), %d px ↔ thermal (%.2f, %.2f), +%.1f °C%@", c.x, c.y, c.pixels, t.x, t.y, t.contrast,
                           distance.map { String(format: " at %.2f m", $0) } ?? ""))
            case (.failure(let p), _), (_, .failure(let p)):
                say("   not taken: \(p)")
            }
        }
        let atNominal = pairs.filter { $0.1 == nil }.count
        guard atNominal >= 4, let last else {
            throw CtlError.runtime("registration needs at least 4 positions at \(nominal) m, found the target at \(atNominal); nothing was written")
        }
        let canvas = OverlayRenderer.Canvas(width: last.camera.width, height: last.camera.height,
                                            pixels: last.camera.channels == 3 ? last.camera.pixels : last.camera.pixels.flatMap { [$0, $0, $0] })
        let frame = ThermalFrame(width: last.thermalWidth, height: last.thermalHeight, pixels: last.thermal.map(Float.init), ambientC: last.ambientC)
        return Result(pairs: pairs, canvas: canvas, thermal: frame)
    }

    /// One camera frame taken after the request and the mean of two thermal frames that arrived after it.
    func capture() async throws -> Shot {
        let start = try await thermalView()
        var frames: [ThermalLiveView] = []
        var newest = start.sequence
        let deadline = ContinuousClock.now + .seconds(10)
        while frames.count < 2 {
            guard ContinuousClock.now < deadline else { throw CtlError.runtime("no new thermal frame from checkpointd within 10 s; is the sensor up? checkpointctl status") }
            try await Task.sleep(for: .milliseconds(50))
            let v = try await thermalView()
            if v.sequence != newest {
                newest = v.sequence
                frames.append(v)
            }
        }
        guard frames[0].width * frames[0].height > 1 else {
            throw CtlError.runtime("a single-point sensor has no image to register; registration is for array sensors")
        }
        let n = frames[0].rawC.count
        let mean = (0..<n).map { i in frames.reduce(0.0) { $0 + $1.rawC[i] } / Double(frames.count) }
        let response = try await link.get("/v1/camera/snapshot.png?raw=1", timeout: .seconds(20))
        guard response.status == 200 else { throw CtlError.runtime("checkpointd gave no camera frame: HTTP \(response.status)") }
        let image: ImageCodec.Image
        do { image = try ImageCodec.decode([UInt8](response.body)) } catch {
            throw CtlError.runtime("checkpointd's camera frame could not be decoded: \(error)")
        }
        return Shot(camera: image, thermal: mean, thermalWidth: frames[0].width, thermalHeight: frames[0].height, ambientC: frames[0].ambientC)
    }

    private func thermalView() async throws -> ThermalLiveView {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let v = try await link.thermal() { return v }
            guard ContinuousClock.now < deadline else { throw CtlError.runtime("checkpointd has no thermal frame; is the sensor up? checkpointctl status") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Unbuffered, so a prompt reaches a technician (or a script) on a pipe before the tool waits for the answer.
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

extension CameraSettings {
    /// The capture settings for the `[camera]` section of the daemon's config.
    /// Controls are requested under the config's names; `CameraControlPlan` resolves them to either kernel
    /// spelling (auto_exposure/exposure_auto, exposure_time_absolute/exposure_absolute, …).
    public init(config c: CheckpointConfig.Camera) {
        var controls: [CameraControlRequest] = []
        let k = c.controls
        if let mode = k.exposureMode {
            let value: Int
            switch mode {
            case .auto: value = 0
            case .manual: value = 1
            case .shutterPriority: value = 2
            case .aperturePriority: value = 3
            }
            controls.append(CameraControlRequest(name: "exposure_mode", value: value))
        }
        if let v = k.exposureAbsolute { controls.append(CameraControlRequest(name: "exposure_absolute", value: v)) }
        if let v = k.whiteBalanceAuto { controls.append(CameraControlRequest(name: "white_balance_auto", value: v ? 1 : 0)) }
        if let v = k.whiteBalanceTemperatureKelvin { controls.append(CameraControlRequest(name: "white_balance_temperature", value: v)) }
        if let v = k.gain { controls.append(CameraControlRequest(name: "gain", value: v)) }
        if let p = k.powerLineFrequency {
            let value: Int
            switch p {
            case .disabled: value = 0
            case .hz50: value = 1
            case .hz60: value = 2
            }
            controls.append(CameraControlRequest(name: "power_line_frequency", value: value))
        }
        self.init(
            device: c.device,
            formats: c.formats,
            width: c.width,
            height: c.height,
            fps: c.fps,
            buffers: c.buffers,
            frameTimeoutMs: c.frameTimeoutMilliseconds,
            controls: controls
        )
    }

    /// The schema's defaults for `[camera]`.
    public init() { self.init(config: CheckpointConfig.Camera(CheckpointConfigSchema.defaults[table: "camera"])) }

    /// The schema's defaults for `[camera]`, on `device`.
    public init(device: String) {
        self.init()
        self.device = device
    }

    /// Checks values given outside a config file (checkpointctl's --width, --fps, …) against the schema's `[camera]`
    /// rules; every problem is named as `camera.key: problem (allowed: …)`.
    public func validate() throws(CoreError) {
        let values: [String: ConfigValue] = [
            "device": .string(device), "formats": .array(formats.map { .string($0.configName) }), "width": .integer(width),
            "height": .integer(height), "fps": .integer(fps), "buffers": .integer(buffers), "frame_timeout_ms": .integer(frameTimeoutMs),
        ]
        let document = TOMLDocument(file: "camera settings", root: ["camera": .table(values)], locator: TOMLKeyLocator(source: ""))
        var v = ConfigValidator(document: document)
        _ = v.validate(CheckpointConfigSchema.root)
        let problems = v.diagnostics.filter { $0.keyPath.hasPrefix("camera.") }
            .map { "\($0.keyPath): \($0.message)\($0.allowed.map { " (allowed: \($0))" } ?? "")" }
        guard problems.isEmpty else { throw CoreError(.invalidConfig, problems.joined(separator: "; ")) }
    }
}

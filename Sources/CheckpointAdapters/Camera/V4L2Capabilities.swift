/// QUERYCAP's answer.
public struct V4L2Capabilities: Sendable, Equatable {
    public var driver: String
    public var card: String
    public var busInfo: String
    /// `device_caps` when the driver sets V4L2_CAP_DEVICE_CAPS, else `capabilities`.
    public var deviceCaps: UInt32
    public var videoCapture: Bool
    public var streaming: Bool

    public init(driver: String, card: String, busInfo: String, deviceCaps: UInt32, videoCapture: Bool, streaming: Bool) {
        self.driver = driver
        self.card = card
        self.busInfo = busInfo
        self.deviceCaps = deviceCaps
        self.videoCapture = videoCapture
        self.streaming = streaming
    }
}

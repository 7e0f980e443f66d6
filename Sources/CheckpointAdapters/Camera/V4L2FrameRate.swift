/// What S_PARM/G_PARM answered about the frame rate.
public struct V4L2FrameRate: Sendable, Equatable {
    public var numerator: UInt32
    public var denominator: UInt32
    /// V4L2_CAP_TIMEPERFRAME: the driver can set the rate at all.
    public var supported: Bool

    public init(numerator: UInt32, denominator: UInt32, supported: Bool) {
        self.numerator = numerator
        self.denominator = denominator
        self.supported = supported
    }
}

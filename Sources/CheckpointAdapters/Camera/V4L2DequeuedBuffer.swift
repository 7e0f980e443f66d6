/// A dequeued buffer.
public struct V4L2DequeuedBuffer: Sendable, Equatable {
    public var index: Int
    public var bytesUsed: Int
    /// V4L2_BUF_FLAG_ERROR: the driver says the data is corrupt.
    public var errorFlag: Bool
    public var sequence: UInt32
    /// Driver timestamp in nanoseconds (CLOCK_MONOTONIC for vb2 drivers).
    public var timestampNanos: UInt64

    public init(index: Int, bytesUsed: Int, errorFlag: Bool, sequence: UInt32, timestampNanos: UInt64) {
        self.index = index
        self.bytesUsed = bytesUsed
        self.errorFlag = errorFlag
        self.sequence = sequence
        self.timestampNanos = timestampNanos
    }
}

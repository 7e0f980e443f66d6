/// One ENUM_FMT entry.
public struct V4L2FormatDescription: Sendable, Equatable {
    public var fourcc: UInt32
    public var description: String
    public var compressed: Bool

    public init(fourcc: UInt32, description: String, compressed: Bool) {
        self.fourcc = fourcc
        self.description = description
        self.compressed = compressed
    }
}

/// One ENUM_FRAMESIZES answer.
public enum V4L2FrameSize: Sendable, Equatable {
    case discrete(width: Int, height: Int)
    case stepwise(minWidth: Int, maxWidth: Int, stepWidth: Int, minHeight: Int, maxHeight: Int, stepHeight: Int)
}

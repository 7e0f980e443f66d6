/// One ENUM_FRAMEINTERVALS answer (seconds per frame as a fraction).
public enum V4L2FrameInterval: Sendable, Equatable {
    case discrete(numerator: UInt32, denominator: UInt32)
    case stepwise(min: (UInt32, UInt32), max: (UInt32, UInt32))

    public static func == (a: V4L2FrameInterval, b: V4L2FrameInterval) -> Bool {
        switch (a, b) {
        case let (.discrete(n1, d1), .discrete(n2, d2)): return n1 == n2 && d1 == d2
        case let (.stepwise(a1, a2), .stepwise(b1, b2)): return a1 == b1 && a2 == b2
        default: return false
        }
    }
}

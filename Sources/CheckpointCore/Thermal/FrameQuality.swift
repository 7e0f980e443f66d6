/// Why a thermal frame was not used.
public enum FrameRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case pixelOutOfRange(x: Int, y: Int, valueC: Double)
    case ambientOutOfRange(valueC: Double)
    case ambientJump(fromC: Double, toC: Double, seconds: Double)
    case stale(ageMillis: Double)

    public var description: String {
        switch self {
        case .pixelOutOfRange(let x, let y, let v): return "pixel (\(x),\(y)) reads \(v) °C, outside the plausible range"
        case .ambientOutOfRange(let v): return "sensor ambient \(v) °C is outside the plausible range"
        case .ambientJump(let a, let b, let s): return "sensor ambient jumped from \(a) to \(b) °C in \(s) s"
        case .stale(let ms): return "frame is \(ms) ms old"
        }
    }
}

public struct FrameQualityConfig: Sendable, Equatable {
    /// The MLX90640's own range is −40…300 °C.
    public var minPixelC: Double = -40
    public var maxPixelC: Double = 300
    public var minAmbientC: Double = -20
    public var maxAmbientC: Double = 85
    /// Largest plausible change of the sensor's ambient between two frames, °C per second (plus 0.5 °C of noise).
    public var maxAmbientSlopeCPerS: Double = 1.0
    /// A frame older than this (relative to "now") is stale.
    public var maxAgeMillis: Double = 500
    /// A pixel further than this from the median of its 8 neighbours is an outlier and gets repaired.
    public var outlierC: Double = 8
    /// A pixel bit-identical over this many consecutive frames is stuck and gets repaired.
    public var stuckFrames: Int = 16

    public init() {}
}

/// Rejects implausible or stale frames and repairs stuck and outlier pixels with their 3×3 median.
public struct FrameQualityFilter: Sendable {
    public var config: FrameQualityConfig
    private var lastAmbient: (value: Double, nanos: UInt64)?
    private var previous: [Float] = []
    private var sameCount: [UInt16] = []
    public private(set) var repairedPixels: UInt64 = 0
    public private(set) var rejectedFrames: UInt64 = 0

    public init(config: FrameQualityConfig = FrameQualityConfig()) { self.config = config }

    /// Checks `frame` received at `nowNanos`; returns the repaired frame or why it was refused.
    public mutating func check(_ frame: ThermalFrame, nowNanos: UInt64) -> Result<ThermalFrame, FrameRejection> {
        let result = evaluate(frame, nowNanos: nowNanos)
        if case .failure = result { rejectedFrames += 1 }
        return result
    }

    private mutating func evaluate(_ frame: ThermalFrame, nowNanos: UInt64) -> Result<ThermalFrame, FrameRejection> {
        if nowNanos > frame.monotonicNanos {
            let age = Double(nowNanos - frame.monotonicNanos) / 1e6
            if age > config.maxAgeMillis { return .failure(.stale(ageMillis: age)) }
        }
        guard frame.ambientC.isFinite, frame.ambientC >= config.minAmbientC, frame.ambientC <= config.maxAmbientC else {
            return .failure(.ambientOutOfRange(valueC: frame.ambientC))
        }
        for (i, p) in frame.pixels.enumerated() {
            let v = Double(p)
            if !v.isFinite || v < config.minPixelC || v > config.maxPixelC {
                return .failure(.pixelOutOfRange(x: i % frame.width, y: i / frame.width, valueC: v))
            }
        }
        if let last = lastAmbient, frame.monotonicNanos > last.nanos {
            let dt = Double(frame.monotonicNanos - last.nanos) / 1e9
            if abs(frame.ambientC - last.value) > 0.5 + config.maxAmbientSlopeCPerS * dt {
                // Keep the old reference: one glitch must not become the new normal.
                return .failure(.ambientJump(fromC: last.value, toC: frame.ambientC, seconds: dt))
            }
        }
        lastAmbient = (frame.ambientC, frame.monotonicNanos)
        return .success(repair(frame))
    }

    private mutating func repair(_ frame: ThermalFrame) -> ThermalFrame {
        guard !frame.isSinglePoint else { return frame }
        let n = frame.pixels.count
        if previous.count != n {
            previous = frame.pixels
            sameCount = [UInt16](repeating: 0, count: n)
        } else {
            for i in 0..<n {
                if frame.pixels[i] == previous[i] { sameCount[i] = sameCount[i] &+ (sameCount[i] < .max ? 1 : 0) } else { sameCount[i] = 0 }
            }
            previous = frame.pixels
        }
        var out = frame
        let stuckLimit = UInt16(max(1, config.stuckFrames))
        frame.pixels.withUnsafeBufferPointer { p in
            for y in 0..<frame.height {
                for x in 0..<frame.width {
                    let i = y * frame.width + x
                    let med = Self.median3x3(p, width: frame.width, height: frame.height, x: x, y: y, includeCentre: false)
                    if sameCount[i] >= stuckLimit || abs(Double(p[i]) - Double(med)) > config.outlierC {
                        out.pixels[i] = Self.median3x3(p, width: frame.width, height: frame.height, x: x, y: y, includeCentre: true)
                        repairedPixels += 1
                    }
                }
            }
        }
        return out
    }

    /// Median of the 3×3 neighbourhood (edges use the pixels that exist), without allocating.
    @inline(__always)
    static func median3x3(_ p: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Int, y: Int, includeCentre: Bool) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 9) { buf -> Float in
            var n = 0
            for yy in max(0, y - 1)...min(height - 1, y + 1) {
                for xx in max(0, x - 1)...min(width - 1, x + 1) {
                    if xx == x, yy == y, !includeCentre { continue }
                    // insertion into the sorted prefix
                    let v = p[yy * width + xx]
                    var j = n
                    while j > 0, buf[j - 1] > v { buf[j] = buf[j - 1]; j -= 1 }
                    buf[j] = v
                    n += 1
                }
            }
            if n == 0 { return .nan }
            return n % 2 == 1 ? buf[n / 2] : (buf[n / 2 - 1] + buf[n / 2]) / 2
        }
    }

    /// A 3×3 median filter over the whole frame (edges use the pixels that exist).
    public static func medianFiltered(_ frame: ThermalFrame) -> ThermalFrame {
        guard !frame.isSinglePoint else { return frame }
        var out = frame
        frame.pixels.withUnsafeBufferPointer { p in
            for y in 0..<frame.height {
                for x in 0..<frame.width {
                    out.pixels[y * frame.width + x] = median3x3(p, width: frame.width, height: frame.height, x: x, y: y, includeCentre: true)
                }
            }
        }
        return out
    }
}

/// The warm-up gate: no measurement until the sensor has been powered for `duration` seconds
/// (30 min by default, after ISO/TR 13154 practice and feverscreen's WARMUP_TIME_SECONDS).
public struct WarmUpGate: Sendable, Equatable {
    public var durationSeconds: Double
    /// Monotonic time of the sensor's (assumed) power-up: its first frame after an open.
    public private(set) var poweredSinceNanos: UInt64?

    public init(durationSeconds: Double = 1800) { self.durationSeconds = durationSeconds }

    /// Marks power-up (first frame after the port was opened or reopened).
    public mutating func sensorStarted(at nanos: UInt64) { poweredSinceNanos = nanos }
    public mutating func sensorLost() { poweredSinceNanos = nil }

    /// Seconds left before measurements are allowed; nil when the sensor is not running.
    public func remainingSeconds(at nanos: UInt64) -> Double? {
        guard let since = poweredSinceNanos else { return nil }
        let elapsed = nanos > since ? Double(nanos - since) / 1e9 : 0
        return max(0, durationSeconds - elapsed)
    }

    public func isWarm(at nanos: UInt64) -> Bool { (remainingSeconds(at: nanos) ?? 1) <= 0 }
}

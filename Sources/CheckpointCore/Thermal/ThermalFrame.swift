/// One decoded reading from a thermal sensor, in the sensor's own °C (before any calibration).
///
/// Array sensors fill `width × height` pixels, row-major, top-left first as seen from the sensor.
/// Single-point sensors deliver a 1×1 frame whose one pixel is the object temperature.
public struct ThermalFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Row-major °C, `width * height` values.
    public var pixels: [Float]
    /// The sensor's own ambient (die) temperature, °C.
    public var ambientC: Double
    /// Counts valid frames since the driver was created.
    public var sequence: UInt64
    /// Monotonic time (ns) at which the frame's last byte arrived.
    public var monotonicNanos: UInt64

    public init(width: Int, height: Int, pixels: [Float], ambientC: Double, sequence: UInt64 = 0, monotonicNanos: UInt64 = 0) {
        precondition(pixels.count == width * height, "thermal frame size does not match its dimensions")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.ambientC = ambientC
        self.sequence = sequence
        self.monotonicNanos = monotonicNanos
    }

    public var isSinglePoint: Bool { width == 1 && height == 1 }

    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    public var minC: Double { Double(pixels.min() ?? .nan) }
    public var maxC: Double { Double(pixels.max() ?? .nan) }
    public var meanC: Double {
        guard !pixels.isEmpty else { return .nan }
        return pixels.reduce(0.0) { $0 + Double($1) } / Double(pixels.count)
    }
}

/// Per-driver counters, exported to status, logs and `sensor read`.
public struct ThermalCounters: Sendable, Equatable, Codable {
    public var framesOK: UInt64 = 0
    public var badChecksum: UInt64 = 0
    public var resyncs: UInt64 = 0
    public var bytesDropped: UInt64 = 0
    public var timeouts: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case framesOK = "frames_ok", badChecksum = "bad_checksum", resyncs, bytesDropped = "bytes_dropped", timeouts
    }
}

extension ThermalCounters {
    /// Read errors (bad checksums and timeouts) counted since `earlier`, the counters of the previous frame: what
    /// `checkpointd_sensor_errors_total` grows by. A counter lower than before (a new driver) counts from zero.
    public func errors(since earlier: ThermalCounters) -> UInt64 {
        func delta(_ now: UInt64, _ before: UInt64) -> UInt64 { now >= before ? now - before : now }
        return delta(badChecksum, earlier.badChecksum) + delta(timeouts, earlier.timeouts)
    }
}

/// What a driver can decode from the byte stream.
public enum ThermalEvent: Sendable, Equatable {
    case frame(ThermalFrame)
    /// The sensor's answer to an emissivity query (ε, 0…1).
    case emissivity(Double)
}

/// The sensor models the daemon knows.
public enum ThermalModel: Sendable, Equatable, CustomStringConvertible {
    /// GY-MCU90640: MLX90640 32×24 behind an STM32, 1544-byte frames.
    case gyMCU90640
    /// GY-MCU90614/90615 single-point modules: 9-byte `5A 5A` frames.
    case gyMCU906x5
    /// A single-point module printing text lines; `pattern` has named groups `object` and `ambient`.
    case asciiLine(pattern: String)

    /// The names config files use (`thermal.model`, a calibration's `sensor.model`); `init(name:)` also takes aliases.
    public static let names = ["gy-mcu90640", "ascii-line", "single-point-5a5a"]

    /// Parses a model name as used on the command line and in config files.
    public init(name: String, linePattern: String? = nil) throws(CoreError) {
        switch name.lowercased() {
        case "gy-mcu90640", "gymcu90640", "mlx90640": self = .gyMCU90640
        case "single-point-5a5a", "gy-mcu90614", "gy-mcu90615", "gy-mcu906x5": self = .gyMCU906x5
        case "ascii", "ascii-line":
            self = .asciiLine(pattern: linePattern ?? AsciiLineDriver.defaultPattern)
        default:
            throw CoreError(.invalidInput, "unknown sensor model '\(name)': expected gy-mcu90640, single-point-5a5a (gy-mcu90614/90615) or ascii-line")
        }
    }

    public var name: String {
        switch self {
        case .gyMCU90640: return "gy-mcu90640"
        case .gyMCU906x5: return "single-point-5a5a"
        case .asciiLine: return "ascii-line"
        }
    }

    public var description: String { name }

    /// The rate the module ships with, or that we configure, in Hz.
    public var defaultRateHz: Double {
        switch self {
        case .gyMCU90640: return 4
        case .gyMCU906x5: return 5
        case .asciiLine: return 2
        }
    }

    public var defaultBaud: Int {
        switch self {
        case .gyMCU90640: return 115_200
        case .gyMCU906x5, .asciiLine: return 9600
        }
    }

    /// Builds a fresh driver (byte-fed state machine) for this model.
    public func makeDriver() throws(CoreError) -> any ThermalDriver {
        switch self {
        case .gyMCU90640: return GYMCU90640Driver()
        case .gyMCU906x5: return GYMCU906x5Driver()
        case .asciiLine(let pattern): return try AsciiLineDriver(pattern: pattern)
        }
    }
}

/// Start-up settings a driver turns into the sensor's own command bytes.
public struct ThermalInitSettings: Sendable, Equatable {
    public var rateHz: Double
    public var baud: Int
    /// ε to set at start-up (and read back where the sensor supports it); nil leaves it alone.
    public var emissivity: Double?

    public init(rateHz: Double, baud: Int, emissivity: Double? = 0.98) {
        self.rateHz = rateHz
        self.baud = baud
        self.emissivity = emissivity
    }
}

/// Every sensor driver: a byte-fed state machine that tolerates arbitrary chunking and resyncs after garbage.
public protocol ThermalDriver: Sendable {
    var model: ThermalModel { get }
    var counters: ThermalCounters { get }
    /// Feeds bytes as they came off the wire; returns what became complete. `nanos` stamps any frame completed here.
    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, at nanos: UInt64) -> [ThermalEvent]
    /// Drops any partial frame (after a reopen).
    mutating func reset()
    /// Records a read timeout (no valid frame when one was due).
    mutating func noteTimeout()
    /// The commands to send after opening the port, checksums computed in code.
    func initCommands(_ settings: ThermalInitSettings) throws(CoreError) -> [[UInt8]]
    /// The command asking the sensor for its emissivity, if it has one; the reply comes back as `.emissivity`.
    mutating func emissivityQuery() -> [UInt8]?
    /// Persists the sensor's settings to its flash; only ever sent on an explicit technician command.
    func saveCommand() -> [UInt8]?
}

extension ThermalDriver {
    /// Convenience for arrays (tests, simulator fixtures).
    public mutating func feed(_ bytes: [UInt8], at nanos: UInt64 = 0) -> [ThermalEvent] {
        bytes.withUnsafeBufferPointer { feed($0, at: nanos) }
    }
}

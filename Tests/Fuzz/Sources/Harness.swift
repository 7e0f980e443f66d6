// libFuzzer entry points for checkpointd's parsers of outside input.
//
// One instrumented binary holds every target; `CHECKPOINT_FUZZ_TARGET` picks the one to run (see `targets`).
// Each target checks invariants, not only "no crash": a broken invariant prints what was wrong and aborts, and
// libFuzzer saves the input as a crash. Reproduce with:
//   CHECKPOINT_FUZZ_TARGET=<target> .build-fuzz/fuzz/checkpoint-fuzz <crash-file>
// Only CheckpointCore (with its TOMLKit and swift-log dependencies) is linked in.
#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import Foundation

/// A fuzz target: the name used in `CHECKPOINT_FUZZ_TARGET` and `corpus/<name>/`, and its one-input check.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let setUp: @Sendable () -> Void
    let run: @Sendable (UnsafeRawBufferPointer) -> Int32
}

let targets: [FuzzTarget] = [
    FuzzTarget(name: "gymcu90640", summary: "GY-MCU90640 1544-byte framer", setUp: {}, run: ThermalTargets.gymcu90640),
    FuzzTarget(name: "singlepoint", summary: "GY-MCU90614/90615 5A5A 9-byte framer", setUp: {}, run: ThermalTargets.singlePoint),
    FuzzTarget(name: "asciiline", summary: "ASCII-line single-point framer", setUp: {}, run: ThermalTargets.asciiLine),
    FuzzTarget(name: "toml", summary: "TOMLKeyLocator lines vs TOMLKit's keys; TOML text round trip", setUp: {}, run: ConfigTargets.toml),
    FuzzTarget(name: "config", summary: "ConfigLoader.parse (daemon config + the calibration it names)", setUp: ConfigTargets.setUp,
               run: ConfigTargets.config),
    FuzzTarget(name: "calibration", summary: "CalibrationFile.parse and render round trip", setUp: {}, run: ConfigTargets.calibration),
    FuzzTarget(name: "declaration", summary: "local API declaration JSON (DeclarationValidator)", setUp: {}, run: JSONTargets.declaration),
    FuzzTarget(name: "queue-record", summary: "QueueRecord.decode (stored and received record JSON)", setUp: {}, run: JSONTargets.queueRecord),
    FuzzTarget(name: "upload-response", summary: "uploader's HTTP response parsing, Retry-After and retry policy", setUp: {},
               run: UploadTargets.response),
    FuzzTarget(name: "pccovid-qr", summary: "HealthQR.parse from PC-COVID personal QR text (raw, or one field replaced)", setUp: {},
               run: QRTargets.pcCovid),
    FuzzTarget(name: "cccd-qr", summary: "HealthQR.parse from chip ID card (CCCD) QR text (raw, or one field replaced)", setUp: {},
               run: QRTargets.cccd),
]

nonisolated(unsafe) var selected: FuzzTarget?

/// Which checks are switched off by `CHECKPOINT_FUZZ_SKIP` (comma-separated check ids). For measuring a target past a
/// finding that was reported but is not fixed yet; `run.sh` never sets it unless asked.
nonisolated(unsafe) var skippedChecks: Set<String> = []

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let env = ProcessInfo.processInfo.environment
    guard let name = env["CHECKPOINT_FUZZ_TARGET"], let target = targets.first(where: { $0.name == name }) else {
        var text = "CHECKPOINT_FUZZ_TARGET must name one of:\n"
        for t in targets { text += "  \(t.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(t.summary)\n" }
        printErr(text)
        exit(2)
    }
    if let skip = env["CHECKPOINT_FUZZ_SKIP"], !skip.isEmpty {
        skippedChecks = Set(skip.split(separator: ",").map(String.init))
        printErr("checkpoint-fuzz: checks switched off: \(skippedChecks.sorted().joined(separator: ", "))\n")
    }
    target.setUp()
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = selected else { return 0 }
    return target.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
}

/// Writes to standard error (unbuffered, so it is out before an abort).
func printErr(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { buf in
        var off = 0
        while off < buf.count {
            let n = write(2, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { return }
            off += n
        }
    }
}

/// A broken invariant: says which and why on stderr, then aborts so libFuzzer keeps the input.
func fail(_ check: String, _ message: @autoclosure () -> String) -> Never {
    printErr("checkpoint-fuzz: INVARIANT \(check) BROKEN: \(message())\n")
    abort()
}

/// Checks `condition` unless `check` is switched off.
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ check: String, _ message: @autoclosure () -> String) {
    if skippedChecks.contains(check) { return }
    if !condition() { fail(check, message()) }
}

/// Deterministic pseudo-random numbers from the input (chunk sizes and the like), so a crash reproduces.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    init(_ bytes: UnsafeRawBufferPointer) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over at most the first 64 bytes
        for b in bytes.prefix(64) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        state = h ^ UInt64(bytes.count)
    }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }
}

/// Lines of a text as the config tools count them: newlines + 1.
func lineCount(_ bytes: some Sequence<UInt8>) -> Int {
    var n = 1
    for b in bytes where b == 0x0A { n += 1 }
    return n
}

/// The input as strict UTF-8 text (the daemon refuses files that are not), or nil.
func strictText(_ bytes: UnsafeRawBufferPointer) -> String? {
    String(validating: bytes, as: UTF8.self)
}

/// A short, printable excerpt of an input for messages.
func excerpt(_ s: String, _ n: Int = 120) -> String {
    let e = s.prefix(n).unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
    return e.joined() + (s.count > n ? "…" : "")
}

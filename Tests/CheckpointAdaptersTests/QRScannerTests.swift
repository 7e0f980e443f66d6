import CheckpointCore
import Foundation
import Logging
import Synchronization
import Testing
@testable import CheckpointAdapters

/// Symbols for the scanner tests, made with segno (error level M). Invented content only.
enum ScannerSymbols {
    /// A chip ID card's QR: "079190004321|026111222|Lê Thị Thu Hằng|24061990|Nữ|Tổ 7, Phường Quang Trung, Thái Nguyên|05072022", version 7-M.
    static let cccd = [
        "#######..###.####..#..#.#.##..#.##..#.#######", "#.....#....#####......#.#.#.#.#..#.#..#.....#", "#.###.#..#......####...##..#.####..#..#.###.#",
        "#.###.#..#.#...##..##.#.##.#.###...##.#.###.#", "#.###.#....######...########..#######.#.###.#", "#.....#.##.#.#..#####...##########....#.....#",
        "#######.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#######", ".........#...###.##.#...#....#..#.###........", "#..#.##.###.#.###...#####.#.###...##.#.#.....",
        "..#.##.#.#..##.#.#....#..#......##..##...##.#", "..#..###..#.##.#....#.#.#....##.###.#...##.##", ".#.#.#.#.#.#.###...##..#.#.#.#...##...#.#..##",
        "..#####.....######.##...###.##..#..#.####...#", ".####..##..#.#..###....##..#.#...#.##....#..#", "####.###.#.#########....###.#..###..#.######.",
        ".#..##..#..#....#.....#..#.###..##.#.#...#...", "##..#.##..##.##....##..#####...###.#.###.#.##", ".####..####.#.#..#####..#.###..####...##..##.",
        "###.#.##.#.#..#....###.#.###.#.#.#..#...###.#", "..##.#...###..#.##.#.#.####....##..#.#...#.#.", ".########...#.#.#...#####.#.###....#######.#.",
        "#####...#..#..####.##...#.#..#......#...#..#.", ".#.##.#.##...#....#.#.#.###..#..###.#.#.##.#.", ".####...#.###.#.##..#...###.#..#.#.##...#....",
        "#...#####....#....#######...######.#######...", "#.#..#.##.#####.#...##..#...#...###..#..##.##", "..###.####.#..##.#.....####.#..###.#.#..###..",
        ".....#..####.#.#.#.#..#..#..##..##....###...#", "#.#...##..#.#.##...##.#.###.....##.########..", "#.##...#..#.##...###.####.###......#####.#.#.",
        "#....###.....###...####.##..##.##...#.####...", ".....#.####.#.##.####...##.#...###..######.##", "####.####.#.#..#.###..##...###.#.#..#....#...",
        "#####...##...#..###..##.#....#...###.#...#...", "....#.##.######.#..##..#.....#.###.#..#.#.##.", ".####....##.#..#.#.#...#.##.#.....##.##.##...",
        "#..##.#.####..#..#.########.#.#.#.#.#####.#..", "........######.#..###...#..#.#...####...#####", "#######....##.#..#.##.#.##.##....#.##.#.#.#.#",
        "#.....#.#.#..####...#...##..#..###.##...##...", "#.###.#..#..#......#######...##.#.#.######.##", "#.###.#.#..#..###....#..#.#..#..##...#.###.#.",
        "#.###.#..#..#.....##.##.##..#..#.#.#..#.#.###", "#.....#..####.#.###.##.#.##..#..#....####....", "#######.#.###..#..#.....#...####...#...#.#.#.",
    ]
    static let cccdText = "079190004321|026111222|Lê Thị Thu Hằng|24061990|Nữ|Tổ 7, Phường Quang Trung, Thái Nguyên|05072022"

    /// "https://example.org/checkin/kiosk-7731", version 3-M.
    static let url = [
        "#######....#...##.##..#######", "#.....#...#.##.#.##...#.....#", "#.###.#..####.##.#....#.###.#",
        "#.###.#..#.#...##.#...#.###.#", "#.###.#..#.###.#..#...#.###.#", "#.....#.#.##.#####.#..#.....#",
        "#######.#.#.#.#.#.#.#.#######", "..........#...#..###.........", "#..#.##.###.#........#.#.....",
        "##.##...#.####......#.#..#..#", "####..#...#..##.####...#####.", ".#...#..##..#####.#..#.##.##.",
        "...##.#.###.#.####.####..#.##", "##.#.......#.#..#..#.#.......", "#.##.##.##..###..##.##..#####",
        "##.##.....#......##.##.#.#.#.", "...#..##...###.#.#.###.....#.", ".####...#....##.##...###.#..#",
        "#.#.#.#.....#.#..#..###.#..##", "..#..#.#...#..#.##.#..###..##", "#.#.#.###.###.....#.#####.#..",
        "........#..##.#.#...#...#.###", "#######.........##..#.#.#..#.", "#.....#.##..#.#.#.#.#...#####",
        "#.###.#........###..#####..##", "#.###.#.##.#.#.....####.####.", "#.###.#...#.###...###...###.#",
        "#.....#..#.#..##.####.#....#.", "#######.######.#.#..#.####.#.",
    ]
    static let urlText = "https://example.org/checkin/kiosk-7731"

    static func frame(_ rows: [String], sequence: UInt64 = 0) -> Frame {
        var f = QRSymbols.frame(rows, module: 4, x: 180, y: 100)
        f.sequence = sequence
        return f
    }

    static func empty(sequence: UInt64 = 0) -> Frame {
        Frame(width: 640, height: 480, layout: .gray8, pixels: [UInt8](repeating: 128, count: 640 * 480), sequence: sequence, monotonicNanos: 0)
    }
}

/// Log lines kept in memory, to check what the scanner writes.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let all = self.metadata.merging(metadata ?? [:]) { $1 }
            log.lines.withLock { $0.append("\(level) \(message) \(all)") }
        }
    }

    var logger: Logger { Logger(label: "test.qr") { _ in Handler(log: self) } }
}

/// Waits (without blocking a thread) until `condition` holds, for at most `seconds`.
func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// The next outcome on `stream`, or nil after `seconds`.
func next(_ stream: AsyncStream<HealthQRScanOutcome>, within seconds: Double = 30) async -> HealthQRScanOutcome? {
    await withTaskGroup(of: HealthQRScanOutcome?.self) { group in
        group.addTask {
            var it = stream.makeAsyncIterator()
            return await it.next()
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

@Suite struct QRScannerTests {
    /// A scanner whose decoding step records the frames it got and answers `text` for each.
    final class Recorder: Sendable {
        let seen = Mutex<[UInt64]>([])
        let gate = Mutex<Bool>(true)   // false: the decoding step waits (on the scanner's thread) until opened
        var frames: [UInt64] { seen.withLock { $0 } }
        func decode(_ frame: Frame, text: String?) -> [String?] {
            seen.withLock { $0.append(frame.sequence) }
            while !gate.withLock({ $0 }) { usleep(1000) }
            return text.map { [$0] } ?? []
        }
    }

    @Test func decodesOnlyWhileSomeoneSubscribes() async throws {
        let rec = Recorder()
        let scanner = QRScanner { rec.decode($0, text: ScannerSymbols.cccdText) }
        #expect(!scanner.isActive)
        scanner.offer(ScannerSymbols.empty(sequence: 1))           // nobody scans: not even kept
        let stream = try #require(scanner.subscribe())
        #expect(scanner.isActive && scanner.subscriberCount == 1)
        scanner.offer(ScannerSymbols.empty(sequence: 2))
        let outcome = await next(stream)
        #expect(outcome?.kind == "qr-cccd")
        #expect(rec.frames == [2])
        // The stream goes: the scanner stops, and later frames are not decoded.
        let reader = Task { for await _ in stream {} }
        reader.cancel()
        #expect(await eventually { !scanner.isActive })
        scanner.offer(ScannerSymbols.empty(sequence: 3))
        let again = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.empty(sequence: 4))
        #expect(await next(again)?.kind == "qr-cccd", "a new subscriber gets the code again")
        #expect(rec.frames == [2, 4])
        #expect(scanner.decodedFrames == 2)
    }

    @Test func decodesTheNewestFrameOnlyAndDropsStaleOnes() async throws {
        let rec = Recorder()
        rec.gate.withLock { $0 = false }
        let scanner = QRScanner { rec.decode($0, text: nil) }
        let stream = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.empty(sequence: 1))
        #expect(await eventually { rec.frames == [1] })              // frame 1 is being decoded (held at the gate)
        for s in 2...10 { scanner.offer(ScannerSymbols.empty(sequence: UInt64(s))) }
        rec.gate.withLock { $0 = true }
        #expect(await eventually { scanner.decodedFrames == 2 })
        try? await Task.sleep(for: .milliseconds(50))
        #expect(rec.frames == [1, 10], "frames 2…9 were stale when the decoder was free again")
        #expect(scanner.droppedFrames == 8)
        withExtendedLifetime(stream) {}
    }

    @Test func refusesMoreSubscribersThanItsLimit() throws {
        let scanner = QRScanner(options: .init(maxSubscribers: 1)) { _ in [] }
        let first = try #require(scanner.subscribe())
        #expect(scanner.subscribe() == nil)
        withExtendedLifetime(first) {}
    }

    @Test func aChipIDCardFrameGivesItsDeclarationPrefill() async throws {
        let scanner = QRScanner()
        let stream = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.frame(ScannerSymbols.cccd))
        let outcome = try #require(await next(stream))
        guard case .read(.cccd(let card)) = outcome else {
            Issue.record("not a CCCD read: \(outcome.kind)")
            return
        }
        #expect(card.fullName == "Lê Thị Thu Hằng" && card.idNumber == "079190004321")
        let body = outcome.eventBody
        #expect(body["kind"] == .string("qr-cccd"))
        guard case .object(let fields)? = body["fields"] else { Issue.record("no fields"); return }
        #expect(fields["fullName"] == .string("Lê Thị Thu Hằng") && fields["birthYear"] == .number(1990) && fields["gender"] == .string("Nu"))
        #expect(fields["source"] == .string("qr-cccd") && fields["passport"] == .string("079190004321"))
        #expect(fields["address"] == .string("Tổ 7, Phường Quang Trung, Thái Nguyên"))
    }

    @Test func aWebAddressIsRefusedAndAnEmptyFrameGivesNothing() async throws {
        let scanner = QRScanner()
        let stream = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.empty())
        #expect(await eventually { scanner.decodedFrames == 1 })
        scanner.offer(ScannerSymbols.frame(ScannerSymbols.url))
        // The first outcome is the web address's: the empty frame gave none.
        let outcome = try #require(await next(stream))
        #expect(outcome == .refused(HealthQRScanRefusal(code: "not-health-declaration", lookalike: .url)))
        #expect(outcome.eventBody == ["refused": .string("not-health-declaration"), "lookalike": .string("url")])
        #expect(scanner.decodedFrames == 2)
    }

    @Test func theSameOutcomeIsSentOncePerRepeatInterval() async throws {
        let scanner = QRScanner(options: .init(repeatInterval: .seconds(3600))) { _ in [ScannerSymbols.urlText] }
        let stream = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.empty(sequence: 1))
        #expect(await next(stream) != nil)
        scanner.offer(ScannerSymbols.empty(sequence: 2))
        #expect(await eventually { scanner.decodedFrames == 2 })
        #expect(await next(stream, within: 0.3) == nil, "the same refusal again within the interval is not sent")
    }

    @Test func theCodesContentIsNeverLogged() async throws {
        let log = CapturedLog()
        let scanner = QRScanner(logger: log.logger)
        let stream = try #require(scanner.subscribe())
        scanner.offer(ScannerSymbols.frame(ScannerSymbols.cccd))
        #expect(await next(stream)?.kind == "qr-cccd")
        scanner.offer(ScannerSymbols.frame(ScannerSymbols.url))
        #expect(await next(stream)?.kind == "refused")
        let text = log.text
        #expect(text.contains("QR scan started") && text.contains("QR qr-cccd") && text.contains("not-health-declaration"))
        for secret in ["Hằng", "Hang", "079190004321", "026111222", "24061990", "05072022", "Quang Trung", "example.org", "kiosk-7731"] {
            #expect(!text.contains(secret), "\(secret) in the log")
        }
    }
}

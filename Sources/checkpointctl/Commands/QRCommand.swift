import ArgumentParser
import CheckpointAdapters
import CheckpointCore
import Foundation

/// `checkpointctl qr …`: QR codes (personal PC-COVID codes, chip-ID-card codes) as the kiosk's decoder reads them.
struct QRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qr", abstract: "QR codes as the kiosk's decoder (ZXing-C++) reads them.",
        subcommands: [Decode.self])

    /// `checkpointctl qr decode [--json] IMAGE...`
    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode the QR codes in image files (JPEG, PNG), read as 8-bit gray.",
            discussion: """
                Prints each image's codes and the decode time: the decode call only, not reading the file; wall \
                clock, so other load shows in it (--repeat keeps the fastest of several runs). A code's text is \
                shown only when its bytes are valid UTF-8; otherwise the reason and the bytes in hex.

                With --json, exactly one JSON object per image, one per line:
                  {"image": PATH, "ms": T, "codes": [{"text": "…", "format": "QRCode"}]}
                a code without text: {"text": null, "format": …, "refusal": "…", "hex": "…"}.

                An image that cannot be read is reported on stderr (path and reason); the exit status is then 1. \
                The output holds the codes' contents, which are personal data: keep it out of tickets and logs.
                """)

        @Flag(name: .long, help: "One JSON object per image, one per line.")
        var json = false

        @Option(name: .long, help: "Decode each image this many times and report the fastest run, the one least disturbed by other load (benchmarking).")
        var `repeat`: Int = 1

        @Argument(help: "Image files.")
        var images: [String]

        func validate() throws {
            guard !images.isEmpty else { throw ValidationError("give at least one image file") }
            guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
        }

        func run() async throws {
            let decoder: QRDecoder
            do {
                decoder = try QRDecoder()
            } catch {
                FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
                throw ExitCode(1)
            }
            var failures = 0
            for path in images {
                do {
                    let (image, codes, ms) = try decodeOne(path, decoder)
                    print(json ? jsonLine(path, codes, ms) : textBlock(path, image, codes, ms))
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }

        private func decodeOne(_ path: String, _ decoder: QRDecoder) throws -> (ImageCodec.Image, [DecodedQR], Double) {
            guard let data = FileManager.default.contents(atPath: path) else {
                let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
                throw AdapterError(.open, reason)
            }
            let image = try ImageCodec.decode([UInt8](data), gray: true)
            var times: [Double] = []
            var codes: [DecodedQR] = []
            for _ in 0..<`repeat` {
                let start = DispatchTime.now().uptimeNanoseconds
                codes = try decoder.decode(gray: image.pixels, width: image.width, height: image.height)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            return (image, codes, times.min() ?? 0)
        }

        private func textBlock(_ path: String, _ image: ImageCodec.Image, _ codes: [DecodedQR], _ ms: Double) -> String {
            var out = "\(path): \(image.width)×\(image.height), \(codes.count) code\(codes.count == 1 ? "" : "s"), \(fmt(ms, 2)) ms"
            for (i, c) in codes.enumerated() {
                if let text = c.text {
                    out += "\n  code \(i + 1) (\(c.format), \(c.bytes.count) bytes): \(text)"
                } else {
                    out += "\n  code \(i + 1) (\(c.format), \(c.bytes.count) bytes, no text: \(c.textRefusal ?? "?")): \(hex(c.bytes))"
                }
            }
            return out
        }

        /// Keys in order: image, ms, codes[text, format (, refusal, hex)].
        private func jsonLine(_ path: String, _ codes: [DecodedQR], _ ms: Double) -> String {
            let list = codes.map { c -> String in
                if let text = c.text { return "{\"text\":\(jsonString(text)),\"format\":\(jsonString(c.format))}" }
                return "{\"text\":null,\"format\":\(jsonString(c.format)),\"refusal\":\(jsonString(c.textRefusal ?? "")),\"hex\":\"\(hex(c.bytes))\"}"
            }
            return "{\"image\":\(jsonString(path)),\"ms\":\(fmt(ms, 3)),\"codes\":[\(list.joined(separator: ","))]}"
        }

        private func hex(_ bytes: [UInt8]) -> String {
            bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}

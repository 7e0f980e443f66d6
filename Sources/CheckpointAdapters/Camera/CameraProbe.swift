import CheckpointCore
import Foundation

/// What `checkpointctl camera list` prints: like `v4l2-ctl --info --list-formats-ext` per device.
public struct CameraDescription: Sendable {
    public struct Format: Sendable {
        public var format: V4L2FormatDescription
        public var sizes: [(size: V4L2FrameSize, intervals: [V4L2FrameInterval])]
    }

    public var path: String
    /// Stable aliases under /dev/v4l/by-id and by-path pointing at this node.
    public var aliases: [String]
    public var capabilities: V4L2Capabilities
    public var formats: [Format]
    public var controls: [CameraControlInfo]

    /// Human-readable listing.
    public func render() -> String {
        var lines: [String] = []
        lines.append("\(path)" + (aliases.isEmpty ? "" : "  (" + aliases.joined(separator: ", ") + ")"))
        lines.append("\tDriver name      : \(capabilities.driver)")
        lines.append("\tCard type        : \(capabilities.card)")
        lines.append("\tBus info         : \(capabilities.busInfo)")
        lines.append("\tDevice caps      : 0x" + String(capabilities.deviceCaps, radix: 16)
            + (capabilities.videoCapture ? " Video Capture" : "") + (capabilities.streaming ? " Streaming" : "")
            + (capabilities.videoCapture && capabilities.streaming ? "" : "  (not usable for capture)"))
        for (i, f) in formats.enumerated() {
            lines.append("\t[\(i)]: '\(CameraPixelFormat.fourccString(f.format.fourcc))' (\(f.format.description)\(f.format.compressed ? ", compressed" : ""))")
            for (size, intervals) in f.sizes {
                switch size {
                case .discrete(let w, let h):
                    lines.append("\t\tSize: Discrete \(w)x\(h)")
                case .stepwise(let minW, let maxW, let sw, let minH, let maxH, let sh):
                    lines.append("\t\tSize: Stepwise \(minW)x\(minH) - \(maxW)x\(maxH) with step \(sw)/\(sh)")
                }
                for interval in intervals {
                    switch interval {
                    case .discrete(let n, let d):
                        let fps = n > 0 ? Double(d) / Double(n) : 0
                        lines.append("\t\t\tInterval: Discrete \(String(format: "%.3f", Double(n) / Double(max(d, 1))))s (\(String(format: "%.3f", fps)) fps)")
                    case .stepwise(let lo, let hi):
                        lines.append("\t\t\tInterval: Stepwise \(lo.0)/\(lo.1)s - \(hi.0)/\(hi.1)s")
                    }
                }
            }
        }
        if !controls.isEmpty {
            lines.append("\tControls:")
            for c in controls {
                var flags: [String] = []
                if c.readOnly { flags.append("read-only") }
                if c.inactive { flags.append("inactive") }
                if c.disabled { flags.append("disabled") }
                lines.append("\t\t\(c.key) 0x" + String(c.id, radix: 16) + " (\(c.kind)): min=\(c.minimum) max=\(c.maximum) step=\(c.step) default=\(c.defaultValue)"
                    + (flags.isEmpty ? "" : " flags=" + flags.joined(separator: ",")))
            }
        }
        return lines.joined(separator: "\n")
    }
}

public enum CameraProbe {
    /// /dev/video* nodes, sorted numerically.
    public static func videoNodes(devDirectory: String = "/dev") -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: devDirectory)) ?? []
        return names.filter { $0.hasPrefix("video") && Int($0.dropFirst(5)) != nil }
            .sorted { Int($0.dropFirst(5))! < Int($1.dropFirst(5))! }
            .map { "\(devDirectory)/\($0)" }
    }

    /// Stable names (by-id, by-path) that resolve to `node`.
    public static func aliases(of node: String) -> [String] {
        var out: [String] = []
        let target = (node as NSString).resolvingSymlinksInPath
        for dir in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                let p = "\(dir)/\(name)"
                if (p as NSString).resolvingSymlinksInPath == target { out.append(p) }
            }
        }
        return out.sorted()
    }

    /// Everything `camera list` shows about one device. Opens it briefly (non-blocking, no streaming).
    public static func describe(path: String, opener: any V4L2DeviceOpener = SystemV4L2DeviceOpener()) throws(AdapterError) -> CameraDescription {
        let dev = try opener.open(path: path, cancellation: CaptureCancellation())
        defer { dev.close() }
        let caps = try dev.queryCapabilities()
        var formats: [CameraDescription.Format] = []
        if caps.videoCapture {
            for f in try dev.enumerateFormats() {
                var sizes: [(V4L2FrameSize, [V4L2FrameInterval])] = []
                for size in try dev.enumerateFrameSizes(fourcc: f.fourcc) {
                    switch size {
                    case .discrete(let w, let h):
                        sizes.append((size, (try? dev.enumerateFrameIntervals(fourcc: f.fourcc, width: w, height: h)) ?? []))
                    case .stepwise(let minW, _, _, let minH, _, _):
                        sizes.append((size, (try? dev.enumerateFrameIntervals(fourcc: f.fourcc, width: minW, height: minH)) ?? []))
                    }
                }
                formats.append(.init(format: f, sizes: sizes))
            }
        }
        let controls = (try? dev.queryControls()) ?? []
        return CameraDescription(path: path, aliases: aliases(of: path), capabilities: caps, formats: formats, controls: controls)
    }
}

/// One camera control asked for in config: a name (v4l2-ctl style, either kernel spelling, a config alias,
/// or a numeric id like "0x009a0901") and a value.
public struct CameraControlRequest: Sendable, Equatable {
    public var name: String
    public var value: Int

    public init(name: String, value: Int) {
        self.name = name
        self.value = value
    }

    /// Builds a request from config text: integers, booleans, and the named values of the well-known
    /// menus (exposure mode "auto"/"manual"/"shutter_priority"/"aperture_priority",
    /// power-line frequency "disabled"/"50hz"/"60hz"/"auto").
    public init(name: String, text: String) throws(CoreError) {
        self.name = name
        let t = text.lowercased()
        if let v = Int(t) {
            value = v
            return
        }
        let group = CameraControlNames.group(of: name)
        let named: [String: Int]
        switch group?.first {
        case "auto_exposure": named = ["auto": 0, "manual": 1, "shutter_priority": 2, "aperture_priority": 3]
        case "power_line_frequency": named = ["disabled": 0, "off": 0, "50hz": 1, "60hz": 2, "auto": 3]
        default: named = ["true": 1, "on": 1, "false": 0, "off": 0]
        }
        guard let v = named[t] else {
            throw CoreError(.invalidConfig, "camera control \(name): value \"\(text)\" is not a number or one of \(named.keys.sorted().joined(separator: ", "))")
        }
        value = v
    }
}

/// What a device says about one of its controls (VIDIOC_QUERYCTRL).
public struct CameraControlInfo: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case integer, boolean, menu, button, other }

    public var id: UInt32
    /// The driver's name, e.g. "Auto Exposure" or "White Balance, Automatic".
    public var name: String
    public var kind: Kind
    public var minimum: Int
    public var maximum: Int
    public var step: Int
    public var defaultValue: Int
    public var readOnly: Bool
    public var inactive: Bool
    public var disabled: Bool

    public init(
        id: UInt32, name: String, kind: Kind = .integer, minimum: Int, maximum: Int, step: Int = 1, defaultValue: Int = 0,
        readOnly: Bool = false, inactive: Bool = false, disabled: Bool = false
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.step = step
        self.defaultValue = defaultValue
        self.readOnly = readOnly
        self.inactive = inactive
        self.disabled = disabled
    }

    /// The v4l2-ctl spelling: lowercase, every run of other characters turned into one '_'.
    public var key: String { CameraControlNames.normalize(name) }
}

/// Control names across kernel versions and config aliases.
public enum CameraControlNames {
    /// Names that mean the same control. The first of each group is the current kernel name.
    /// Kernel 5.x renamed several UVC controls (PhotonVision PR #1080, cameractrls #31).
    public static let aliasGroups: [[String]] = [
        ["auto_exposure", "exposure_auto", "exposure_mode"],
        ["exposure_time_absolute", "exposure_absolute", "exposure"],
        ["white_balance_automatic", "white_balance_temperature_auto", "white_balance_auto"],
        ["white_balance_temperature"],
        ["gain"],
        ["power_line_frequency"],
        ["exposure_dynamic_framerate", "exposure_auto_priority"],
        ["focus_automatic_continuous", "focus_auto"],
        ["focus_absolute"],
        ["brightness"], ["contrast"], ["saturation"], ["sharpness"], ["backlight_compensation"],
    ]

    /// Mode controls: set before the manual values they unlock.
    static let modeControls: Set<String> = ["auto_exposure", "white_balance_automatic", "focus_automatic_continuous", "exposure_dynamic_framerate"]

    public static func normalize(_ name: String) -> String {
        var out = ""
        var pendingUnderscore = false
        for ch in name.lowercased() {
            if ch.isLetter || ch.isNumber {
                if pendingUnderscore && !out.isEmpty { out.append("_") }
                pendingUnderscore = false
                out.append(ch)
            } else {
                pendingUnderscore = true
            }
        }
        return out
    }

    /// The alias group containing `name`, if it is a known control.
    public static func group(of name: String) -> [String]? {
        let n = normalize(name)
        return aliasGroups.first { $0.contains(n) }
    }

    /// A numeric id ("0x009a0901", "10094849", "ID009a0901"), if `name` is one.
    public static func numericID(_ name: String) -> UInt32? {
        var s = name.lowercased()
        if s.hasPrefix("id") { s.removeFirst(2); return UInt32(s, radix: 16) }
        if s.hasPrefix("0x") { return UInt32(s.dropFirst(2), radix: 16) }
        return UInt32(s)
    }
}

/// One control write the adapter should perform, in order.
public struct CameraControlStep: Sendable, Equatable {
    public var id: UInt32
    /// The config's name (for logs) and the driver's.
    public var requestedName: String
    public var driverName: String
    public var requested: Int
    public var value: Int
}

/// A control that could not be applied as asked; reported, never fatal.
public struct CameraControlReport: Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        case missing
        case readOnly
        case disabled
        case clamped(to: Int)
        /// The driver refused the write (EINVAL, ERANGE, EACCES, EBUSY…): its own text.
        case refused(String)
    }

    public var name: String
    public var problem: Problem

    public init(name: String, problem: Problem) {
        self.name = name
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .missing: return "camera control \(name): not offered by this camera (skipped)"
        case .readOnly: return "camera control \(name): read-only on this camera (skipped)"
        case .disabled: return "camera control \(name): disabled by the driver (skipped)"
        case .clamped(let v): return "camera control \(name): value out of range, clamped to \(v)"
        case .refused(let why): return "camera control \(name): driver refused the value: \(why)"
        }
    }
}

/// Turns config requests plus the device's control list into ordered writes and reports.
public enum CameraControlPlan {
    public static func plan(_ requests: [CameraControlRequest], available: [CameraControlInfo]) -> (steps: [CameraControlStep], reports: [CameraControlReport]) {
        var steps: [CameraControlStep] = []
        var modeSteps: [CameraControlStep] = []
        var reports: [CameraControlReport] = []
        for request in requests {
            guard let info = resolve(request.name, in: available) else {
                reports.append(CameraControlReport(name: request.name, problem: .missing))
                continue
            }
            if info.readOnly {
                reports.append(CameraControlReport(name: request.name, problem: .readOnly))
                continue
            }
            if info.disabled {
                reports.append(CameraControlReport(name: request.name, problem: .disabled))
                continue
            }
            let value = clamp(request.value, info)
            if value != request.value {
                reports.append(CameraControlReport(name: request.name, problem: .clamped(to: value)))
            }
            let step = CameraControlStep(id: info.id, requestedName: request.name, driverName: info.name, requested: request.value, value: value)
            if CameraControlNames.modeControls.contains(CameraControlNames.group(of: info.key)?.first ?? info.key) {
                modeSteps.append(step)
            } else {
                steps.append(step)
            }
        }
        return (modeSteps + steps, reports)
    }

    /// Finds a control by numeric id, by its exact v4l2-ctl name, or by any alias of it.
    public static func resolve(_ name: String, in available: [CameraControlInfo]) -> CameraControlInfo? {
        if let id = CameraControlNames.numericID(name), let hit = available.first(where: { $0.id == id }) { return hit }
        let key = CameraControlNames.normalize(name)
        if let hit = available.first(where: { $0.key == key }) { return hit }
        guard let group = CameraControlNames.group(of: key) else { return nil }
        return available.first { group.contains($0.key) }
    }

    static func clamp(_ value: Int, _ info: CameraControlInfo) -> Int {
        guard info.kind == .integer || info.kind == .boolean || info.kind == .menu, info.minimum <= info.maximum else { return value }
        var v = min(max(value, info.minimum), info.maximum)
        if info.kind == .integer, info.step > 1 {
            v = info.minimum + ((v - info.minimum) / info.step) * info.step
        }
        return v
    }
}

import Testing
@testable import CheckpointCore

@Suite struct CameraRecoveryTests {
    /// Jitter at its midpoint: the backoff is 0.75 × the ceiling.
    static func ladder(random: Double = 0.5) -> ReconnectLadder {
        ReconnectLadder(schedule: .camera(minimumBackoff: 0.5, maximumBackoff: 30), random: { random })
    }

    @Test func timeoutRestartsStreamingThenReopens() {
        var l = Self.ladder()
        #expect(l.handle(CameraFault.timeout.reconnectFault) == .restart)
        #expect(l.handle(CameraFault.timeout.reconnectFault) == .reopen(afterSeconds: 0))
        guard case .reopen(let third) = l.handle(CameraFault.timeout.reconnectFault) else { Issue.record("expected reopen"); return }
        #expect(third >= 0.5 && third <= 30)
        #expect(CameraHealth.degraded(CameraFault.timeout.description) == .degraded("frame timeout"))
        // A frame resets the ladder: the next timeout restarts streaming again.
        l.succeeded()
        #expect(!l.isRecovering)
        #expect(l.handle(CameraFault.timeout.reconnectFault) == .restart)
    }

    @Test func ioErrorReopensAtOnceThenBacksOff() {
        var l = Self.ladder()
        #expect(l.handle(CameraFault.ioError("EIO").reconnectFault) == .reopen(afterSeconds: 0))
        guard case .reopen(let next) = l.handle(CameraFault.ioError("POLLERR").reconnectFault), next >= 0.5 else { Issue.record("repeated EIO must back off"); return }
    }

    @Test func unplugBacksOffWithJitterFromHalfASecondToThirtySeconds() {
        var low = Self.ladder(random: 0)
        var high = Self.ladder(random: 0.999_999)
        var lows: [Double] = [], highs: [Double] = []
        for _ in 0..<12 {
            guard case .reopen(let a) = low.handle(CameraFault.disconnected("POLLHUP").reconnectFault),
                  case .reopen(let b) = high.handle(CameraFault.disconnected("ENODEV").reconnectFault) else {
                Issue.record("unplug must reopen after a delay")
                return
            }
            lows.append(a)
            highs.append(b)
        }
        #expect(lows.allSatisfy { $0 >= 0.5 && $0 <= 30 } && highs.allSatisfy { $0 >= 0.5 && $0 <= 30 })
        #expect(highs[0] == 0.5, "first retry after about half a second")
        #expect(highs[1] > highs[0] && highs[2] > highs[1], "the ceiling grows: \(highs)")
        #expect(abs(highs.last! - 30) < 0.001, "capped at 30 s: \(highs)")
        #expect(lows.last! == 15, "jitter draws from the upper half of the ceiling")
        // Jitter: two ladders with different random draws wait different times.
        #expect(lows[4] != highs[4])
    }

    @Test func busyBacksOffAndHealthSaysWhy() {
        var l = Self.ladder()
        guard case .reopen(let d) = l.handle(CameraFault.busy("EBUSY").reconnectFault) else { Issue.record("busy must back off"); return }
        #expect(d >= 0.5)
        #expect(CameraHealth.degraded(CameraFault.busy("EBUSY").description).description.contains("busy"))
    }

    @Test func theLadderNeverGivesUp() {
        var l = Self.ladder()
        for _ in 0..<10_000 {
            guard case .reopen(let d) = l.handle(CameraFault.disconnected("gone").reconnectFault), d <= 30 else { Issue.record("gave up or exceeded 30 s"); return }
        }
    }

    @Test func sequenceGapsAreCounted() {
        var t = SequenceTracker()
        #expect(t.observe(0) == 0)
        #expect(t.observe(1) == 0)
        #expect(t.observe(5) == 3)
        #expect(t.observe(6) == 0)
        t.reset()
        #expect(t.observe(0) == 0, "after STREAMON the counter starts again")
        #expect(t.observe(UInt32.max) == 0, "a wild jump is a restart, not a billion missed frames")
    }
}

@Suite struct CameraControlTests {
    /// What a recent UVC camera reports (kernel ≥ 5.x names).
    static let uvc: [CameraControlInfo] = [
        CameraControlInfo(id: 0x0098_0913, name: "Gain", minimum: 0, maximum: 255, defaultValue: 0),
        CameraControlInfo(id: 0x0098_0918, name: "Power Line Frequency", kind: .menu, minimum: 0, maximum: 2, defaultValue: 2),
        CameraControlInfo(id: 0x0098_090C, name: "White Balance, Automatic", kind: .boolean, minimum: 0, maximum: 1, defaultValue: 1),
        CameraControlInfo(id: 0x0098_091A, name: "White Balance Temperature", minimum: 2800, maximum: 6500, step: 10, defaultValue: 4000, inactive: true),
        CameraControlInfo(id: 0x009A_0901, name: "Auto Exposure", kind: .menu, minimum: 0, maximum: 3, defaultValue: 3),
        CameraControlInfo(id: 0x009A_0902, name: "Exposure Time, Absolute", minimum: 3, maximum: 2047, defaultValue: 250, inactive: true),
        CameraControlInfo(id: 0x0098_0900, name: "Brightness", minimum: 0, maximum: 255, defaultValue: 128, readOnly: true),
    ]

    @Test func oldAndNewKernelNamesBothResolve() {
        #expect(CameraControlPlan.resolve("exposure_auto", in: Self.uvc)?.id == 0x009A_0901)
        #expect(CameraControlPlan.resolve("auto_exposure", in: Self.uvc)?.id == 0x009A_0901)
        #expect(CameraControlPlan.resolve("exposure_absolute", in: Self.uvc)?.id == 0x009A_0902)
        #expect(CameraControlPlan.resolve("white_balance_temperature_auto", in: Self.uvc)?.id == 0x0098_090C)
        #expect(CameraControlPlan.resolve("0x00980913", in: Self.uvc)?.name == "Gain")
        // An old kernel reports old names; the new name still finds them.
        let old = [CameraControlInfo(id: 0x009A_0901, name: "Exposure, Auto", kind: .menu, minimum: 0, maximum: 3)]
        #expect(CameraControlPlan.resolve("auto_exposure", in: old)?.id == 0x009A_0901)
        #expect(CameraControlPlan.resolve("exposure_mode", in: old)?.id == 0x009A_0901)
    }

    @Test func modesGoFirstAndProblemsAreReportedNotFatal() {
        let requests = [
            CameraControlRequest(name: "exposure_absolute", value: 5000),
            CameraControlRequest(name: "white_balance_temperature", value: 4605),
            CameraControlRequest(name: "exposure_mode", value: 1),
            CameraControlRequest(name: "white_balance_auto", value: 0),
            CameraControlRequest(name: "focus_absolute", value: 10),
            CameraControlRequest(name: "brightness", value: 100),
            CameraControlRequest(name: "power_line_frequency", value: 1),
        ]
        let (steps, reports) = CameraControlPlan.plan(requests, available: Self.uvc)
        #expect(steps.map(\.driverName) == [
            "Auto Exposure", "White Balance, Automatic", "Exposure Time, Absolute", "White Balance Temperature", "Power Line Frequency",
        ])
        #expect(steps[2].value == 2047, "clamped to the maximum")
        #expect(steps[3].value == 4600, "snapped to the 10 K step")
        #expect(reports.contains(CameraControlReport(name: "focus_absolute", problem: .missing)))
        #expect(reports.contains(CameraControlReport(name: "brightness", problem: .readOnly)))
        #expect(reports.contains(CameraControlReport(name: "exposure_absolute", problem: .clamped(to: 2047))))
    }

    @Test func namedValuesFromConfig() throws {
        #expect(try CameraControlRequest(name: "power_line_frequency", text: "50hz").value == 1)
        #expect(try CameraControlRequest(name: "exposure_mode", text: "manual").value == 1)
        #expect(try CameraControlRequest(name: "exposure_auto", text: "aperture_priority").value == 3)
        #expect(try CameraControlRequest(name: "white_balance_auto", text: "false").value == 0)
        #expect(try CameraControlRequest(name: "gain", text: "12").value == 12)
        do {
            _ = try CameraControlRequest(name: "power_line_frequency", text: "55hz")
            Issue.record("bad value accepted")
        } catch {
            #expect(error.message.contains("power_line_frequency") && error.message.contains("50hz"))
        }
    }

    @Test func normalizationMatchesV4L2Ctl() {
        #expect(CameraControlNames.normalize("White Balance, Automatic") == "white_balance_automatic")
        #expect(CameraControlNames.normalize("Exposure Time, Absolute") == "exposure_time_absolute")
        #expect(CameraControlNames.normalize("Inject V4L2_BUF_FLAG_ERROR") == "inject_v4l2_buf_flag_error")
    }
}

@Suite struct CameraConfigMappingTests {
    @Test func configControlsBecomeRequestsUnderTheirConfigNames() {
        let config = CheckpointConfig.Camera(
            source: .v4l2, device: "/dev/v4l/by-id/usb-cam-video-index0", replayPath: nil, replayFPS: 10,
            formats: [.mjpeg, .yuyv], width: 1280, height: 720, fps: 30, buffers: 3, frameTimeoutMilliseconds: 2000,
            controls: .init(exposureMode: .aperturePriority, exposureAbsolute: nil, whiteBalanceAuto: false,
                            whiteBalanceTemperatureKelvin: 4600, gain: nil, powerLineFrequency: .hz50))
        let s = CameraSettings(config: config)
        #expect(s.device == "/dev/v4l/by-id/usb-cam-video-index0" && s.formats == [.mjpeg, .yuyv])
        #expect(s.width == 1280 && s.height == 720 && s.fps == 30 && s.buffers == 3 && s.frameTimeoutMs == 2000)
        #expect(s.controls == [
            CameraControlRequest(name: "exposure_mode", value: 3),
            CameraControlRequest(name: "white_balance_auto", value: 0),
            CameraControlRequest(name: "white_balance_temperature", value: 4600),
            CameraControlRequest(name: "power_line_frequency", value: 1),
        ])
        #expect(throws: Never.self) { try s.validate() }
    }
}

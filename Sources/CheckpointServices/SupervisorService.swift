import CheckpointAdapters
import CheckpointCore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Talks to systemd: READY=1 once running, WATCHDOG=1 only while every stage makes progress or reports
/// a recovery, STATUS= with a one-line summary, and SIGHUP → reload (RELOADING=1 … READY=1).
public struct SupervisorService: Service {
    let notifier: any ServiceNotifier
    let health: HealthBoard
    let store: AsyncQueueStore
    let uploader: UploadService
    let metrics: PipelineMetrics
    let reload: @Sendable () async -> [String]
    let logger: Logger
    /// How often the supervisor looks; by default half of systemd's watchdog interval, at most 5 s.
    let tickSeconds: Double?

    public init(notifier: any ServiceNotifier, health: HealthBoard, store: AsyncQueueStore, uploader: UploadService,
                metrics: PipelineMetrics,
                reload: @escaping @Sendable () async -> [String], logger: Logger, tickSeconds: Double? = nil) {
        self.notifier = notifier
        self.health = health
        self.store = store
        self.uploader = uploader
        self.metrics = metrics
        self.reload = reload
        self.logger = logger
        self.tickSeconds = tickSeconds
    }

    public func run() async throws {
        let watchdog = SystemdNotifier.watchdogInterval(environment: ProcessInfo.processInfo.environment)
        let tick = tickSeconds ?? min(5.0, (watchdog ?? 10) / 2)
        try? notifier.ready(status: "starting")
        logger.notice("checkpointd ready", metadata: ["watchdog_s": "\(watchdog.map { "\($0)" } ?? "off")"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.tickLoop(every: tick) }
            group.addTask { await self.reloadLoop() }
            await group.next()
            group.cancelAll()
        }
        try? notifier.stopping()
    }

    private func tickLoop(every seconds: Double) async {
        var policy = SupervisorPolicy()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let actions = policy.tick(status: await statusLine(), stalled: await health.stalled())
            if let status = actions.status { try? notifier.status(status) }
            if let fps = await health.cameraFPS { metrics.cameraFPS.record(fps) }
            if actions.petWatchdog { try? notifier.watchdog() }
            switch actions.log {
            case .recovered: logger.notice("all stages progressing again")
            case .stalled(let stalled):
                logger.error("stages stalled; withholding the watchdog ping", metadata: ["stages": "\(stalled.map(\.rawValue).joined(separator: ","))"])
            case nil: break
            }
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        }
    }

    private func reloadLoop() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            try? notifier.reloading(monotonicMicros: DispatchTime.now().uptimeNanoseconds / 1000)
            let problems = await reload()
            if problems.isEmpty {
                logger.notice("configuration reloaded")
            } else {
                for p in problems { logger.error("reload rejected: \(p)") }
                logger.error("reload rejected; keeping the running configuration", metadata: ["problems": "\(problems.count)"])
            }
            try? notifier.ready(status: await statusLine())
        }
    }

    public func statusLine() async -> String {
        // SQLite and the directory listing block: they run on the queue's own thread, never on the cooperative pool.
        let queue = try? await store.status()
        let quarantined = queue == nil ? nil : try? await store.quarantinedFiles().count
        let up = uploader.status
        let sensor = await health.state(of: .thermal).map { "\($0)" } ?? "off"
        return StatusLine(cameraFPS: await health.cameraFPS, sensor: sensor, queueDepth: queue?.pending ?? -1,
                          secondsSinceLastUpload: up.lastDeliveryAt.map { Date().timeIntervalSince($0) },
                          overall: "\(await health.overall)", deadLetters: queue?.dead ?? up.deadLetters,
                          uploadNeedsAttention: up.attention != nil, quarantinedQueues: quarantined ?? 0).text
    }
}

import CheckpointAdapters
import CheckpointCore
import Logging
import ServiceLifecycle

/// Thermal sensor link → ScreeningHub, reporting the link's state to health.
public struct ThermalService: Service {
    let link: any SensorEventSource
    let hub: ScreeningHub
    let health: HealthBoard
    let metrics: PipelineMetrics
    let logger: Logger

    public init(link: any SensorEventSource, hub: ScreeningHub, health: HealthBoard, metrics: PipelineMetrics, logger: Logger) {
        self.link = link
        self.hub = hub
        self.health = health
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let events = link.start()
        await withGracefulShutdownHandler {
            var lastCounters: ThermalCounters?
            var lastStatus: SensorLinkStatus?
            for await event in events {
                switch event {
                case .frame(let frame, let counters):
                    metrics.thermalFrames.increment()
                    metrics.sensorAmbient.set(frame.ambientC)
                    if let last = lastCounters {
                        let errors = counters.errors(since: last)
                        if errors > 0 { metrics.thermalErrors.increment(by: Int64(errors)) }
                    }
                    lastCounters = counters
                    await hub.thermal(frame)
                    await health.progress(.thermal)
                case .status(let status):
                    // The link repeats "unavailable" on every reconnect attempt (a sign of life); log changes only.
                    if status != lastStatus { logger.notice("thermal sensor \(status)") }
                    lastStatus = status
                    metrics.sensorUp.set(status.isAvailable ? 1.0 : 0.0)
                    if status.isAvailable {
                        await hub.sensorAvailable()
                        await health.progress(.thermal)
                    } else {
                        if case .unavailable = status { await hub.sensorUnavailable() }
                        await health.report(.thermal, .recovering(status.description))
                    }
                case .emissivity(let e):
                    logger.info("sensor emissivity read back", metadata: ["emissivity": "\(e)"])
                }
            }
        } onGracefulShutdown: {
            link.stop()
        }
        logger.info("thermal stopped")
    }
}

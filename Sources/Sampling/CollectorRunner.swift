import Dispatch
import FoundationEssentials
import Logging
import Locking

/// Runs one collector on a dedicated thread at its interval and publishes each round.
///
/// A dedicated thread (not a task) because rounds block on libcurl and statvfs; on a two-core
/// host two blocked tasks would stall Swift's whole cooperative pool. Rounds never overlap: if a
/// round overruns its interval, the next starts right after it (missed ticks are skipped).
public final class CollectorRunner: Sendable {
    public let collector: any Collector
    private let store: MetricsStore
    private let logger: Logger
    private let control = StopSignal()
    private let heartbeat = Mutex<ContinuousClock.Instant?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Mutex(false)

    public init(collector: any Collector, store: MetricsStore, logger: Logger) {
        self.collector = collector
        self.store = store
        self.logger = logger
    }

    public func start() {
        guard
            started.withLock({ s -> Bool in
                defer { s = true }; return !s
            })
        else { return }
        startThread(name: "collector-\(collector.name)") { [self] in
            self.loop()
            self.finished.signal()
        }
    }

    /// Asks the loop to end and waits up to `timeout` for the current round to finish.
    /// Returns false if the round is still blocked (its own deadlines will end it later).
    @discardableResult
    public func stop(timeout: Duration = .seconds(5)) -> Bool {
        control.stop()
        guard started.withLock({ $0 }) else { return true }
        return finished.wait(timeout: .now() + seconds(timeout)) == .success
    }

    /// Starts the next round now rather than at its time (a round under way finishes first; calls
    /// before it starts count once). For state the collector reports that changes between its
    /// rounds, such as the events stream going down, which would otherwise show a whole interval late.
    public func runSoon() {
        control.nudge()
    }

    /// When the loop last started a round; nil before the first.
    public var lastHeartbeat: ContinuousClock.Instant? { heartbeat.withLock { $0 } }

    /// True when the loop has started a round recently enough for its interval and deadlines.
    public func isAlive(now: ContinuousClock.Instant = .now) -> Bool {
        guard let last = lastHeartbeat else { return true }  // still starting up
        return now - last <= collector.interval * 2 + collector.maxRoundDuration + .seconds(5)
    }

    private func loop() {
        var runs: UInt64 = 0
        var failures: UInt64 = 0
        var lastSuccess: Date?
        var lastError: String?
        let clock = ContinuousClock()
        var next = clock.now
        while !control.isStopped {
            let start = clock.now
            heartbeat.withLock { $0 = start }
            let result = collector.collect()
            let duration = clock.now - start
            runs += 1
            if let error = result.error {
                failures += 1
                // Log when a collector starts failing or fails differently, not every round of an outage.
                if error != lastError {
                    logger.warning(
                        "collector round failed",
                        metadata: [
                            "collector": "\(collector.name)", "error": "\(error)", "duration_seconds": "\(seconds(duration))",
                        ])
                }
            } else {
                if lastError != nil {
                    logger.info("collector recovered", metadata: ["collector": "\(collector.name)"])
                }
                lastSuccess = Date()
            }
            lastError = result.error
            store.publish(
                CollectorStatus(
                    name: collector.name, families: result.families, success: result.error == nil, error: result.error,
                    duration: duration, lastSuccess: lastSuccess, lastRound: Date(), runs: runs, failures: failures,
                    interval: collector.interval))
            // What the round allocated and dropped (a container list, decoded answers) goes back to
            // the kernel instead of staying in the allocator's free lists.
            Allocator.releaseFreeMemory()
            next = next + collector.interval
            let now = clock.now
            if next < now { next = now }
            control.wait(until: next)
        }
    }
}

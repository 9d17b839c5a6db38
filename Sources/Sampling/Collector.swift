import Exposition

/// What one sampling round produced.
public struct CollectionResult: Sendable {
    /// The families to serve until the next round.
    public var families: [MetricFamily]
    /// nil when the round succeeded; otherwise why it failed (logged and counted).
    public var error: String?

    public init(families: [MetricFamily], error: String? = nil) {
        self.families = families
        self.error = error
    }
}

/// A source of metrics sampled on its own schedule.
///
/// `collect()` may block (Docker calls, statvfs): it runs on the collector's own thread, never on
/// Swift's cooperative pool and never on a scrape. A collector must bound every wait it does, so a
/// round ends within `maxRoundDuration` even when the daemon hangs.
public protocol Collector: CollectorLifecycle {
    /// Short, stable name used in the `collector` label and the logs.
    var name: String { get }
    var interval: Duration { get }
    /// The longest a round can take given the collector's own deadlines; `/healthz` uses it to
    /// tell a slow round from a stuck loop.
    var maxRoundDuration: Duration { get }
    func collect() -> CollectionResult
}

/// Work a collector does besides its rounds (an event stream), and its wish for an early round.
/// Every hook has a default that does nothing.
public protocol CollectorLifecycle: Sendable {
    /// Called once before the first round with a way to ask the runner for a round now (when the
    /// state it reports changed between rounds, e.g. an events stream connected or broke).
    func bind(requestRound: @escaping @Sendable () -> Void)
    /// Starts the collector's background work; called after its runner has started.
    func startBackground()
    /// Stops it, waiting at most `timeout`.
    func stopBackground(timeout: Duration)
}

extension Collector {
    public func bind(requestRound: @escaping @Sendable () -> Void) {}
    public func startBackground() {}
    public func stopBackground(timeout: Duration) {}
}

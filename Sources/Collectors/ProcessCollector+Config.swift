import WatchdogConfig

extension ProcessCollector {
    /// The watchdog's own process metrics.
    public struct Config: Sendable, Equatable {
        /// `collector.process.enabled`
        public var enabled: Bool = true
        /// `collector.process.interval`
        public var interval: Duration = .seconds(15)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("process", defaults: Config())

    /// The `collector.process.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.process.enabled", \WatchdogConfiguration.collectors[ProcessCollector.config].enabled, .bool,
            flagAliases: ["collector.process"],
            "Whether the watchdog's own process metrics are exported."),
        ConfigKey(
            "collector.process.interval", \WatchdogConfiguration.collectors[ProcessCollector.config].interval, .duration(positive: true),
            "How often the watchdog's own process metrics are sampled."),
    ]
}

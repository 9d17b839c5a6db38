import WatchdogConfig

extension LogsCollector {
    /// Container log files on disk: the commonest cause of a full Docker disk that `system df` omits.
    public struct Config: Sendable, Equatable {
        /// `collector.logs.enabled`
        public var enabled: Bool = true
        /// `collector.logs.interval`
        public var interval: Duration = .seconds(30)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("logs", defaults: Config())

    /// The `collector.logs.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.logs.enabled", \WatchdogConfiguration.collectors[LogsCollector.config].enabled, .bool,
            flagAliases: ["collector.logs"],
            "Whether the size of container log files (json-file and local drivers) is exported. Reads file sizes only (no Docker call); needs the containers collector, which knows each container's log path and driver, and collector.disk.host_prefix when the watchdog runs in a container."
        ),
        ConfigKey(
            "collector.logs.interval", \WatchdogConfiguration.collectors[LogsCollector.config].interval, .duration(positive: true),
            "How often container log files are measured."),
    ]
}

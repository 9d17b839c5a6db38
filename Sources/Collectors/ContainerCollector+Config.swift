import WatchdogConfig

extension ContainerCollector {
    /// Container state and health, from one /events stream plus periodic full lists.
    public struct Config: Sendable, Equatable {
        /// `collector.containers.enabled`
        public var enabled: Bool = true
        /// `collector.containers.interval`: how often per-container metrics are refreshed.
        public var interval: Duration = .seconds(15)
        /// `collector.containers.resync_interval`: full `/containers/json?all=1` re-synchronisation.
        public var resyncInterval: Duration = .seconds(300)
        /// `collector.containers.inspect_timeout`
        public var inspectTimeout: Duration = .seconds(2)
        /// `collector.containers.max_inspects_per_round`
        public var maxInspectsPerRound: Int = 100
        /// `collector.containers.max_streak_inspects_per_round`
        public var maxStreakInspectsPerRound: Int = 5
        /// `collector.containers.max_series`
        public var maxSeries: Int = 2000
        /// `collector.containers.include`: regular expression on the container name; empty = all.
        public var include: String = ""
        /// `collector.containers.exclude`: regular expression on the container name; empty = none.
        public var exclude: String = ""
        /// `collector.containers.labels`: comma-separated container label keys copied into series.
        public var labels: String = ""
        /// `collector.containers.max_label_value_length`: longest label value exported, in bytes.
        public var maxLabelValueLength: Int = 256
        /// `collector.containers.history_size`
        public var historySize: Int = 500
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("containers", defaults: Config())

    /// The `collector.containers.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.containers.enabled", \WatchdogConfiguration.collectors[ContainerCollector.config].enabled, .bool,
            flagAliases: ["collector.containers"],
            "Whether container state and health are collected (one /events stream plus periodic lists)."),
        ConfigKey(
            "collector.containers.interval", \WatchdogConfiguration.collectors[ContainerCollector.config].interval, .duration(positive: true),
            "How often per-container metrics are refreshed from what the events stream reported; containers that changed are inspected then."),
        ConfigKey(
            "collector.containers.resync_interval", \WatchdogConfiguration.collectors[ContainerCollector.config].resyncInterval, .duration(positive: true),
            "How often the full container list (/containers/json?all=1, without sizes) re-synchronises the state; also done after every events-stream reconnect."),
        ConfigKey(
            "collector.containers.inspect_timeout", \WatchdogConfiguration.collectors[ContainerCollector.config].inspectTimeout, .duration(positive: true),
            "Deadline of one container inspect: a stuck container's inspect is skipped and counted, never allowed to stall the others."),
        ConfigKey(
            "collector.containers.max_inspects_per_round", \WatchdogConfiguration.collectors[ContainerCollector.config].maxInspectsPerRound, .integer(1...100_000),
            "Most container inspects in one round; the rest wait for the next round, so a burst of events cannot flood the daemon."),
        ConfigKey(
            "collector.containers.max_streak_inspects_per_round", \WatchdogConfiguration.collectors[ContainerCollector.config].maxStreakInspectsPerRound, .integer(0...100_000),
            "Unhealthy containers re-inspected per round for their failing streak, least recently inspected first; a fixed number so steady-state Docker calls per round do not grow with the container count (0: streaks refresh only on events)."
        ),
        ConfigKey(
            "collector.containers.max_series", \WatchdogConfiguration.collectors[ContainerCollector.config].maxSeries, .integer(0...1_000_000),
            "Most containers that get per-container series; beyond it only host-level aggregates are exported and docker_watchdog_container_series_dropped says how many were left out."),
        ConfigKey(
            "collector.containers.include", \WatchdogConfiguration.collectors[ContainerCollector.config].include, .regularExpression,
            "Regular expression on the container name; only matching containers get per-container series (empty: all)."),
        ConfigKey(
            "collector.containers.exclude", \WatchdogConfiguration.collectors[ContainerCollector.config].exclude, .regularExpression,
            "Regular expression on the container name; matching containers get no per-container series (empty: none)."),
        ConfigKey(
            "collector.containers.labels", \WatchdogConfiguration.collectors[ContainerCollector.config].labels, .labelKeyList,
            "Comma-separated container label keys copied into per-container series as label_<key> (non-alphanumerics become _). Nothing else is copied, to keep cardinality bounded."),
        ConfigKey(
            "collector.containers.max_label_value_length",
            \WatchdogConfiguration.collectors[ContainerCollector.config].maxLabelValueLength, .integer(16...65_536),
            "Longest value (in bytes) of a per-container or stack series label (name, image, compose project and service, copied labels); a longer one is cut to this length ending in \"…\" and counted in docker_watchdog_label_values_truncated_total. Prometheus refuses a whole scrape whose label value exceeds its label_value_length_limit, and one container's 1 MB label must not make every scrape megabytes."
        ),
        ConfigKey(
            "collector.containers.history_size", \WatchdogConfiguration.collectors[ContainerCollector.config].historySize, .integer(1...100_000),
            "Health transitions kept in memory for /api/v1/history and the status page."),
    ]
}

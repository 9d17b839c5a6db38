import WatchdogConfig

extension DaemonCollector {
    /// The daemon liveness probe (`/_ping`) and the slower `/info` + `/version` refresh.
    public struct Config: Sendable, Equatable {
        /// `collector.daemon.enabled`
        public var enabled: Bool = true
        /// `collector.daemon.interval`
        public var interval: Duration = .seconds(10)
        /// `collector.daemon.timeout`: may exceed `interval`; the probe is single-flight.
        public var timeout: Duration = .seconds(5)
        /// `collector.daemon.info_interval`
        public var infoInterval: Duration = .seconds(60)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("daemon", defaults: Config())

    /// The `collector.daemon.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.daemon.enabled", \WatchdogConfiguration.collectors[DaemonCollector.config].enabled, .bool,
            flagAliases: ["collector.daemon"],
            "Whether the daemon is probed (/_ping, /info, /version). Off, docker_daemon_up is not exported and daemon restarts have nothing to act on."),
        ConfigKey(
            "collector.daemon.interval", \WatchdogConfiguration.collectors[DaemonCollector.config].interval, .duration(positive: true),
            "How often the daemon is probed with /_ping."),
        ConfigKey(
            "collector.daemon.timeout", \WatchdogConfiguration.collectors[DaemonCollector.config].timeout, .duration(positive: true),
            "Deadline of one /_ping probe. May exceed the interval: probes are single-flight, so an overrunning probe only delays the next one."),
        ConfigKey(
            "collector.daemon.info_interval", \WatchdogConfiguration.collectors[DaemonCollector.config].infoInterval, .duration(positive: true),
            "How often /info and /version are refreshed; they change rarely and /info is slow on busy daemons."),
    ]
}

import WatchdogConfig

extension SystemDFCollector {
    /// `GET /system/df`, which is expensive on hosts with many images/volumes.
    public struct Config: Sendable, Equatable {
        /// `collector.system_df.enabled`
        public var enabled: Bool = true
        /// `collector.system_df.interval`
        public var interval: Duration = .seconds(300)
        /// `collector.system_df.timeout`: replaces `docker.request_timeout` for this call.
        public var timeout: Duration = .seconds(120)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("system_df", defaults: Config())

    /// The `collector.system_df.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.system_df.enabled", \WatchdogConfiguration.collectors[SystemDFCollector.config].enabled, .bool,
            flagAliases: ["collector.system-df"],
            "Whether /system/df is sampled for Docker's usage by category."),
        ConfigKey(
            "collector.system_df.interval", \WatchdogConfiguration.collectors[SystemDFCollector.config].interval, .duration(positive: true),
            "How often /system/df is fetched; it walks every image, container and volume and can take minutes on large hosts."),
        ConfigKey(
            "collector.system_df.timeout", \WatchdogConfiguration.collectors[SystemDFCollector.config].timeout, .duration(positive: true),
            "Deadline of one /system/df call, instead of docker.request_timeout. May exceed the interval: the call is single-flight."),
    ]
}

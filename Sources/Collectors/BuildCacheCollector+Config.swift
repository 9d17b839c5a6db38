import WatchdogConfig

extension BuildCacheCollector {
    /// BuildKit's build cache (records from `/system/df`, through the same single-flight gate);
    /// its calls use `collector.system_df.timeout`.
    public struct Config: Sendable, Equatable {
        /// `collector.build_cache.enabled`
        public var enabled: Bool = true
        /// `collector.build_cache.interval`
        public var interval: Duration = .seconds(300)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("build_cache", defaults: Config())

    /// The `collector.build_cache.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.build_cache.enabled", \WatchdogConfiguration.collectors[BuildCacheCollector.config].enabled, .bool,
            flagAliases: ["collector.build-cache"],
            "Whether BuildKit's build cache is sampled (size per record type, and hit and miss counters measured between samples)."),
        ConfigKey(
            "collector.build_cache.interval", \WatchdogConfiguration.collectors[BuildCacheCollector.config].interval, .duration(positive: true),
            "How often build-cache records are fetched (/system/df?type=build-cache from API 1.42, a full /system/df before; a recent answer of the system_df collector is used instead when there is one). Hits and misses are counted between samples; calls use collector.system_df.timeout."
        ),
    ]
}

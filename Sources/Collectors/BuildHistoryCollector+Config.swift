import WatchdogConfig

extension BuildHistoryCollector {
    /// BuildKit's build history (Docker 23 and later), read through `POST /grpc`.
    public struct Config: Sendable, Equatable {
        /// `collector.build_history.enabled`
        public var enabled: Bool = true
        /// `collector.build_history.interval`
        public var interval: Duration = .seconds(60)
        /// `collector.build_history.timeout`: the whole call (connect, upgrade, every read).
        public var timeout: Duration = .seconds(10)
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("build_history", defaults: Config())

    /// The `collector.build_history.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.build_history.enabled", \WatchdogConfiguration.collectors[BuildHistoryCollector.config].enabled, .bool,
            flagAliases: ["collector.build-history"],
            "Whether BuildKit's build history is read (Docker 23 and later): builds finished by result, cached and executed steps (the exact cache hit rate), build durations. Engines without it (Docker 20.10, Podman) report docker_build_history_available 0."
        ),
        ConfigKey(
            "collector.build_history.interval", \WatchdogConfiguration.collectors[BuildHistoryCollector.config].interval,
            .duration(positive: true),
            "How often the build history is read (one ListenBuildHistory call over POST /grpc; BuildKit keeps at most its last 50 builds by default, so an interval far below the time 50 builds take loses none)."
        ),
        ConfigKey(
            "collector.build_history.timeout", \WatchdogConfiguration.collectors[BuildHistoryCollector.config].timeout,
            .duration(positive: true),
            "Deadline of one build-history call: connect, the upgrade to h2c and every read. A BuildKit that hangs costs this much of the collector's round and nothing else."
        ),
    ]
}

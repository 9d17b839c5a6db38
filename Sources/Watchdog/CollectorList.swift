import Collectors
import Remediation
import Sampling
import WatchdogConfig

/// Every collector the watchdog has, in the order of the metrics reference.
///
/// Adding a collector: its files in `Sources/Collectors` (the collector with its `definition`, its
/// metric families, its `Config` and keys), and one line here (docs/architecture.md).
public enum CollectorList {
    public static let all: [CollectorDefinition] = [
        DaemonCollector.definition,
        DiskCollector.definition,
        SystemDFCollector.definition,
        ProcessCollector.definition,
        ContainerCollector.definition,
        // After the containers collector: it reads the tracker that one makes.
        LogsCollector.definition,
        BuildCacheCollector.definition,
        BuildHistoryCollector.definition,
    ]
}

extension MetricCatalog {
    /// Every metric the watchdog exports: its own bookkeeping, each collector's, remediation's.
    public static let all: [MetricDescriptor] = coreMetrics + CollectorList.all.flatMap(\.metrics) + remediationMetrics

    /// The metrics reference table, generated from ``all``.
    public static func markdownTable() -> String { markdownTable(all) }
}

extension ConfigRegistry {
    /// Every key: the watchdog's own, and each listed collector's `collector.NAME.*` keys (before
    /// the remediation keys, in list order). What the entry point, `--help` and the README use.
    public static let watchdog: ConfigRegistry = ConfigRegistry.core.adding(
        CollectorList.all.flatMap(\.configKeys), before: "remediation.")
}

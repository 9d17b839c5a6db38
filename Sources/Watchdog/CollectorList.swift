import Collectors
import Remediation
import Sampling

/// Every collector the watchdog has, in the order of the metrics reference.
///
/// Adding a collector: its file(s) in `Sources/Collectors` (the collector, its metric families and
/// its `static let definition`), its `collector.NAME.*` keys in `WatchdogConfig`, and one line here.
public enum CollectorList {
    public static let all: [CollectorDefinition] = [
        DaemonCollector.definition,
        DiskCollector.definition,
        SystemDFCollector.definition,
        ProcessCollector.definition,
        ContainerCollector.definition,
        BuildCacheCollector.definition,
    ]
}

extension MetricCatalog {
    /// Every metric the watchdog exports: its own bookkeeping, each collector's, remediation's.
    public static let all: [MetricDescriptor] = coreMetrics + CollectorList.all.flatMap(\.metrics) + remediationMetrics

    /// The metrics reference table, generated from ``all``.
    public static func markdownTable() -> String { markdownTable(all) }
}

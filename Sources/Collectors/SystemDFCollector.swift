import DockerEngine
import Exposition
import FoundationEssentials
import Locking
import Logging
import Sampling

/// Docker's own disk usage per category (images, containers, volumes, build cache) from
/// `/system/df`, as `docker system df` shows it.
///
/// `/system/df` walks every image, container and volume, which takes minutes on big hosts, so it runs
/// on its own slow cadence with its own deadline, one call at a time. A failed round keeps serving the
/// last good figures (their age is in `docker_watchdog_collector_last_success_timestamp_seconds`),
/// since a category breakdown minutes old still guides a human better than a gap.
public final class SystemDFCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public let timeout: Duration
    /// Waiting for the gate (the build_cache collector's call) plus our own call.
    public var maxRoundDuration: Duration { timeout * 2 + .seconds(15) }

    private let client: DockerClient
    private let host: HostStatus
    private let gate: SystemDFGate
    private let last = Mutex<SystemDiskUsage?>(nil)
    /// Negative sizes clamped to 0, by category and field, since the start (each logged once).
    private let clamped = Mutex<[Pair: UInt64]>([:])
    private let logger: Logger?

    struct Pair: Hashable {
        var category: String
        var field: String
    }

    public init(
        client: DockerClient, host: HostStatus, interval: Duration, timeout: Duration, gate: SystemDFGate = SystemDFGate(),
        logger: Logger? = nil
    ) {
        self.logger = logger
        self.client = client
        self.host = host
        self.gate = gate
        self.interval = interval
        self.timeout = timeout
    }

    public func collect() -> CollectionResult {
        var error: String?
        do {
            let rules = DockerClient.diskUsageRules(forServerVersion: host.daemon.serverVersion, engine: host.daemon.engine)
            let usage = clampNegatives(
                try gate.fetchUsage(waitingAtMost: timeout) { () throws(DockerError) -> SystemDiskUsage in
                    try client.systemDiskUsage(kinds: DiskUsageKind.allCases, rules: rules, timeout: timeout)
                })
            last.withLock { $0 = usage }
            host.updateUsage { u in
                u.categories = Self.pairs(usage)
                u.sampledAt = Date()
                u.lastError = nil
            }
        } catch let e {
            error = "\(e)"
            host.updateUsage { $0.lastError = "\(e)" }
        }
        guard let usage = last.withLock({ $0 }) else { return CollectionResult(families: [], error: error) }
        let pairs = Self.pairs(usage)
        func series(_ value: (DiskUsageCategory) -> Double) -> [([Label], Double)] {
            pairs.map { ([Label("category", $0.name)], value($0.usage)) }
        }
        return CollectionResult(
            families: [
                MetricCatalog.usageObjects.family(series { Double($0.totalCount) }),
                MetricCatalog.usageActive.family(series { Double($0.activeCount) }),
                MetricCatalog.usageSize.family(series { Double($0.sizeBytes) }),
                MetricCatalog.usageReclaimable.family(series { Double($0.reclaimableBytes) }),
                MetricCatalog.negativeSizes.family(
                    clamped.withLock { $0 }.sorted { ($0.key.category, $0.key.field) < ($1.key.category, $1.key.field) }
                        .map { ([Label("category", $0.key.category), Label("field", $0.key.field)], Double($0.value)) }),
            ], error: error)
    }

    /// A gauge of bytes is never negative: a negative size from the engine is exported as 0,
    /// counted, and logged the first time for its category and field.
    func clampNegatives(_ usage: SystemDiskUsage) -> SystemDiskUsage {
        var usage = usage
        func fix(_ category: inout DiskUsageCategory?, _ name: String) {
            guard var c = category else { return }
            for (field, path) in [("size", \DiskUsageCategory.sizeBytes), ("reclaimable", \DiskUsageCategory.reclaimableBytes)] {
                let value = c[keyPath: path]
                guard value < 0 else { continue }
                c[keyPath: path] = 0
                let first = clamped.withLock { counts -> Bool in
                    counts[Pair(category: name, field: field), default: 0] += 1
                    return counts[Pair(category: name, field: field)] == 1
                }
                if first {
                    logger?.warning(
                        "negative size from /system/df exported as 0",
                        metadata: ["category": "\(name)", "field": "\(field)", "value": "\(value)"])
                }
            }
            category = c
        }
        fix(&usage.images, "images")
        fix(&usage.containers, "containers")
        fix(&usage.volumes, "volumes")
        fix(&usage.buildCache, "build_cache")
        return usage
    }

    static func pairs(_ usage: SystemDiskUsage) -> [(name: String, usage: DiskUsageCategory)] {
        var result: [(name: String, usage: DiskUsageCategory)] = []
        if let c = usage.images { result.append(("images", c)) }
        if let c = usage.containers { result.append(("containers", c)) }
        if let c = usage.volumes { result.append(("volumes", c)) }
        if let c = usage.buildCache { result.append(("build_cache", c)) }
        return result
    }
}

extension SystemDFCollector {
    /// `collector.system_df.*`: Docker's own usage by category.
    public static let definition = CollectorDefinition(
        name: "system_df", metrics: MetricCatalog.systemDFMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[SystemDFCollector.config].enabled },
        make: { context in
            let c = context.configuration.collectors[SystemDFCollector.config]
            return SystemDFCollector(
                client: context.makeClient(), host: context.host, interval: c.interval, timeout: c.timeout,
                gate: context.shared { SystemDFGate() }, logger: context.logger)
        })
}

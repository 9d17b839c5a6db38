import DockerEngine
import Exposition
import FoundationEssentials
import Logging
import Locking
import Sampling

/// BuildKit's build cache: its size and shape per record type, and hit and miss counters measured
/// from successive samples of its records (see ``BuildCacheAnalyzer`` for what is counted).
///
/// The records come from `/system/df` (`?type=build-cache` from API 1.42; Debian's 20.10 engine,
/// API 1.41, always answers everything), through the ``SystemDFGate`` it shares with the
/// `system_df` collector, so the two never call at once. When the `system_df` collector has just
/// fetched a complete answer, that one is used instead of a second call: on API 1.41, where every
/// call walks all images, containers and volumes, any answer newer than the last one used and at
/// most one interval old is taken; on 1.42+, where the build-cache-only call is cheap, only one that
/// finished within the last `min(interval/2, 30s)`.
///
/// A failed round keeps serving the last good figures; the counters never go back.
public final class BuildCacheCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public let timeout: Duration
    /// Waiting for the gate (another collector's call) plus our own call.
    public var maxRoundDuration: Duration { timeout * 2 + .seconds(15) }

    private struct State {
        var analyzer = BuildCacheAnalyzer()
        /// Serial of the last answer taken, so none is taken twice.
        var lastSerial: UInt64 = 0
        var families: [MetricFamily] = []
    }

    private let client: DockerClient
    private let gate: SystemDFGate
    private let logger: Logger
    private let state = Mutex(State())

    public init(client: DockerClient, gate: SystemDFGate, interval: Duration, timeout: Duration, logger: Logger) {
        self.client = client
        self.gate = gate
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    public func collect() -> CollectionResult {
        let lastSerial = state.withLock { $0.lastSerial }
        let answer: SystemDFGate.Answer
        var reused = false
        do {
            // Before 1.42 the daemon ignores ?type= and every call is a full walk.
            let fullWalk = try client.negotiatedVersion() < APIVersion(major: 1, minor: 42)
            let maxAge: Duration = fullWalk ? interval : min(interval / 2, .seconds(30))
            let client = self.client
            let timeout = self.timeout
            answer = try gate.fetch(
                waitingAtMost: timeout,
                reuse: { previous in
                    reused =
                        previous.usage.buildCache != nil && previous.serial > lastSerial
                        && ContinuousClock.now - previous.finishedAt <= maxAge
                    return reused
                }
            ) { () throws(DockerError) -> SystemDiskUsage in
                try client.systemDiskUsage(kinds: [.buildCache], timeout: timeout)
            }
        } catch {
            return CollectionResult(families: state.withLock { $0.families }, error: "\(error)")
        }

        let records = answer.usage.buildCacheRecords
        let summary = BuildCacheSummary(records)
        let (delta, families) = state.withLock { s -> (BuildCacheAnalyzer.Delta, [MetricFamily]) in
            let delta = s.analyzer.observe(records, sampledAt: answer.startedAt)
            s.lastSerial = answer.serial
            s.families = Self.families(summary: summary, counters: s.analyzer.countersForExport())
            return (delta, s.families)
        }
        if delta.totalHits + delta.totalMisses > 0 || delta.pruned > 0 || !delta.uncounted.isEmpty {
            logger.debug(
                "build cache sample",
                metadata: [
                    "records": "\(records.count)", "hits": "\(delta.totalHits)", "misses": "\(delta.totalMisses)",
                    "pruned": "\(delta.pruned)", "pending": "\(delta.pending)",
                    "uncounted": "\(delta.uncounted.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ","))",
                    "reused_answer": "\(reused)",
                ])
        }
        return CollectionResult(families: families)
    }

    static func families(summary: BuildCacheSummary, counters: BuildCacheAnalyzer.Counters?) -> [MetricFamily] {
        let rows = summary.sorted
        func perType(_ value: (BuildCacheSummary.Row) -> Double?) -> [([Label], Double)] {
            rows.compactMap { type, row in value(row).map { ([Label("record_type", type)], $0) } }
        }
        var result: [MetricFamily] = [
            MetricCatalog.buildCacheRecords.family(perType { Double($0.records) }),
            MetricCatalog.buildCacheInUse.family(perType { Double($0.inUse) }),
            MetricCatalog.buildCacheShared.family(perType { Double($0.shared) }),
            MetricCatalog.buildCacheSize.family(perType { Double($0.sizeBytes) }),
            MetricCatalog.buildCacheSharedSize.family(perType { Double($0.sharedSizeBytes) }),
            MetricCatalog.buildCacheReclaimable.family(perType { Double($0.reclaimableBytes) }),
            MetricCatalog.buildCacheLeastRecentUse.family(perType { $0.leastRecentUse?.timeIntervalSince1970 }),
            MetricCatalog.buildCacheMostRecentUse.family(perType { $0.mostRecentUse?.timeIntervalSince1970 }),
            MetricCatalog.buildCacheHitRateAvailable.family(value: counters == nil ? 0 : 1),
        ]
        if let counters {
            func byKey(_ values: [BuildCacheAnalyzer.Key: UInt64]) -> [([Label], Double)] {
                values.sorted { $0.key < $1.key }.map {
                    ([Label("record_type", $0.key.recordType), Label("origin", $0.key.origin.rawValue)], Double($0.value))
                }
            }
            result.append(MetricCatalog.buildCacheHits.family(byKey(counters.hits)))
            result.append(MetricCatalog.buildCacheMisses.family(byKey(counters.misses)))
            result.append(
                MetricCatalog.buildCacheUncounted.family(
                    counters.uncounted.sorted { $0.key < $1.key }.map { ([Label("reason", $0.key.rawValue)], Double($0.value)) }))
        }
        return result
    }
}

extension BuildCacheCollector {
    /// `collector.build_cache.*`: BuildKit's build-cache records, hits and misses between samples.
    public static let definition = CollectorDefinition(
        name: "build_cache", metrics: MetricCatalog.buildCacheMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[BuildCacheCollector.config].enabled },
        make: { context in
            let c = context.configuration.collectors
            return BuildCacheCollector(
                client: context.makeClient(), gate: context.shared { SystemDFGate() },
                interval: c[BuildCacheCollector.config].interval, timeout: c[SystemDFCollector.config].timeout,
                logger: context.logger)
        })
}

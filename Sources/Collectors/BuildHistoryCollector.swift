import DockerEngine
import Exposition
import FoundationEssentials
import Locking
import Logging
import Sampling

/// Builds from BuildKit's build history: how many finished by result, their cached and executed
/// steps (the exact cache hit rate), their durations, and when the last one finished.
///
/// Docker 23 and later keep a record of every build (what `docker buildx history ls` lists), read
/// with ``DockerClient/buildHistory(timeout:maxRecords:maxMessageBytes:)``. The classic and the
/// containerd image store keep separate histories; the engine answers from the one it runs with.
/// Counters count builds that finished since the watchdog started (see ``BuildHistoryTally``).
///
/// Engines without the history (Docker 20.10's BuildKit lacks the method; Podman builds with
/// buildah and has no `/grpc`) report `docker_build_history_available 0` and method `usage_count`;
/// the collector logs that once and asks again only every ``unavailableRetry``.
public final class BuildHistoryCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public let timeout: Duration
    public var maxRoundDuration: Duration { timeout + .seconds(5) }

    /// How long an engine without the history is left alone before it is asked again (it may have
    /// been upgraded meanwhile).
    public static let unavailableRetry: Duration = .seconds(1800)
    /// At most this many records are read per call (BuildKit keeps 50 by default).
    public static let maxRecords = 5000

    private struct State {
        var tally: BuildHistoryTally
        var families: [MetricFamily] = []
        /// Set while the engine has no history: the reason, and when to ask again.
        var unavailable: (reason: String, retryAt: ContinuousClock.Instant)?
    }

    private let client: DockerClient
    private let logger: Logger
    private let state: Mutex<State>

    /// - Parameter startedAt: builds that finished before this (Unix seconds) are not counted.
    public init(client: DockerClient, interval: Duration, timeout: Duration, logger: Logger, startedAt: Double? = nil) {
        self.client = client
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
        let start = startedAt ?? Date().timeIntervalSince1970
        self.state = Mutex(State(tally: BuildHistoryTally(countFrom: start)))
    }

    public func collect() -> CollectionResult {
        if let waiting = state.withLock({ $0.unavailable }), ContinuousClock.now < waiting.retryAt {
            return CollectionResult(families: state.withLock { $0.families })
        }
        let answer: BuildHistoryAnswer
        do {
            answer = try client.buildHistory(timeout: timeout, maxRecords: Self.maxRecords)
        } catch {
            return CollectionResult(families: state.withLock { $0.families }, error: "\(error)")
        }
        switch answer {
        case .unavailable(let reason):
            let first = state.withLock { s -> Bool in
                let first = s.unavailable == nil
                s.unavailable = (reason, .now + Self.unavailableRetry)
                s.families = Self.unavailableFamilies()
                return first
            }
            if first {
                logger.info(
                    "build history unavailable; build metrics come from the build_cache collector's UsageCount counting",
                    metadata: ["reason": "\(reason)"])
            }
            return CollectionResult(families: state.withLock { $0.families })
        case .records(let records, let truncated):
            let (delta, families) = state.withLock { s -> (BuildHistoryTally.Delta, [MetricFamily]) in
                s.unavailable = nil
                let delta = s.tally.observe(records, complete: !truncated)
                s.families = Self.families(s.tally, records: records.count)
                return (delta, s.families)
            }
            if delta.counted > 0 {
                logger.debug("build history sample", metadata: ["records": "\(records.count)", "new_builds": "\(delta.counted)"])
            }
            return CollectionResult(families: families)
        }
    }

    static func unavailableFamilies() -> [MetricFamily] {
        [
            MetricCatalog.buildHistoryAvailable.family(value: 0),
            MetricCatalog.buildHitRateMethod.family([([Label("method", "usage_count")], 1)]),
        ]
    }

    static func families(_ tally: BuildHistoryTally, records: Int) -> [MetricFamily] {
        var result: [MetricFamily] = [
            MetricCatalog.buildHistoryAvailable.family(value: 1),
            MetricCatalog.buildHitRateMethod.family([([Label("method", "build_history")], 1)]),
            MetricCatalog.buildHistoryRecords.family(value: Double(records)),
            MetricCatalog.buildsFinished.family(
                BuildResult.allCases.map { ([Label("result", $0.rawValue)], Double(tally.builds[$0, default: 0])) }),
            MetricCatalog.buildSteps.family([
                ([Label("result", "cached")], Double(tally.cachedSteps)),
                ([Label("result", "executed")], Double(tally.executedSteps)),
            ]),
            MetricCatalog.buildDuration.histogram([([], tally.durations)]),
        ]
        if let last = tally.lastCompleted { result.append(MetricCatalog.buildLastCompleted.family(value: last)) }
        return result
    }
}

/// Counts each finished build once, from successive reads of the build history.
///
/// The history is a window (BuildKit drops old records), so a build is recognised by its ref: the
/// refs of the last read are remembered, and a record whose ref is new is counted, provided it
/// finished at or after `countFrom` (the watchdog's start), so the builds already in the history
/// when the watchdog starts are not counted again after every restart. The remembered set is the
/// last read's refs (refs that left the history are forgotten), so it is as large as the history.
public struct BuildHistoryTally: Sendable {
    public struct Delta: Sendable, Equatable {
        /// Builds counted by this read.
        public var counted = 0
        /// New records not counted because they finished before `countFrom`.
        public var baseline = 0

        public init(counted: Int = 0, baseline: Int = 0) {
            self.counted = counted
            self.baseline = baseline
        }
    }

    /// Upper bounds of the duration histogram, in seconds: a cached rebuild takes under a second,
    /// a large image tens of minutes.
    public static let durationBounds: [Double] = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600]

    public let countFrom: Double
    public private(set) var builds: [BuildResult: UInt64] = [:]
    public private(set) var cachedSteps: UInt64 = 0
    public private(set) var executedSteps: UInt64 = 0
    public private(set) var durations = Histogram(upperBounds: BuildHistoryTally.durationBounds)
    /// The newest completion time in the last read (counted or not).
    public private(set) var lastCompleted: Double?
    private var seen: Set<String> = []

    public init(countFrom: Double) { self.countFrom = countFrom }

    /// Takes one read of the history. `complete` false (the read was cut at a record limit):
    /// refs not in it are kept, so they are not counted again when they reappear.
    public mutating func observe(_ records: [BuildRecord], complete: Bool = true) -> Delta {
        var delta = Delta()
        var current = Set<String>()
        current.reserveCapacity(records.count)
        lastCompleted = nil
        for record in records {
            current.insert(record.ref)
            if let end = record.completedAt { lastCompleted = max(lastCompleted ?? end, end) }
            guard !seen.contains(record.ref) else { continue }
            guard let end = record.completedAt, end >= countFrom else {
                delta.baseline += 1
                continue
            }
            builds[record.result, default: 0] += 1
            cachedSteps += UInt64(max(0, record.cachedSteps))
            executedSteps += UInt64(record.executedSteps)
            if let duration = record.duration { durations.observe(duration) }
            delta.counted += 1
        }
        if complete || seen.count > 4 * BuildHistoryCollector.maxRecords {
            seen = current
        } else {
            seen.formUnion(current)
        }
        return delta
    }
}

extension BuildHistoryCollector {
    /// `collector.build_history.*`: BuildKit's build history over the Engine API's `/grpc`.
    public static let definition = CollectorDefinition(
        name: "build_history", metrics: MetricCatalog.buildHistoryMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[BuildHistoryCollector.config].enabled },
        make: { context in
            let c = context.configuration.collectors[BuildHistoryCollector.config]
            return BuildHistoryCollector(client: context.makeClient(), interval: c.interval, timeout: c.timeout, logger: context.logger)
        })
}

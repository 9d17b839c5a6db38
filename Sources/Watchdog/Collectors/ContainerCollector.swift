import DockerEngine
import Exposition
import Foundation
import Logging
import Locking

/// Per-container state and health, host-level counts, compose stacks, and the event counters.
///
/// It never polls every container: the events stream (see `EventStreamer`) says what changed, and
/// a round inspects only those containers (plus unhealthy ones, whose failing streak moves with every
/// probe), each with its own short deadline so a stuck container cannot stall the rest. A periodic
/// full list re-synchronises. In steady state the Docker calls per round do not grow with the number
/// of containers.
public final class ContainerCollector: Collector {
    public struct Settings: Sendable {
        public var interval: Duration
        public var resyncInterval: Duration
        public var inspectTimeout: Duration
        public var maxInspectsPerRound: Int
        /// Unhealthy containers re-inspected per round for their failing streak (round-robin).
        public var maxStreakInspectsPerRound: Int
        public var maxSeries: Int
        public var include: String
        public var exclude: String
        /// Container label keys copied into series as `label_<key>`.
        public var labelKeys: [String]

        public init(
            interval: Duration, resyncInterval: Duration, inspectTimeout: Duration, maxInspectsPerRound: Int,
            maxStreakInspectsPerRound: Int = 5, maxSeries: Int, include: String = "", exclude: String = "",
            labelKeys: [String] = []
        ) {
            self.maxStreakInspectsPerRound = maxStreakInspectsPerRound
            self.interval = interval
            self.resyncInterval = resyncInterval
            self.inspectTimeout = inspectTimeout
            self.maxInspectsPerRound = maxInspectsPerRound
            self.maxSeries = maxSeries
            self.include = include
            self.exclude = exclude
            self.labelKeys = labelKeys
        }
    }

    public let name = "containers"
    public var interval: Duration { settings.interval }
    public var maxRoundDuration: Duration { settings.inspectTimeout * settings.maxInspectsPerRound + .seconds(15) }

    /// The encodings of the two enumerated per-container gauges, documented in their help texts.
    public static let stateCodes = ["created": 0, "running": 1, "paused": 2, "restarting": 3, "removing": 4, "exited": 5, "dead": 6]
    public static let healthCodes = ["none": 0, "starting": 1, "healthy": 2, "unhealthy": 3]

    private let settings: Settings
    private let client: DockerClient
    private let tracker: ContainerTracker
    private let streamer: EventStreamer?
    private let include: NSRegularExpression?
    private let exclude: NSRegularExpression?
    private let lastResync = Mutex<ContinuousClock.Instant?>(nil)
    private let inspectFailures = Mutex<[String: UInt64]>([:])
    /// The previous list's entries, so a resync decodes only entries whose bytes changed.
    private let listCache = Mutex(ContainerListCache())
    /// The per-container and per-stack families of the last round and the tracker version they
    /// show: a round in which no container changed reuses them instead of rebuilding thousands of
    /// series.
    private let containerFamilies = Mutex<(version: UInt64, families: [MetricFamily], dropped: Int)?>(nil)

    public init(client: DockerClient, tracker: ContainerTracker, streamer: EventStreamer?, settings: Settings) {
        self.client = client
        self.tracker = tracker
        self.streamer = streamer
        self.settings = settings
        self.include = settings.include.isEmpty ? nil : try? NSRegularExpression(pattern: settings.include)
        self.exclude = settings.exclude.isEmpty ? nil : try? NSRegularExpression(pattern: settings.exclude)
    }

    public func collect() -> CollectionResult {
        var error: String?
        let due = lastResync.withLock { last in last.map { ContinuousClock.now - $0 >= settings.resyncInterval } ?? true }
        if due {
            do {
                let list = try listCache.withLock { cache throws(DockerError) in try client.listContainers(reusing: &cache) }
                tracker.applyList(list)
                lastResync.withLock { $0 = .now }
            } catch let e {
                error = "list: \(e)"
            }
        }
        for id in tracker.idsToInspect(limit: settings.maxInspectsPerRound, streakLimit: settings.maxStreakInspectsPerRound) {
            do {
                tracker.applyInspect(try client.inspectContainer(id, timeout: settings.inspectTimeout))
            } catch let e {
                if case .http(404, _, _) = e {
                    tracker.remove(id: id)
                    continue
                }
                inspectFailures.withLock { $0[e.kind, default: 0] += 1 }
            }
        }
        return CollectionResult(families: families(), error: error)
    }

    // MARK: - Families

    func selected(_ containers: [TrackedContainer]) -> (kept: [TrackedContainer], dropped: Int) {
        let matching = containers.filter { c in
            let range = NSRange(c.name.startIndex..., in: c.name)
            if let include, include.firstMatch(in: c.name, range: range) == nil { return false }
            if let exclude, exclude.firstMatch(in: c.name, range: range) != nil { return false }
            return true
        }.sorted { $0.name < $1.name }
        let kept = Array(matching.prefix(settings.maxSeries))
        return (kept, containers.count - kept.count)
    }

    static func labelName(forKey key: String) -> String {
        "label_" + String(key.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    func labels(for c: TrackedContainer) -> [Label] {
        var labels = [Label("name", c.name), Label("image", c.image)]
        if let project = c.project { labels.append(Label("compose_project", project)) }
        if let service = c.service { labels.append(Label("compose_service", service)) }
        for key in settings.labelKeys {
            if let value = c.labels[key] { labels.append(Label(Self.labelName(forKey: key), value)) }
        }
        return labels
    }

    func families() -> [MetricFamily] {
        let (version, all) = tracker.versionedContainers
        let counters = tracker.counters
        var families: [MetricFamily]
        let dropped: Int
        if let cached = containerFamilies.withLock({ $0 }), cached.version == version {
            (families, dropped) = (cached.families, cached.dropped)
        } else {
            (families, dropped) = containerFamilies(all)
            containerFamilies.withLock { [families] in $0 = (version, families, dropped) }
        }
        appendCounterFamilies(to: &families, counters: counters, dropped: dropped)
        return families
    }

    /// Families that follow from the containers alone: per container, host-level counts, stacks.
    private func containerFamilies(_ all: [TrackedContainer]) -> (families: [MetricFamily], dropped: Int) {
        let (kept, dropped) = selected(all)
        var families: [MetricFamily] = []

        // Per container.
        var state: [([Label], Double)] = [], health: [([Label], Double)] = [], streak: [([Label], Double)] = []
        var restarts: [([Label], Double)] = [], oom: [([Label], Double)] = [], exit: [([Label], Double)] = []
        var started: [([Label], Double)] = []
        for c in kept {
            let l = labels(for: c)
            state.append((l, Double(Self.stateCodes[c.state] ?? -1)))
            health.append((l, Double(Self.healthCodes[c.health] ?? 0)))
            streak.append((l, Double(c.failingStreak)))
            restarts.append((l, Double(c.restartCount)))
            oom.append((l, c.oomKilled ? 1 : 0))
            if let code = c.exitCode { exit.append((l, Double(code))) }
            if let at = c.startedAt, at.timeIntervalSince1970 > 0 { started.append((l, at.timeIntervalSince1970)) }
        }
        families += [
            MetricCatalog.containerState.family(state), MetricCatalog.containerHealth.family(health),
            MetricCatalog.containerFailingStreak.family(streak), MetricCatalog.containerRestartCount.family(restarts),
            MetricCatalog.containerOOMKilled.family(oom), MetricCatalog.containerExitCode.family(exit),
            MetricCatalog.containerStartTime.family(started),
        ]

        // Host-level counts: every container, whatever the series limit.
        var byState = Dictionary(uniqueKeysWithValues: Self.stateCodes.keys.map { ($0, 0.0) })
        var byHealth = Dictionary(uniqueKeysWithValues: Self.healthCodes.keys.map { ($0, 0.0) })
        for c in all {
            byState[c.state, default: 0] += 1
            byHealth[c.health, default: 0] += 1
        }
        families.append(MetricCatalog.containersByState.family(byState.sorted { $0.key < $1.key }.map { ([Label("state", $0.key)], $0.value) }))
        families.append(MetricCatalog.containersByHealth.family(byHealth.sorted { $0.key < $1.key }.map { ([Label("health", $0.key)], $0.value) }))

        // Compose stacks.
        var stacks: [String: [TrackedContainer]] = [:]
        for c in all { if let p = c.project { stacks[p, default: []].append(c) } }
        var sContainers: [([Label], Double)] = [], sServices: [([Label], Double)] = []
        var sHealthy: [([Label], Double)] = [], sOK: [([Label], Double)] = []
        for (project, members) in stacks.sorted(by: { $0.key < $1.key }) {
            let l = [Label("compose_project", project)]
            sContainers.append((l, Double(members.count)))
            sServices.append((l, Double(Set(members.compactMap(\.service)).count)))
            sHealthy.append((l, Double(members.filter { $0.health == "healthy" }.count)))
            sOK.append((l, Self.stackIsHealthy(members) ? 1 : 0))
        }
        families += [
            MetricCatalog.stackContainers.family(sContainers), MetricCatalog.stackServices.family(sServices),
            MetricCatalog.stackHealthyContainers.family(sHealthy), MetricCatalog.stackHealthy.family(sOK),
        ]
        return (families, dropped)
    }

    /// Families that move without any container changing: event counters and bookkeeping.
    private func appendCounterFamilies(to families: inout [MetricFamily], counters: ContainerTracker.Counters, dropped: Int) {

        // Counters from the events stream.
        families.append(MetricCatalog.healthTransitions.family(
            ["healthy", "unhealthy", "starting"].map { ([Label("status", $0)], Double(counters.healthTransitions[$0] ?? 0)) }))
        families.append(MetricCatalog.oomKills.family(value: Double(counters.oomKills)))
        families.append(MetricCatalog.deaths.family(
            ["success", "error", "not_executable", "sigkill", "sigterm", "signal", "unknown"].map {
                ([Label("exit_class", $0)], Double(counters.deaths[$0] ?? 0))
            }))
        families.append(MetricCatalog.restarts.family(value: Double(counters.restarts)))

        // The collector's own bookkeeping.
        families.append(MetricCatalog.seriesDropped.family(value: Double(dropped)))
        families.append(MetricCatalog.eventsReceived.family(value: Double(counters.eventsReceived)))
        families.append(MetricCatalog.resyncs.family(value: Double(counters.resyncs)))
        let failures = inspectFailures.withLock { $0 }
        families.append(MetricCatalog.inspectFailures.family(failures.sorted { $0.key < $1.key }.map { ([Label("kind", $0.key)], Double($0.value)) }))
        if let status = streamer?.currentStatus {
            families.append(MetricCatalog.eventsStreamUp.family(value: status.connected ? 1 : 0))
            families.append(MetricCatalog.eventsReconnects.family(value: Double(status.reconnects)))
        }
    }

    /// The rule from the field report (`stack auto deploy`): healthy when every container runs and
    /// every container with a health check is healthy.
    public static func stackIsHealthy(_ members: [TrackedContainer]) -> Bool {
        members.allSatisfy { $0.state == "running" && ($0.health == "none" || $0.health == "healthy") }
    }
}

import DockerEngine
import Exposition
import FoundationEssentials
import Logging
import Locking
import WatchdogConfig
import Containers
import Sampling

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
        /// Longest label value in bytes; longer ones are cut (``cappedLabelValue(_:)``).
        public var maxLabelValueLength: Int

        public init(
            interval: Duration, resyncInterval: Duration, inspectTimeout: Duration, maxInspectsPerRound: Int,
            maxStreakInspectsPerRound: Int = 5, maxSeries: Int, include: String = "", exclude: String = "",
            labelKeys: [String] = [], maxLabelValueLength: Int = 256
        ) {
            self.maxLabelValueLength = maxLabelValueLength
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

    public var name: String { Self.definition.name }
    public var interval: Duration { settings.interval }
    public var maxRoundDuration: Duration { settings.inspectTimeout * settings.maxInspectsPerRound + .seconds(15) }

    /// The encodings of the two enumerated per-container gauges, documented in their help texts.
    public static let stateCodes = ["created": 0, "running": 1, "paused": 2, "restarting": 3, "removing": 4, "exited": 5, "dead": 6]
    public static let healthCodes = ["none": 0, "starting": 1, "healthy": 2, "unhealthy": 3]

    private let settings: Settings
    private let client: DockerClient
    private let tracker: ContainerTracker
    private let streamer: EventStreamer?
    private let include: NamePattern?
    private let exclude: NamePattern?
    private let lastResync = Mutex<ContinuousClock.Instant?>(nil)
    private let inspectFailures = Mutex<[String: UInt64]>([:])
    /// The previous list's entries, so a resync decodes only entries whose bytes changed.
    private let listCache: Mutex<ContainerListCache>
    /// The per-container and per-stack families of the last round and the tracker version they
    /// show: a round in which no container changed reuses them instead of rebuilding thousands of
    /// series.
    private let containerFamilies = Mutex<(version: UInt64, families: [MetricFamily], dropped: Int)?>(nil)
    /// Each container's series values and labels by the ``TrackedContainer/revision`` they were
    /// made from, and the order of the selected ones: when one container changes, the families
    /// are rebuilt from these rows and only that container's row is made again. Reused label
    /// arrays also let the renderer tell unchanged series apart by identity.
    private let rows = Mutex(RowCache())

    /// When each (container, kind) inspect failure was last logged: at most one line per interval.
    /// Label values cut to `settings.maxLabelValueLength` since the start.
    private let truncatedLabelValues = Mutex<UInt64>(0)
    private let inspectFailureLogged = Mutex<[String: ContinuousClock.Instant]>([:])
    private let logger: Logger?

    public init(client: DockerClient, tracker: ContainerTracker, streamer: EventStreamer?, settings: Settings, logger: Logger? = nil) {
        self.logger = logger
        self.client = client
        self.tracker = tracker
        self.streamer = streamer
        self.settings = settings
        // The last list's bytes are kept only when the next list is at most half a minute away
        // (the default resync is 5 minutes: 1.4 MiB held at 1,000 containers for one compare).
        self.listCache = Mutex(
            ContainerListCache(
                labelKeys: tracker.labelKeys, keepsAnswerBytes: settings.resyncInterval <= Self.keepListBytesUpTo))
        self.include = NamePattern(settings.include)
        self.exclude = NamePattern(settings.exclude)
    }

    /// Logs a failed inspect with what broke (for an undecodable answer, the field and why), at
    /// most once per container and kind per interval: a container whose inspect never decodes
    /// must not write a line every round.
    func logInspectFailure(id: String, error: DockerError, now: ContinuousClock.Instant = .now) {
        guard let logger else { return }
        let key = "\(id) \(error.kind)"
        let due = inspectFailureLogged.withLock { logged -> Bool in
            if let last = logged[key], now - last < settings.interval { return false }
            if logged.count > 10_000 { logged.removeAll() }  // bounded whatever the host does
            logged[key] = now
            return true
        }
        guard due else { return }
        let name = tracker.containers.first { $0.id == id }?.name ?? String(id.prefix(12))
        logger.warning(
            "container inspect failed",
            metadata: ["container": "\(name)", "container.id": "\(id.prefix(12))", "kind": "\(error.kind)", "error": "\(error)"])
    }

    /// The longest resync interval at which the last list's bytes are kept (``ContainerListCache/keepsAnswerBytes``).
    static let keepListBytesUpTo = Duration.seconds(30)

    public func collect() -> CollectionResult {
        var error: String?
        // While the events stream is down nothing tells the tracker of changes: every round lists.
        let streamDown = streamer.map { !$0.currentStatus.connected } ?? false
        let due = streamDown || lastResync.withLock { last in last.map { ContinuousClock.now - $0 >= settings.resyncInterval } ?? true }
        if due {
            do {
                let (list, delta) = try listCache.withLock { cache throws(DockerError) in
                    (try client.listContainers(reusing: &cache), cache.lastDelta)
                }
                tracker.applyList(list, delta: delta)
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
                logInspectFailure(id: id, error: e)
            }
        }
        return CollectionResult(families: families(), error: error)
    }

    // MARK: - Families

    /// One container as its series show it.
    /// A class, not a struct: the row cache hands a thousand of them to every rebuild of a
    /// family, and copying a reference is one retain where a struct copy was one per field.
    final class Row {
        let id: String
        let name: String
        let labels: [Label]
        let selected: Bool
        let state: String
        let health: String
        let stateCode: Double
        let healthCode: Double
        let project: String?
        let service: String?
        let streak: Double
        let restarts: Double
        let oomKilled: Double
        let exitCode: Double?
        let startedAt: Double?

        init(
            id: String, name: String, labels: [Label], selected: Bool, state: String, health: String, stateCode: Double,
            healthCode: Double, project: String?, service: String?, streak: Double, restarts: Double, oomKilled: Double,
            exitCode: Double?, startedAt: Double?
        ) {
            self.id = id
            self.name = name
            self.labels = labels
            self.selected = selected
            self.state = state
            self.health = health
            self.stateCode = stateCode
            self.healthCode = healthCode
            self.project = project
            self.service = service
            self.streak = streak
            self.restarts = restarts
            self.oomKilled = oomKilled
            self.exitCode = exitCode
            self.startedAt = startedAt
        }
    }

    /// The seven per-container families, one column of the rows each.
    enum Column: Int, CaseIterable {
        case state, health, streak, restarts, oomKilled, exitCode, startedAt

        var descriptor: MetricDescriptor {
            switch self {
            case .state: MetricCatalog.containerState
            case .health: MetricCatalog.containerHealth
            case .streak: MetricCatalog.containerFailingStreak
            case .restarts: MetricCatalog.containerRestartCount
            case .oomKilled: MetricCatalog.containerOOMKilled
            case .exitCode: MetricCatalog.containerExitCode
            case .startedAt: MetricCatalog.containerStartTime
            }
        }

        /// The value of this column for `row`; nil leaves the container out of the family.
        func value(_ row: Row) -> Double? {
            switch self {
            case .state: row.stateCode
            case .health: row.healthCode
            case .streak: row.streak
            case .restarts: row.restarts
            case .oomKilled: row.oomKilled
            case .exitCode: row.exitCode
            case .startedAt: row.startedAt
            }
        }
    }

    /// Containers by state and health, and per compose project, kept up to date as rows come,
    /// go and change (a recount walked every container whenever one changed state).
    struct Tally {
        struct Stack {
            var containers = 0, healthy = 0, notOK = 0
            var services: [String: Int] = [:]
        }
        var byState: [String: Int] = [:]
        var byHealth: [String: Int] = [:]
        var stacks: [String: Stack] = [:]

        /// Adds (`sign` 1) or takes away (-1) one row.
        mutating func count(_ row: Row, _ sign: Int) {
            Self.add(sign, to: &byState, row.state)
            Self.add(sign, to: &byHealth, row.health)
            guard let project = row.project else { return }
            var stack = stacks[project] ?? Stack()
            stack.containers += sign
            if row.health == "healthy" { stack.healthy += sign }
            if !ContainerCollector.isHealthyStackMember(state: row.state, health: row.health) { stack.notOK += sign }
            if let service = row.service { Self.add(sign, to: &stack.services, service) }
            stacks[project] = stack.containers == 0 ? nil : stack
        }

        private static func add(_ sign: Int, to counts: inout [String: Int], _ key: String) {
            let n = (counts[key] ?? 0) + sign
            counts[key] = n == 0 ? nil : n
        }

        static func affected(_ a: Row, _ b: Row) -> Bool {
            a.state != b.state || a.health != b.health || a.project != b.project || a.service != b.service
        }
    }

    struct RowCache {
        /// Rows per chunk of a per-container family when the chunks are laid out. A container
        /// coming, going or changing rebuilds the chunks it is in, not the whole family: with a
        /// thousand containers, most of a changing host's round went to rebuilding seven
        /// thousand series (reference counting: every series holds its container's label array).
        static let chunkRows = 64

        var rows: [String: Row] = [:]
        /// The selected rows in series order (by name, then ID), nil when it must be worked out
        /// again. Rows, not IDs: a rebuild of a family walks them without a lookup per series.
        var order: [Row]?
        /// How many rows of `order`, from its start, each chunk holds; nil when the chunks must be
        /// laid out again and all of them built. They cover the exported rows: all of `order`
        /// unless the series limit cuts it, and then any change lays them out again.
        var chunkSizes: [Int]?
        /// The series limit the chunks were laid out for.
        var chunkLimit = Int.max
        /// The per-container families by column, then chunk (each a family of the same name: the
        /// renderer joins them), nil where a row of that chunk changed in that column.
        var chunks: [[MetricFamily?]] = Array(repeating: [], count: Column.allCases.count)
        /// The host-level and stack families, nil when a change of state, health, compose
        /// labels or membership means they must be made again (a streak or restart count
        /// moving does not); made from `tally`, which follows every change.
        var aggregates: [MetricFamily]?
        var tally = Tally()

        /// Everything derived from the rows must be made again.
        mutating func invalidateAll() {
            order = nil
            aggregates = nil
            dropColumns()
        }

        /// Every per-container family must be laid out and made again.
        mutating func dropColumns() {
            chunkSizes = nil
        }

        /// Where `(name, id)` goes in `order` (sorted by name, then ID; the names of the IDs in
        /// it are those of their rows).
        func orderPosition(_ id: String, name: String) -> Int {
            guard let order else { return 0 }
            var low = 0, high = order.count
            while low < high {
                let mid = (low + high) / 2
                if (order[mid].name, order[mid].id) < (name, id) { low = mid + 1 } else { high = mid }
            }
            return low
        }

        /// The chunk that holds position `position` of the order; with `end`, the position just
        /// after the last row counts too (an insertion there grows the last chunk).
        func chunk(holding position: Int, sizes: [Int], end: Bool = false) -> Int? {
            var start = 0
            for (k, size) in sizes.enumerated() {
                if position < start + size || (end && k == sizes.count - 1 && position == start + size) { return k }
                start += size
            }
            return nil
        }

        /// Whether the chunks cover exactly the `rows` first rows of the order with nothing cut.
        func chunksCoverAll(of rows: Int) -> Bool {
            guard let sizes = chunkSizes else { return false }
            return rows <= chunkLimit && sizes.reduce(0, +) == rows
        }

        mutating func dropChunk(_ k: Int) {
            for c in chunks.indices { chunks[c][k] = nil }
        }

        /// Takes `row` out of the order, and its series out of their chunks.
        mutating func orderRemove(_ row: Row) {
            // The order is mutated in place, never through a second reference (that would copy it).
            let at = orderPosition(row.id, name: row.name)
            guard let count = order?.count, at < count, order![at].id == row.id else { return }
            order!.remove(at: at)
            guard chunksCoverAll(of: count), var sizes = chunkSizes, let k = chunk(holding: at, sizes: sizes) else {
                return dropColumns()
            }
            sizes[k] -= 1
            if sizes[k] == 0 {
                sizes.remove(at: k)
                for c in chunks.indices { chunks[c].remove(at: k) }
            } else {
                dropChunk(k)
            }
            chunkSizes = sizes
        }

        /// Puts `row` into the order, and into the chunk at its place.
        mutating func orderInsert(_ row: Row) {
            guard let count = order?.count else { return }
            let at = orderPosition(row.id, name: row.name)
            order!.insert(row, at: at)
            guard chunksCoverAll(of: count), count + 1 <= chunkLimit, var sizes = chunkSizes,
                let k = chunk(holding: at, sizes: sizes, end: true)
            else { return dropColumns() }
            sizes[k] += 1
            dropChunk(k)
            // A chunk that grew to twice its size: lay them out again.
            chunkSizes = sizes[k] > 2 * Self.chunkRows ? nil : sizes
        }

        /// Puts `fresh` where the row of the same ID and name is, and drops the chunks of the
        /// columns whose value changed (all of its chunk when its labels did).
        mutating func orderReplace(_ known: Row, with fresh: Row) {
            let at = orderPosition(fresh.id, name: fresh.name)
            guard let count = order?.count, at < count, order![at].id == fresh.id else { return }
            order![at] = fresh
            guard let sizes = chunkSizes else { return }
            // A row past the series limit has no series.
            guard let k = chunk(holding: at, sizes: sizes) else { return }
            if known.labels != fresh.labels { return dropChunk(k) }
            for column in Column.allCases where column.value(known)?.bitPattern != column.value(fresh)?.bitPattern {
                chunks[column.rawValue][k] = nil
            }
        }

        /// Drops the host-level and stack families when a change of `known` touches them.
        mutating func invalidateAggregates(from known: Row, to fresh: Row) {
            if Tally.affected(known, fresh) { aggregates = nil }
        }
    }

    func isSelected(_ name: String) -> Bool {
        if let include, !include.matches(name) { return false }
        if let exclude, exclude.matches(name) { return false }
        return true
    }

    static func labelName(forKey key: String) -> String {
        "label_" + String(key.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    func labels(for c: TrackedContainer) -> [Label] {
        var labels = [Label("name", capped(c.name)), Label("image", capped(c.image))]
        if let project = c.project { labels.append(Label("compose_project", capped(project))) }
        if let service = c.service { labels.append(Label("compose_service", capped(service))) }
        for key in settings.labelKeys {
            if let value = c.labels[key] { labels.append(Label(Self.labelName(forKey: key), capped(value))) }
        }
        return labels
    }

    /// `value`, or its first bytes ending in "…" when it is longer than
    /// `settings.maxLabelValueLength` (cut at a character boundary), counted.
    func capped(_ value: String) -> String {
        guard let cut = Self.cappedLabelValue(value, limit: settings.maxLabelValueLength) else { return value }
        truncatedLabelValues.withLock { $0 += 1 }
        return cut
    }

    /// nil when `value` fits in `limit` bytes; otherwise the longest prefix of whole characters
    /// that, with the "…" marker (3 bytes), fits.
    static func cappedLabelValue(_ value: String, limit: Int) -> String? {
        guard value.utf8.count > limit else { return nil }
        let marker = "…"
        var kept = 0
        var end = value.startIndex
        for index in value.indices {
            let next = value.index(after: index)
            let width = value.utf8.distance(from: index, to: next)
            if kept + width + marker.utf8.count > limit { break }
            kept += width
            end = next
        }
        return String(value[..<end]) + marker
    }

    /// The row of `c`, sharing the label array of `previous` when the labels did not change (so
    /// the renderer can tell unchanged series apart by identity).
    func row(for c: TrackedContainer, previous: Row? = nil) -> Row {
        var labels = labels(for: c)
        if let previous, previous.labels == labels { labels = previous.labels }
        return Row(
            id: c.id, name: c.name, labels: labels, selected: isSelected(c.name), state: c.state, health: c.health,
            stateCode: Double(Self.stateCodes[c.state] ?? -1), healthCode: Double(Self.healthCodes[c.health] ?? 0),
            project: c.project, service: c.service, streak: Double(c.failingStreak), restarts: Double(c.restartCount),
            oomKilled: c.oomKilled ? 1 : 0, exitCode: c.exitCode.map(Double.init),
            startedAt: c.startedAt.flatMap { $0.timeIntervalSince1970 > 0 ? $0.timeIntervalSince1970 : nil })
    }

    func families() -> [MetricFamily] {
        let version = tracker.version
        let counters = tracker.counters
        var families: [MetricFamily]
        let dropped: Int
        if let cached = containerFamilies.withLock({ $0 }), cached.version == version {
            (families, dropped) = (cached.families, cached.dropped)
        } else {
            let built = rows.withLock { cache in
                let version = refreshRows(&cache)
                let (perContainer, dropped) = containerFamilies(&cache)
                if cache.aggregates == nil { cache.aggregates = aggregateFamilies(cache.tally) }
                return (version: version, families: perContainer + (cache.aggregates ?? []), dropped: dropped)
            }
            (families, dropped) = (built.families, built.dropped)
            containerFamilies.withLock { $0 = built }
        }
        appendCounterFamilies(to: &families, counters: counters, dropped: dropped)
        return families
    }

    /// Brings the row cache up to the tracker's containers: rows are made again only for the
    /// containers the tracker reports as changed (all of them the first time), and only what
    /// those changes touch is dropped.
    private func refreshRows(_ cache: inout RowCache) -> UInt64 {
        tracker.withChanges { version, changed, containers -> UInt64 in
            if cache.order == nil && cache.rows.isEmpty {
                cache.rows.reserveCapacity(containers.count)
                cache.tally = Tally()
                for (id, c) in containers {
                    let fresh = row(for: c)
                    cache.rows[id] = fresh
                    cache.tally.count(fresh, 1)
                }
                cache.invalidateAll()
                return version
            }
            // Containers that come, go or are renamed move in the order by binary search instead
            // of all of them being sorted again.
            for id in changed {
                let known = cache.rows[id]
                guard let c = containers[id] else {
                    if let known {
                        if known.selected { cache.orderRemove(known) }
                        cache.rows[id] = nil
                        cache.tally.count(known, -1)
                        cache.aggregates = nil
                    }
                    continue
                }
                let fresh = row(for: c, previous: known)
                guard let known else {
                    cache.rows[id] = fresh
                    cache.tally.count(fresh, 1)
                    if fresh.selected { cache.orderInsert(fresh) }
                    cache.aggregates = nil
                    continue
                }
                if Tally.affected(known, fresh) {
                    cache.tally.count(known, -1)
                    cache.tally.count(fresh, 1)
                }
                let moves = known.name != fresh.name || known.selected != fresh.selected
                if moves, known.selected { cache.orderRemove(known) }
                cache.rows[id] = fresh
                if moves, fresh.selected { cache.orderInsert(fresh) }
                if !moves, fresh.selected { cache.orderReplace(known, with: fresh) }
                cache.invalidateAggregates(from: known, to: fresh)
            }
            return version
        }
    }

    /// The per-container families: cached chunks as they are, the others built again from the
    /// rows in series order; one family per column and chunk (the renderer joins those of a name).
    private func containerFamilies(_ cache: inout RowCache) -> (families: [MetricFamily], dropped: Int) {
        let order = cache.order ?? cache.rows.values.filter(\.selected).sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        cache.order = order
        let count = min(order.count, settings.maxSeries)
        if cache.chunkSizes == nil || cache.chunkLimit != settings.maxSeries || cache.chunkSizes!.reduce(0, +) != count {
            let sizes = stride(from: 0, to: count, by: RowCache.chunkRows).map { min(RowCache.chunkRows, count - $0) }
            cache.chunkSizes = sizes
            cache.chunkLimit = settings.maxSeries
            cache.chunks = Array(repeating: Array(repeating: nil, count: sizes.count), count: Column.allCases.count)
        }
        let sizes = cache.chunkSizes!
        guard !sizes.isEmpty else { return (Column.allCases.map { $0.descriptor.family(samples: []) }, cache.rows.count) }
        // Built as samples directly (no intermediate tuples), a chunk at a time: each row of the
        // chunk is read once and gives its value to every column rebuilt there (reading a row per
        // column, seven times, cost as much as the samples). A container's label array is shared
        // by its series and kept from round to round.
        var start = 0
        for (k, size) in sizes.enumerated() {
            let stale = Column.allCases.filter { cache.chunks[$0.rawValue][k] == nil }
            if !stale.isEmpty {
                var samples = stale.map { _ in [Sample]() }
                for j in samples.indices { samples[j].reserveCapacity(size) }
                for i in start..<(start + size) {
                    let row = order[i]
                    for (j, column) in stale.enumerated() {
                        if let value = column.value(row) { samples[j].append(Sample(labels: row.labels, value: value)) }
                    }
                }
                for (j, column) in stale.enumerated() { cache.chunks[column.rawValue][k] = column.descriptor.family(samples: samples[j]) }
            }
            start += size
        }
        var families: [MetricFamily] = []
        families.reserveCapacity(Column.allCases.count * sizes.count)
        for column in cache.chunks { families.append(contentsOf: column.map { $0! }) }
        return (families, cache.rows.count - count)
    }

    /// Host-level counts and compose stacks: every container, whatever the series limit.
    private func aggregateFamilies(_ tally: Tally) -> [MetricFamily] {
        var byState = Dictionary(uniqueKeysWithValues: Self.stateCodes.keys.map { ($0, 0.0) })
        var byHealth = Dictionary(uniqueKeysWithValues: Self.healthCodes.keys.map { ($0, 0.0) })
        for (state, n) in tally.byState { byState[state] = Double(n) }
        for (health, n) in tally.byHealth { byHealth[health] = Double(n) }
        var families: [MetricFamily] = [
            MetricCatalog.containersByState.family(byState.sorted { $0.key < $1.key }.map { ([Label("state", $0.key)], $0.value) }),
            MetricCatalog.containersByHealth.family(byHealth.sorted { $0.key < $1.key }.map { ([Label("health", $0.key)], $0.value) }),
        ]
        var sContainers: [([Label], Double)] = [], sServices: [([Label], Double)] = []
        var sHealthy: [([Label], Double)] = [], sOK: [([Label], Double)] = []
        for (project, stack) in tally.stacks.sorted(by: { $0.key < $1.key }) {
            let l = [Label("compose_project", capped(project))]
            sContainers.append((l, Double(stack.containers)))
            sServices.append((l, Double(stack.services.count)))
            sHealthy.append((l, Double(stack.healthy)))
            sOK.append((l, stack.notOK == 0 ? 1 : 0))
        }
        families += [
            MetricCatalog.stackContainers.family(sContainers), MetricCatalog.stackServices.family(sServices),
            MetricCatalog.stackHealthyContainers.family(sHealthy), MetricCatalog.stackHealthy.family(sOK),
        ]
        return families
    }

    /// Families that move without any container changing: event counters and bookkeeping.
    private func appendCounterFamilies(to families: inout [MetricFamily], counters: ContainerTracker.Counters, dropped: Int) {

        // Counters from the events stream.
        families.append(
            MetricCatalog.healthTransitions.family(
                ["healthy", "unhealthy", "starting"].map { ([Label("status", $0)], Double(counters.healthTransitions[$0] ?? 0)) }))
        families.append(MetricCatalog.oomKills.family(value: Double(counters.oomKills)))
        families.append(
            MetricCatalog.deaths.family(
                ["success", "error", "not_executable", "sigkill", "sigterm", "signal", "unknown"].map {
                    ([Label("exit_class", $0)], Double(counters.deaths[$0] ?? 0))
                }))
        families.append(MetricCatalog.restarts.family(value: Double(counters.restarts)))

        // The collector's own bookkeeping.
        families.append(MetricCatalog.seriesDropped.family(value: Double(dropped)))
        families.append(MetricCatalog.eventsReceived.family(value: Double(counters.eventsReceived)))
        families.append(MetricCatalog.resyncs.family(value: Double(counters.resyncs)))
        let failures = inspectFailures.withLock { $0 }
        families.append(MetricCatalog.labelValuesTruncated.family(value: Double(truncatedLabelValues.withLock { $0 })))
        families.append(MetricCatalog.inspectFailures.family(failures.sorted { $0.key < $1.key }.map { ([Label("kind", $0.key)], Double($0.value)) }))
        if let status = streamer?.currentStatus {
            families.append(MetricCatalog.eventsStreamUp.family(value: status.connected ? 1 : 0))
            families.append(MetricCatalog.eventsReconnects.family(value: Double(status.reconnects)))
            families.append(MetricCatalog.eventsHangs.family(value: Double(status.hangs)))
            families.append(MetricCatalog.eventsOversizedLines.family(value: Double(status.oversizedLines)))
        }
    }

    /// The rule from the field report (`stack auto deploy`): healthy when every container runs and
    /// every container with a health check is healthy.
    public static func stackIsHealthy(_ members: [TrackedContainer]) -> Bool {
        members.allSatisfy { isHealthyStackMember(state: $0.state, health: $0.health) }
    }

    static func isHealthyStackMember(state: String, health: String) -> Bool {
        state == "running" && (health == "none" || health == "healthy")
    }
}

extension ContainerCollector {
    /// `collector.containers.*`: state and health of every container, from one `/events` stream
    /// plus periodic lists. Shares its `ContainerTracker` (`CollectorContext.existing`) with
    /// autoheal and the status page.
    public static let definition = CollectorDefinition(
        name: "containers", metrics: MetricCatalog.containerMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[ContainerCollector.config].enabled },
        make: { context in
            let configuration = context.configuration
            let c = configuration.collectors[ContainerCollector.config]
            let keys = c.labels.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
            let tracker = context.shared {
                ContainerTracker(historySize: c.historySize, labelKeys: labelKeysRead(configuration, containerLabels: keys))
            }
            let streamer = EventStreamer(client: context.makeClient(), tracker: tracker, logger: context.logger)
            return ContainerCollector(
                client: context.makeClient(), tracker: tracker, streamer: streamer,
                settings: .init(
                    interval: c.interval, resyncInterval: c.resyncInterval, inspectTimeout: c.inspectTimeout,
                    maxInspectsPerRound: c.maxInspectsPerRound, maxStreakInspectsPerRound: c.maxStreakInspectsPerRound,
                    maxSeries: c.maxSeries, include: c.include, exclude: c.exclude, labelKeys: keys,
                    maxLabelValueLength: c.maxLabelValueLength),
                logger: context.logger)
        })

    /// The container label keys anything reads from the tracker: the compose project and service
    /// (series labels, stacks), `collector.containers.labels`, and the autoheal opt-in and
    /// protection labels. The tracker and the lists it is fed keep only these; the disk policy
    /// lists containers itself, with every label.
    package static func labelKeysRead(_ configuration: WatchdogConfiguration, containerLabels: [String]) -> Set<String> {
        var keys: Set<String> = ["com.docker.compose.project", "com.docker.compose.service"]
        keys.formUnion(containerLabels)
        for selector in [configuration.remediation.autoheal.label, configuration.remediation.protectLabel] {
            if let key = selector.key { keys.insert(key) }
        }
        return keys
    }

    // MARK: lifecycle (the events stream)

    /// The events stream asks for a round when it connects or breaks, so that
    /// `docker_watchdog_events_stream_up` follows it within a second.
    public func bind(requestRound: @escaping @Sendable () -> Void) {
        streamer?.observeConnection(requestRound)
    }

    public func startBackground() { streamer?.start() }

    public func stopBackground(timeout: Duration) { streamer?.stop(timeout: timeout) }
}

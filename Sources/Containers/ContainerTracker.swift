import DockerEngine
import FoundationEssentials
import Locking

/// One health transition, as kept in the history ring and served at `/api/v1/history`.
public struct HealthTransition: Sendable, Equatable, Codable {
    public var time: Date
    public var container: String
    public var stack: String?
    public var from: String
    public var to: String
    /// Exit code of the last health probe, when known.
    public var exitCode: Int?
    /// The start of the last probe's output, when known (at most 200 characters).
    public var output: String?
    /// "event" when the events stream reported it, "resync" when a full list found it (the stream
    /// was down when it happened).
    public var source: String
}

/// What the watchdog knows about one container.
public struct TrackedContainer: Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var labels: [String: String]
    /// created, running, paused, restarting, removing, exited, dead.
    public var state: String
    /// healthy, unhealthy, starting, none.
    public var health: String
    public var failingStreak = 0
    public var restartCount = 0
    public var oomKilled = false
    public var exitCode: Int?
    public var startedAt: Date?
    public var lastProbeOutput: String?
    public var lastProbeExitCode: Int?
    /// Set when something happened that the list does not show (restart count, exit code, streak).
    public var needsInspect = true
    /// The container has exited at least once since we know it, so its next start is a restart.
    public var hasExited = false
    /// An OOM kill of the current run was counted (Docker sends several `oom` events per kill).
    public var oomCountedThisRun = false
    /// When the last inspect of this container was applied.
    public var lastInspected: Date?
    /// When it turned unhealthy (or was first seen unhealthy); nil while it is not unhealthy.
    public var unhealthySince: Date?
    /// When it last turned healthy, as far as the watchdog saw it.
    public var lastHealthy: Date?
    /// Its inspect showed a health check (a non-empty `State.Health.Status`).
    public var hasHealthcheck = false
    /// Its health came from a list entry that did not state one: Podman's list never says
    /// "(healthy)", so "none" there means "not told". The first inspect sets it without counting a
    /// transition.
    public var healthProvisional = false
    /// From its inspect: the json-file log's path ("" for other drivers), the log driver ("" until
    /// inspected) and its `max-size` option (nil: the driver keeps every line).
    public var logPath = ""
    public var logDriver = ""
    public var logMaxSize: String?

    public var project: String? { labels["com.docker.compose.project"] }
    public var service: String? { labels["com.docker.compose.service"] }
}

/// The container state machine: fed by the events stream, full lists and inspects; read by the
/// container collector. Plain Swift with no Docker calls, so tests drive it directly.
///
/// Counting rules: a health transition is counted when a container's health actually changes
/// (an event that repeats the known status is not a transition), whether the events stream told us
/// or a re-synchronising list found it. OOM kills, deaths and restarts come from events only.
public final class ContainerTracker: Sendable {
    public struct Counters: Sendable, Equatable {
        public var healthTransitions: [String: UInt64] = [:]
        public var oomKills: UInt64 = 0
        public var deaths: [String: UInt64] = [:]
        public var restarts: UInt64 = 0
        public var eventsReceived: UInt64 = 0
        public var resyncs: UInt64 = 0
    }

    private struct State {
        var containers: [String: TrackedContainer] = [:]
        var counters = Counters()
        var history: [HealthTransition] = []
        var historyStart = 0
        /// When the last full list was applied: health events older than it are already reflected.
        var lastList: Date?
        /// Bumped whenever anything about a container may have changed, so readers can tell
        /// "nothing changed" without comparing every container.
        var version: UInt64 = 0
        /// The identity of the last list applied with its ``ContainerListDelta`` (nil after a
        /// list without one), and the containers events, inspects or removals changed since.
        var lastListIdentity: UInt64?
        var touchedSinceList: Set<String> = []
        /// The entries of the last list applied with a delta, by container ID (nil when not
        /// known, or when that list had an ID twice): with the next list's delta it is brought
        /// up to date by its changes alone, and says which containers vanished.
        var lastListIndex: [String: ContainerSummary]?
        /// Lists applied whole although they came with a usable delta (the plan found the list
        /// or the index inconsistent, or containers changed without being noted): for tests,
        /// which expect none.
        var wholeListFallbacks = 0
        /// Containers added, changed or removed since ``ContainerTracker/withChanges(_:)`` last ran.
        var changedForReader: Set<String> = []

        /// The containers waiting for an inspect and the unhealthy ones (for their streak), kept
        /// up to date from `inspectCandidatesStale` so a round does not walk every container.
        var awaitingInspect: Set<String> = []
        var unhealthy: Set<String> = []
        var inspectCandidatesStale: Set<String> = []
        /// `awaitingInspect` sorted, kept up to date by binary search once made: after a resync
        /// that found thousands of new containers, a round takes the first few without sorting
        /// or scanning all of them again.
        var awaitingOrder: [String]?

        /// Notes that `id` changed (or may have): for the reader, for the inspect candidates and,
        /// when an event, an inspect or a removal did it (`touched`), for the next list's skips.
        mutating func noteChange(_ id: String, touched: Bool) {
            if touched { touchedSinceList.insert(id) }
            changedForReader.insert(id)
            inspectCandidatesStale.insert(id)
        }

        static func lowerBound(_ id: String, in sorted: [String]) -> Int {
            var low = 0, high = sorted.count
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid] < id { low = mid + 1 } else { high = mid }
            }
            return low
        }

        static func removeSorted(_ id: String, from sorted: inout [String]) {
            let at = lowerBound(id, in: sorted)
            if at < sorted.count, sorted[at] == id { sorted.remove(at: at) }
        }

        static func insertSorted(_ id: String, into sorted: inout [String]) {
            sorted.insert(id, at: lowerBound(id, in: sorted))
        }

        /// Brings `awaitingInspect` and `unhealthy` up to date for the containers changed since.
        mutating func refreshInspectCandidates() {
            for id in inspectCandidatesStale {
                let c = containers[id]
                if c?.needsInspect == true {
                    if awaitingInspect.insert(id).inserted, awaitingOrder != nil { Self.insertSorted(id, into: &awaitingOrder!) }
                } else if awaitingInspect.remove(id) != nil, awaitingOrder != nil {
                    Self.removeSorted(id, from: &awaitingOrder!)
                }
                if let c, !c.needsInspect, c.health == "unhealthy" { unhealthy.insert(id) } else { unhealthy.remove(id) }
            }
            inspectCandidatesStale.removeAll(keepingCapacity: true)
        }
    }

    public let historySize: Int
    /// The label keys kept per container (nil: every label): the ones something reads (compose
    /// project and service, `collector.containers.labels`, the autoheal opt-in and protection
    /// labels). Docker hands over every label, about ten per compose container, and keeping them
    /// all was half the heap at 1,000 containers. Feed the tracker lists decoded with the same
    /// keys (``ContainerListCache/labelKeys``) and their dictionaries are kept as they are.
    public let labelKeys: Set<String>?
    private let state = Mutex(State())

    public init(historySize: Int, labelKeys: Set<String>? = nil) {
        self.historySize = max(1, historySize)
        self.labelKeys = labelKeys
    }

    /// `labels` with only the kept keys (stored under the set's own strings); the same dictionary
    /// when it has no others.
    static func kept(_ labels: [String: String], _ keys: Set<String>?) -> [String: String] {
        guard let keys, !labels.keys.allSatisfy(keys.contains) else { return labels }
        var out: [String: String] = [:]
        for (key, value) in labels {
            if let k = keys.firstIndex(of: key) { out[keys[k]] = value }
        }
        return out
    }

    // MARK: - Reading

    public var containers: [TrackedContainer] { state.withLock { Array($0.containers.values) } }

    /// Runs `body` on the containers, their version and the IDs of the containers added, changed
    /// or removed since the previous call, then forgets those IDs: a reader that keeps something
    /// per container (the containers collector keeps its series) redoes only those. For a single
    /// reader; runs under the tracker's lock, so keep it short and do not call back in.
    public func withChanges<R>(
        _ body: (_ version: UInt64, _ changed: Set<String>, _ containers: [String: TrackedContainer]) -> R
    ) -> R {
        state.withLock { s in
            defer { s.changedForReader.removeAll(keepingCapacity: true) }
            return body(s.version, s.changedForReader, s.containers)
        }
    }

    /// Changes whenever a container was added, removed or changed; equal versions mean equal
    /// containers. Counters are not part of it.
    public var version: UInt64 { state.withLock { $0.version } }
    var wholeListFallbacks: Int { state.withLock { $0.wholeListFallbacks } }
    public var counters: Counters { state.withLock { $0.counters } }

    /// Health transitions, oldest first.
    public var history: [HealthTransition] {
        state.withLock { s in
            Array(s.history[s.historyStart...]) + Array(s.history[..<s.historyStart])
        }
    }

    /// IDs to inspect this round: changed containers first (at most `limit`), then at most
    /// `streakLimit` unhealthy ones, least recently inspected first, for their failing streak.
    ///
    /// The streak moves with every probe, but refreshing it must not make the calls per round grow
    /// with the number of containers: the fixed `streakLimit` keeps them constant, round-robin.
    public func idsToInspect(limit: Int, streakLimit: Int = .max) -> [String] {
        state.withLock { s in
            // From the candidate sets, not a walk over every container: this runs every round.
            s.refreshInspectCandidates()
            if s.awaitingOrder == nil { s.awaitingOrder = s.awaitingInspect.sorted() }
            let first = Array(s.awaitingOrder!.prefix(limit))
            let room = max(0, min(streakLimit, limit - first.count))
            guard room > 0, !s.unhealthy.isEmpty else { return first }
            let unhealthy = s.unhealthy.map { (at: s.containers[$0]?.lastInspected ?? .distantPast, id: $0) }
                .sorted { ($0.at, $0.id) < ($1.at, $1.id) }
            return first + unhealthy.prefix(room).map(\.id)
        }
    }

    // MARK: - Feeding

    /// Applies a full list: adds new containers, drops vanished ones, and corrects state and health
    /// the events stream missed.
    ///
    /// With `delta` (from the ``ContainerListCache`` that decoded `list`), entries that are byte
    /// for byte in the previous list are skipped when that list was the last one applied here and
    /// nothing touched their container since: applying them again would change nothing, because
    /// the previous application left state, health and name equal to theirs.
    public func applyList(_ list: [ContainerSummary], delta: ContainerListDelta? = nil, now: Date = Date()) {
        state.withLock { s in
            s.counters.resyncs += 1
            s.lastList = now
            var changed = false
            var index = s.lastListIndex
            s.lastListIndex = nil  // edited in place below, not copied
            if let delta, delta.previous != nil, delta.previous == s.lastListIdentity, index != nil,
                let plan = Self.editPlan(list, delta, &index!, touched: s.touchedSinceList)
            {
                for position in plan.apply { changed = Self.apply(list[position], to: &s, historySize: historySize, labelKeys: labelKeys, at: now) || changed }
                for id in plan.removalCandidates where index![id] == nil && s.containers[id] != nil {
                    s.containers[id] = nil
                    s.noteChange(id, touched: false)
                    changed = true
                }
                // Every container is in the list now, and only those; if not, something changed
                // them without being noted: the whole list is applied again (it is idempotent).
                if s.containers.count != index!.count {
                    s.wholeListFallbacks += 1
                    changed = Self.applyWhole(list, to: &s, historySize: historySize, labelKeys: labelKeys, at: now) || changed
                }
            } else {
                if delta?.previous != nil, delta?.previous == s.lastListIdentity, index != nil { s.wholeListFallbacks += 1 }
                changed = Self.applyWhole(list, to: &s, historySize: historySize, labelKeys: labelKeys, at: now)
                index = nil
                if delta != nil {
                    let byID = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                    if byID.count == list.count { index = byID }  // an ID twice: no shortcuts after this list
                }
            }
            if changed { s.version &+= 1 }
            s.lastListIdentity = delta == nil ? nil : delta!.current
            s.lastListIndex = delta == nil ? nil : index
            s.touchedSinceList.removeAll(keepingCapacity: true)
        }
    }

    /// What a list applied with its delta must do: the positions of the entries to apply (the
    /// changed ones, and unchanged ones whose container was touched since the last list), in
    /// list order as a whole list would apply them, and the IDs that may have vanished (those
    /// of dropped entries and touched containers). Updates `index` to this list. Nil when the
    /// list or the index is not what a delta promises (an ID twice, an entry unaccounted for):
    /// the caller then applies the whole list.
    ///
    /// This is what makes a round on a changing host cost its changes: nothing here walks the
    /// containers or hashes the IDs of unchanged entries.
    private static func editPlan(
        _ list: [ContainerSummary], _ delta: ContainerListDelta, _ index: inout [String: ContainerSummary], touched: Set<String>
    ) -> (apply: [Int], removalCandidates: [String])? {
        guard delta.unchanged.count == list.count else { return nil }
        var candidates: [String] = []
        for entry in delta.dropped {
            guard index.removeValue(forKey: entry.id) != nil else { return nil }
            candidates.append(entry.id)
        }
        var apply: [Int] = []
        var decoded: Set<String> = []
        for position in list.indices where !delta.unchanged[position] {
            let item = list[position]
            guard index.updateValue(item, forKey: item.id) == nil else { return nil }
            decoded.insert(item.id)
            apply.append(position)
        }
        guard index.count == list.count else { return nil }
        // Unchanged entries of touched containers are applied too (an event may have moved the
        // container away from what the list says); they are found by their storage, which the
        // scanner took over from the previous list, so only the list's pointers are walked.
        var wanted: Set<ObjectIdentifier> = []
        for id in touched {
            if let entry = index[id] {
                if !decoded.contains(id) { wanted.insert(entry.storageIdentity) }
            } else {
                candidates.append(id)
            }
        }
        if !wanted.isEmpty {
            let found = ContainerSummary.positions(of: wanted, in: list).filter { delta.unchanged[$0] }
            guard found.count == wanted.count else { return nil }
            apply = (apply + found).sorted()
        }
        return (apply, candidates)
    }

    /// Applies every entry of `list` and drops the containers it does not have.
    private static func applyWhole(
        _ list: [ContainerSummary], to s: inout State, historySize: Int, labelKeys: Set<String>?, at now: Date
    ) -> Bool {
        let before = s.containers.count
        var matched = 0
        var changed = false
        for item in list {
            if s.containers[item.id] != nil { matched += 1 }
            changed = apply(item, to: &s, historySize: historySize, labelKeys: labelKeys, at: now) || changed
        }
        // Every known container was in the list: nothing vanished, no need to build a set.
        if matched != before {
            let seen = Set(list.map(\.id))
            // Found first, removed after: removing while iterating the keys would copy the
            // whole dictionary (the iteration holds its storage).
            let vanished = s.containers.keys.filter { !seen.contains($0) }
            for id in vanished {
                s.containers[id] = nil
                s.noteChange(id, touched: false)
                changed = true
            }
        }
        return changed
    }

    /// Applies one list entry; true when it changed something.
    private static func apply(
        _ item: ContainerSummary, to s: inout State, historySize: Int, labelKeys: Set<String>?, at now: Date
    ) -> Bool {
        if var known = s.containers[item.id] {
            // The common case in a resync: nothing new about this container.
            if known.state == item.state && known.name == item.name
                && (known.health == item.health || (item.health == "none" && item.state == "running" && known.hasHealthcheck))
            {
                return false
            }
            if known.state != item.state {
                known.state = item.state
                known.needsInspect = true
            }
            // Podman's list never states the health of a running container: keep what the
            // inspect said rather than read "none" (Docker always states it for a running
            // container with a health check, so this never applies there).
            let listSilentOnHealth = item.health == "none" && item.state == "running" && known.hasHealthcheck
            if known.health != item.health && !listSilentOnHealth {
                recordTransition(&s, historySize: historySize, container: known, to: item.health, source: "resync", at: now)
                noteHealth(&known, item.health, at: now)
                known.health = item.health
                known.needsInspect = true
            }
            known.name = item.name
            s.containers[item.id] = known
            s.noteChange(item.id, touched: false)
        } else {
            var added = TrackedContainer(
                id: item.id, name: item.name, image: item.image, labels: kept(item.labels, labelKeys), state: item.state,
                health: item.health)
            noteHealth(&added, item.health, at: now)
            added.healthProvisional = item.health == "none"
            s.containers[item.id] = added
            s.noteChange(item.id, touched: false)
        }
        return true
    }

    /// Applies what an inspect returned.
    public func applyInspect(_ inspect: ContainerInspect, now: Date = Date()) {
        state.withLock { s in
            var c =
                s.containers[inspect.id]
                ?? TrackedContainer(
                    id: inspect.id, name: inspect.name, image: inspect.config.image, labels: Self.kept(inspect.config.labels, labelKeys),
                    state: inspect.state.status, health: "none")
            // Podman 4.3 sends `Health: {"Status": ""}` for a container without a health check.
            let stated = inspect.state.health?.status ?? ""
            let health = stated.isEmpty ? "none" : stated
            let lastLog = inspect.state.health?.log.last
            c.lastProbeExitCode = lastLog?.exitCode
            c.lastProbeOutput = lastLog?.output.map { String($0.prefix(200)) }
            c.hasHealthcheck = !stated.isEmpty
            if c.healthProvisional {
                // First sight came from a list that did not state the health: not a transition.
                c.healthProvisional = false
                if c.health != health { Self.noteHealth(&c, health, at: now) }
            } else if c.health != health {
                Self.recordTransition(
                    &s, historySize: historySize, container: c, to: health, source: "resync", at: now,
                    probe: (c.lastProbeExitCode, c.lastProbeOutput))
                Self.noteHealth(&c, health, at: now)
            }
            c.name = inspect.name
            c.image = inspect.config.image
            c.labels = Self.kept(inspect.config.labels, labelKeys)
            c.state = inspect.state.status
            c.health = health
            c.failingStreak = inspect.state.health?.failingStreak ?? 0
            c.restartCount = inspect.restartCount
            c.oomKilled = inspect.state.oomKilled
            c.exitCode = inspect.state.status == "created" ? nil : inspect.state.exitCode
            c.startedAt = inspect.state.startedAt
            c.logPath = inspect.logPath
            c.logDriver = inspect.logDriver
            c.logMaxSize = inspect.logOptions["max-size"]
            c.needsInspect = false
            let previous = s.containers[inspect.id]
            c.lastInspected = previous?.lastInspected
            if c != previous { s.version &+= 1 }
            c.lastInspected = now
            s.containers[inspect.id] = c
            s.noteChange(inspect.id, touched: true)
            Self.attachProbeResult(&s, container: c)
        }
    }

    /// The probe that caused a transition is only known from the inspect after it: fill the newest
    /// history entry of this container in, if it still lacks the probe's result.
    private static func attachProbeResult(_ s: inout State, container: TrackedContainer) {
        guard container.lastProbeOutput != nil || container.lastProbeExitCode != nil else { return }
        let count = s.history.count
        for step in 0..<count {
            let index = (s.historyStart + count - 1 - step) % count
            guard s.history[index].container == container.name else { continue }
            if s.history[index].to == container.health && s.history[index].output == nil && s.history[index].exitCode == nil {
                s.history[index].output = container.lastProbeOutput
                s.history[index].exitCode = container.lastProbeExitCode
            }
            return
        }
    }

    /// Forgets a container whose inspect said it no longer exists.
    public func remove(id: String) {
        state.withLock { s in
            if s.containers.removeValue(forKey: id) != nil { s.version &+= 1 }
            s.noteChange(id, touched: true)
        }
    }

    /// Applies one event from the stream.
    public func applyEvent(_ event: DockerEvent) {
        let time = Date(timeIntervalSince1970: Double(event.timeNano) / 1e9)
        state.withLock { s in
            s.counters.eventsReceived += 1
            s.version &+= 1  // most events change a container; they are rare next to rounds
            let id = event.actorID
            s.noteChange(id, touched: true)
            switch event.verb {
            case "health_status":
                guard let to = event.detail, !to.isEmpty else {
                    // Podman's health_status events carry no status: the inspect this asks for
                    // tells the result; reading "none" here would invent two transitions.
                    s.containers[id]?.needsInspect = true
                    return
                }
                if let lastList = s.lastList, time < lastList {
                    // A replayed event (since=) the last full list already reflects: counting it
                    // again would double-count what the resync counted.
                    s.containers[id]?.needsInspect = true
                    return
                }
                guard var c = s.containers[id] else {
                    // Not listed yet: count it; the next list or inspect fills in the details.
                    s.counters.healthTransitions[to, default: 0] += 1
                    s.containers[id] = Self.placeholder(for: event, health: to, labelKeys: labelKeys)
                    return
                }
                if c.health != to {
                    Self.recordTransition(&s, historySize: historySize, container: c, to: to, source: "event", at: time)
                    Self.noteHealth(&c, to, at: time)
                    c.health = to
                }
                c.needsInspect = true
                s.containers[id] = c
            case "oom":
                // Docker 20.10 sends several oom events for one kill: count one per run.
                if s.containers[id]?.oomCountedThisRun != true {
                    s.counters.oomKills += 1
                }
                s.containers[id]?.oomCountedThisRun = true
                s.containers[id]?.needsInspect = true
            case "die":
                let code = event.exitCode ?? -1
                s.counters.deaths[Self.exitClass(code), default: 0] += 1
                s.containers[id]?.state = "exited"
                s.containers[id]?.exitCode = code
                s.containers[id]?.hasExited = true
                s.containers[id]?.needsInspect = true
            case "restart":
                // `docker restart` also sends die and start; the start after the die counts it.
                s.containers[id]?.needsInspect = true
            case "destroy":
                s.containers[id] = nil
            case "create", "start", "pause", "unpause", "stop", "kill", "rename", "update":
                if s.containers[id] == nil {
                    s.containers[id] = Self.placeholder(for: event, health: "none", labelKeys: labelKeys)
                }
                if event.verb == "start" {
                    if s.containers[id]?.hasExited == true { s.counters.restarts += 1 }
                    s.containers[id]?.oomCountedThisRun = false
                }
                switch event.verb {
                case "start", "unpause": s.containers[id]?.state = "running"
                case "pause": s.containers[id]?.state = "paused"
                default: break
                }
                s.containers[id]?.needsInspect = true
            default:
                break
            }
        }
    }

    // MARK: - Rules

    /// The `exit_class` label of a death: bounded, and says what kind of end it was.
    public static func exitClass(_ code: Int) -> String {
        switch code {
        case 0: return "success"
        case 126, 127: return "not_executable"
        case 137: return "sigkill"
        case 143: return "sigterm"
        case 1...125: return "error"
        case 128...255: return "signal"
        default: return "unknown"
        }
    }

    private static func placeholder(for event: DockerEvent, health: String, labelKeys: Set<String>?) -> TrackedContainer {
        var labels = event.attributes
        labels["name"] = nil
        labels["image"] = nil
        var c = TrackedContainer(
            id: event.actorID, name: event.attributes["name"] ?? String(event.actorID.prefix(12)),
            image: event.attributes["image"] ?? "", labels: kept(labels, labelKeys), state: "created", health: health)
        noteHealth(&c, health, at: Date(timeIntervalSince1970: Double(event.timeNano) / 1e9))
        return c
    }

    /// Keeps `unhealthySince` and `lastHealthy` in step with a change of health (autoheal reads them).
    private static func noteHealth(_ c: inout TrackedContainer, _ health: String, at time: Date) {
        c.unhealthySince = health == "unhealthy" ? (c.health == "unhealthy" ? c.unhealthySince ?? time : time) : nil
        if health == "healthy" { c.lastHealthy = time }
    }

    /// Counts a change of health and remembers it. `probe` is the probe that caused it when known
    /// (an inspect); for an event it is filled in by the next inspect (`attachProbeResult`).
    private static func recordTransition(
        _ s: inout State, historySize: Int, container: TrackedContainer, to: String, source: String, at time: Date,
        probe: (exitCode: Int?, output: String?)? = nil
    ) {
        s.counters.healthTransitions[to, default: 0] += 1
        let entry = HealthTransition(
            time: time, container: container.name, stack: container.project, from: container.health, to: to,
            exitCode: probe?.exitCode, output: probe?.output, source: source)
        if s.history.count < historySize {
            s.history.append(entry)
        } else {
            s.history[s.historyStart] = entry
            s.historyStart = (s.historyStart + 1) % historySize
        }
    }
}

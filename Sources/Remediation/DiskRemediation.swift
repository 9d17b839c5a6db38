import DockerEngine
import FoundationEssentials
import Logging
import Locking
import WatchdogConfig
import HostProbes
import Sampling

/// Frees space on the Docker root when it runs low: the escalation ladder with hysteresis.
///
/// Each enabled step runs only if the previous ones did not reach the target, and free space is
/// measured again after every removal, so no more is removed than needed. What is never removed:
/// anything carrying the protection label or matching the keep pattern, anything a container uses
/// (images of any container, running containers, volumes a container references), images and
/// stopped containers younger than the minimum age, containers with a restart policy that would
/// bring them back, and named volumes unless they carry the label the user configured for exactly
/// that.
public final class DiskRemediation: Sendable {
    public struct Settings: Sendable {
        public var enabled: Bool
        public var dryRun: Bool
        public var thresholds: DiskThresholds
        public var steps: [DiskStep]
        public var buildCacheKeepBytes: Int64
        public var minAge: Duration
        /// `key=value` (or a bare key, matching any value) that protects an object.
        public var protectLabel: LabelSelector
        public var keepPattern: String
        /// `key=value` that makes a *named* volume removable; empty: named volumes are never removed.
        public var namedVolumeLabel: LabelSelector
        /// The wait after an episode that did not reach the target, in elapsed (monotonic) time.
        public var cooldown: Duration
        /// `container_logs`: truncate json-file logs larger than this, of containers opted in with
        /// `logsLabel` (or all, with `logsAll`).
        public var logsTruncateAbove: Int64
        public var logsLabel: LabelSelector
        public var logsAll: Bool

        public init(
            enabled: Bool = true, dryRun: Bool = false, thresholds: DiskThresholds, steps: [DiskStep],
            buildCacheKeepBytes: Int64 = 0, minAge: Duration = .seconds(3600),
            protectLabel: LabelSelector = "docker-watchdog.protect=true", keepPattern: String = "", namedVolumeLabel: LabelSelector = .none,
            cooldown: Duration = .seconds(600), logsTruncateAbove: Int64 = 100 << 20,
            logsLabel: LabelSelector = "docker-watchdog.truncate-logs=true", logsAll: Bool = false
        ) {
            self.logsTruncateAbove = logsTruncateAbove
            self.logsLabel = logsLabel
            self.logsAll = logsAll
            self.enabled = enabled
            self.dryRun = dryRun
            self.thresholds = thresholds
            self.steps = steps
            self.buildCacheKeepBytes = buildCacheKeepBytes
            self.minAge = minAge
            self.protectLabel = protectLabel
            self.keepPattern = keepPattern
            self.namedVolumeLabel = namedVolumeLabel
            self.cooldown = cooldown
        }
    }

    /// One candidate of a per-item step.
    public struct Candidate: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        /// An image's tags (`repo:tag`); empty for other objects.
        public var tags: [String] = []
        /// What removing it should free, from the engine's size fields (nil: the engine gives none).
        public var estimatedBytes: Int64? = nil
        /// `container_logs`: the live json-file log to truncate.
        public var logPath: String? = nil
        /// Why it is on the list now and was not before (an image whose last stopped container the
        /// plan removes first).
        public var cascade: String? = nil
    }

    /// The last episode: what it needed, what it freed, how long it took, how it ended.
    public struct Episode: Sendable, Equatable {
        public var neededBytes: Int64
        public var freedBytes: Int64
        public var seconds: Double
        public var end: Date
        /// reached_target, steps_exhausted, dry_run.
        public var result: String
    }

    struct State {
        var active = false
        var reason: String?
        /// The end of the cool-down after an episode that did not reach the target (monotonic, so a
        /// wall-clock step neither stretches nor cuts it), and the same moment as a date for messages.
        var coolingUntil: ContinuousClock.Instant?
        var coolingUntilDate: Date?
        var lastPlan: [String] = []
        var lastEpisode: Episode?
        /// Hysteresis per filesystem, by its name (`WatchedFilesystem.name`).
        var activeByPath: [String: Bool] = [:]
        /// The data root's state, whatever its name (it is "data_root" until the path is known).
        var rootActive = false
    }

    public let settings: Settings
    private let docker: any RemediationDocker
    private let measure: @Sendable () -> FilesystemStats?
    private let ledger: ActionLedger
    private let clock: PolicyClock
    private let keep: NamePattern?
    private let logFiles: any LogFileAccess
    private let layout: @Sendable () -> [WatchedFilesystem]
    private let measurePath: @Sendable (String) -> FilesystemStats?
    private let state = Mutex(State())

    public init(
        settings: Settings, docker: any RemediationDocker, measure: @escaping @Sendable () -> FilesystemStats?,
        ledger: ActionLedger, clock: PolicyClock = .system, logFiles: any LogFileAccess = SystemLogFiles(),
        layout: @escaping @Sendable () -> [WatchedFilesystem] = { [.dataRootOnly] },
        measurePath: @escaping @Sendable (String) -> FilesystemStats? = { _ in nil }
    ) {
        self.layout = layout
        self.measurePath = measurePath
        self.logFiles = logFiles
        self.settings = settings
        self.docker = docker
        self.measure = measure
        self.ledger = ledger
        self.clock = clock
        self.keep = NamePattern(settings.keepPattern)
    }

    public var underPressure: Bool { state.withLock { $0.active } }

    /// The last episode of the ladder, if one ran.
    public var lastEpisode: Episode? { state.withLock { $0.lastEpisode } }

    /// What the policy would do now, and why (for `/api/v1/plan`).
    public var plan: [String] { state.withLock { $0.lastPlan } }

    public var memoryHorizon: Duration { settings.cooldown }

    /// An episode of an earlier process that ended without reaching the target (its last record
    /// says so, or it was interrupted, or it was a dry run) continues its cool-down; so does an
    /// unreadable audit log, from its last change.
    public func restore(from history: AuditHistory, at now: (wall: Date, monotonic: ContinuousClock.Instant)) {
        let own = history.records.filter { $0.policy == "disk" && ($0.dryRun ? $0.phase == "planned" : $0.phase != "planned") }
        var coolFrom: Date?
        if let last = own.last, last.targetReached != true { coolFrom = last.time }
        if history.isDamaged { coolFrom = max(coolFrom ?? .distantPast, history.modified ?? now.wall) }
        guard let coolFrom else { return }
        let until = PolicyClock.instant(of: coolFrom, at: now) + settings.cooldown
        guard until > now.monotonic else { return }
        state.withLock { s in
            s.coolingUntil = until
            s.coolingUntilDate = coolFrom.addingTimeInterval(seconds(settings.cooldown))
        }
    }

    /// Whether each filesystem holding Docker data is under pressure, by its name (path).
    public var pressureByPath: [String: Bool] { state.withLock { $0.activeByPath } }

    /// One evaluation: update the hysteresis state of every filesystem holding Docker data and,
    /// when one is under pressure, run the ladder for the first such (the data root's first) with
    /// the steps that free space there.
    public func evaluate() {
        guard settings.enabled else { return }
        guard let rootStats = measure() else {
            state.withLock { $0.lastPlan = ["cannot measure the Docker root's filesystem"] }
            return
        }
        let layout = self.layout()
        var watched: [(fs: WatchedFilesystem, stats: FilesystemStats)] = [(layout.first ?? .dataRootOnly, rootStats)]
        for other in layout.dropFirst() {
            if let path = other.path, let stats = measurePath(path) { watched.append((other, stats)) }
        }
        let current = clock.monotonic()
        let (chosen, cooling, coolingDate) = state.withLock { s -> (WatchedFilesystem?, ContinuousClock.Instant?, Date?) in
            var chosen: WatchedFilesystem?
            var byPath: [String: Bool] = [:]
            s.reason = nil
            for (i, (fs, stats)) in watched.enumerated() {
                let key = fs.name
                let active = settings.thresholds.nextState(active: i == 0 ? s.rootActive : s.activeByPath[key] ?? false, stats)
                if i == 0 { s.rootActive = active }
                byPath[key] = active
                if active && chosen == nil {
                    chosen = fs
                    let pressure = settings.thresholds.pressure(stats) ?? "below target"
                    s.reason = fs.path.map { "\(pressure) on \($0) (holds \(Self.holdsText(fs.holds)))" } ?? pressure
                }
            }
            s.activeByPath = byPath
            s.active = chosen != nil
            return (chosen, s.coolingUntil, s.coolingUntilDate)
        }
        guard let chosen else {
            state.withLock { $0.lastPlan = ["nothing to do: free space is above the thresholds"] }
            ledger.setSuppressed("disk", reason: nil)
            return
        }
        if let cooling, current < cooling {
            let until = coolingDate.map { $0.formatted(.iso8601) } ?? "later"
            ledger.setSuppressed("disk", reason: "cool-down until \(until) after an episode that did not reach the target")
            return
        }
        ledger.setSuppressed("disk", reason: nil)
        runLadder(reason: state.withLock { $0.reason } ?? "disk pressure", on: chosen)
    }

    static func holdsText(_ holds: Set<HostStatus.DockerDataRole>) -> String { holds.sorted().map(\.rawValue).joined(separator: ",") }

    private func runLadder(reason: String, on filesystem: WatchedFilesystem) {
        let started = clock.now()
        let measurePath = self.measurePath
        let measure: @Sendable () -> FilesystemStats?
        if let path = filesystem.path {
            measure = { measurePath(path) }
        } else {
            measure = self.measure
        }
        let first = measure()
        let needed = first.map(settings.thresholds.bytesToTarget) ?? 0
        var planned: [String] = ["needed: \(needed) bytes to reach the target"]
        if let path = filesystem.path { planned.insert("filesystem \(path) (holds \(Self.holdsText(filesystem.holds))) is below the mark", at: 0) }
        var recovered = false
        // What the plan counts as removed already: in a dry run nothing is, so a later step must not
        // count on the removals of an earlier one without saying so.
        var plannedContainers = Set<String>()
        var estimatedTotal: Int64 = 0
        var stopAnnounced = false
        // One size walk for the whole plan, when the first per-object step needs it (after the
        // build-cache step, which must not wait for it).
        var sizes: ObjectSizes?
        ladder: for step in DiskStep.allCases where settings.steps.contains(step) {
            guard !step.frees.isDisjoint(with: filesystem.holds) else {
                planned.append("\(step.rawValue): frees nothing on \(filesystem.path ?? "this filesystem") (it holds \(Self.holdsText(filesystem.holds)))")
                continue
            }
            switch step {
            case .buildCache:
                // Down to what the cache may keep and still leave room for the target: BuildKit
                // removes least recently used records first until the cache is that small.
                let usage: (size: Int64, reclaimable: Int64)?
                do {
                    usage = try docker.buildCacheUsage()
                } catch {
                    usage = nil  // the prune itself will say what is wrong
                }
                let stillNeeded = max(0, needed - estimatedTotal)
                var keep = settings.buildCacheKeepBytes
                var estimate: Int64?
                if let usage {
                    keep = max(keep, usage.size - stillNeeded)
                    estimate = max(0, min(usage.reclaimable, usage.size - keep))
                    estimatedTotal += estimate ?? 0
                }
                if usage?.size == 0 {
                    planned.append("build_cache: nothing cached")
                    continue
                }
                planned.append(
                    "build_cache: prune least recently used records down to \(keep) bytes"
                        + (estimate.map { " ~\($0) bytes, planned total ~\(estimatedTotal) of \(needed)" } ?? " (size unknown)"))
                if !stopAnnounced && estimatedTotal >= needed && estimate != nil {
                    planned.append("the estimate reaches the target here; the ladder measures after each removal and stops when it does")
                    stopAnnounced = true
                }
                let keepBytes = keep
                recovered = act(step, targets: ["build cache"], estimate: estimate, reason: reason, measure: measure) {
                    do {
                        return try docker.pruneBuildCache(keepStorage: keepBytes).removed
                    } catch DockerError.http(404, _, _) {
                        // No /build/prune: an engine without BuildKit (Podman builds with buildah)
                        // has no build cache to prune.
                        return []
                    }
                }
            case .danglingImages, .containerLogs, .stoppedContainers, .unusedImages, .volumes:
                let inventory: StepInventory
                if sizes == nil, step != .containerLogs { sizes = (try? docker.objectSizes()) ?? ObjectSizes() }
                do {
                    inventory = try self.inventory(step, assumingRemoved: settings.dryRun ? plannedContainers : [], sizes: sizes ?? ObjectSizes())
                } catch {
                    ledger.perform(policy: "disk", action: step.rawValue, targets: [], reason: reason, dryRun: false, now: clock.wall()) {
                        throw error
                    }
                    continue
                }
                if inventory.candidates.isEmpty { planned.append("\(step.rawValue): nothing eligible") }
                for candidate in inventory.candidates {
                    estimatedTotal += candidate.estimatedBytes ?? 0
                    var line = "\(step.rawValue): \(candidate.name)"
                    line += candidate.estimatedBytes.map { " ~\($0) bytes" } ?? " (size unknown)"
                    line += ", planned total ~\(estimatedTotal) of \(needed)"
                    if let cascade = candidate.cascade { line += " (\(cascade))" }
                    planned.append(line)
                    if !stopAnnounced && estimatedTotal >= needed {
                        planned.append("the estimate reaches the target here; the ladder measures after each removal and stops when it does")
                        stopAnnounced = true
                    }
                }
                planned += inventory.skipped.map { "\(step.rawValue): skipped \($0)" }
                for candidate in inventory.candidates {
                    if step == .stoppedContainers { plannedContainers.insert(candidate.id) }
                    recovered = act(step, targets: [candidate.name], estimate: candidate.estimatedBytes, reason: reason, measure: measure) {
                        switch step {
                        case .containerLogs:
                            // Only the live file: dockerd keeps writing to it, and `docker logs`
                            // starts after the cut. Rotated files belong to max-file, which this
                            // container does not set.
                            try logFiles.truncate(candidate.logPath ?? "")
                        case .stoppedContainers: try docker.removeContainer(candidate.id)
                        case .unusedImages, .danglingImages:
                            // An image with several tags is refused without force (Docker 409,
                            // Podman 500): untag all but one by name, then delete it by ID, so
                            // the step that removes data names exactly the image it listed.
                            var removed: [String] = []
                            for tag in candidate.tags.dropLast() { removed += try docker.removeImage(tag).removed }
                            return removed + (try docker.removeImage(candidate.id).removed)
                        default: try docker.removeVolume(candidate.id)
                        }
                        return [candidate.name]
                    }
                    if recovered { break ladder }
                }
            }
            if recovered { break }
        }
        let last = measure()
        let freed = (first != nil && last != nil) ? Int64(last!.availableBytes) - Int64(first!.availableBytes) : 0
        let now = clock.now()
        let episode = Episode(
            neededBytes: needed, freedBytes: freed, seconds: seconds(now.monotonic - started.monotonic), end: now.wall,
            result: settings.dryRun ? "dry_run" : recovered ? "reached_target" : "steps_exhausted")
        state.withLock { s in
            s.lastPlan = planned
            s.lastEpisode = episode
            if recovered {
                s.activeByPath[filesystem.name] = false
                if filesystem.path == nil { s.rootActive = false }
                s.active = s.activeByPath.values.contains(true)
                s.coolingUntil = nil
                s.coolingUntilDate = nil
            } else {
                // Dry runs and episodes that ran out of steps wait before trying again.
                s.coolingUntil = now.monotonic + settings.cooldown
                s.coolingUntilDate = now.wall.addingTimeInterval(seconds(settings.cooldown))
            }
        }
        if !recovered && !settings.dryRun {
            ledger.setSuppressed("disk", reason: "every enabled step ran and free space is still below the target")
        }
    }

    /// Runs one audited action; returns true when the target is reached afterwards.
    private func act(
        _ step: DiskStep, targets: [String], estimate: Int64?, reason: String, measure: () -> FilesystemStats?, _ body: () throws -> [String]
    ) -> Bool {
        let before = measure()
        let record = ledger.perform(
            policy: "disk", action: step.rawValue, targets: targets, reason: reason, dryRun: settings.dryRun, estimatedBytes: estimate,
            now: clock.wall()
        ) {
            let removed = try body()
            let after = measure()
            var gained: Int64?
            if let before, let after { gained = Int64(after.availableBytes) - Int64(before.availableBytes) }
            return ActionOutcome(removed: removed, bytesReclaimed: gained, targetReached: after.map(settings.thresholds.recovered))
        }
        guard record.phase == "finished", let fs = measure() else { return false }
        return settings.thresholds.recovered(fs)
    }

    // MARK: - Candidates

    func isProtected(_ labels: [String: String]) -> Bool {
        settings.protectLabel.matches(labels)
    }

    func isKept(_ names: [String]) -> Bool {
        guard let keep else { return false }
        return names.contains { keep.matches($0) || keep.matches(Self.familiarName($0)) }
    }

    /// An image reference as `docker images` shows it: Podman (and Docker with the containerd
    /// store, in places) qualifies `busybox:latest` as `docker.io/library/busybox:latest`, and a
    /// keep pattern written against the short name must still match it.
    static func familiarName(_ reference: String) -> String {
        if reference.hasPrefix("docker.io/library/") { return String(reference.dropFirst("docker.io/library/".count)) }
        if reference.hasPrefix("docker.io/") { return String(reference.dropFirst("docker.io/".count)) }
        if reference.hasPrefix("localhost/") { return String(reference.dropFirst("localhost/".count)) }
        return reference
    }

    /// What a per-item step would remove, in order, and what it leaves with the reason.
    struct StepInventory {
        var candidates: [Candidate] = []
        var skipped: [String] = []
    }

    /// The items a per-item step may remove, in the order it removes them.
    public func candidates(_ step: DiskStep) throws -> [Candidate] { try inventory(step).candidates }

    /// Every object of a step checked against every rule (protection label, keep pattern, in use,
    /// restart policy, minimum age), in the order the step removes them:
    /// - dangling images: oldest first;
    /// - stopped containers: the one that exited longest ago first;
    /// - unused images: least recently built or tagged first (Docker keeps no last-use time);
    /// - volumes: anonymous ones, and named ones only with the configured label.
    ///
    /// An image's age counts from the later of when it was built (`Created`) and when it was last
    /// tagged (`Metadata.LastTagTime`: pulled, built or `docker tag`); a container's from when it
    /// exited. Ages compare Docker's own timestamps with the wall clock.
    ///
    /// - Parameter assumingRemoved: containers an earlier step of the same plan removes first (a
    ///   dry run removes nothing, so the images they alone used are listed as cascades).
    /// - Parameter sizes: the engine's size fields, for the estimates.
    func inventory(_ step: DiskStep, assumingRemoved: Set<String> = [], sizes: ObjectSizes = ObjectSizes()) throws -> StepInventory {
        let t = clock.wall()
        let minAge = Double(settings.minAge.components.seconds)
        var out = StepInventory()
        switch step {
        case .stoppedContainers:
            var eligible: [(Candidate, Date)] = []
            for c in try docker.listContainers() where ["exited", "created", "dead"].contains(c.state) {
                if isProtected(c.labels) {
                    out.skipped.append("\(c.name): carries \(settings.protectLabel)")
                    continue
                }
                if isKept([c.name]) {
                    out.skipped.append("\(c.name): matches remediation.keep_pattern")
                    continue
                }
                let inspect = try docker.inspectContainer(c.id)
                // A container its restart policy would bring back is not "stopped".
                if ["always", "unless-stopped"].contains(inspect.restartPolicy) {
                    out.skipped.append("\(c.name): restart policy \(inspect.restartPolicy) brings it back")
                    continue
                }
                let since = inspect.state.finishedAt ?? c.created.map { Date(timeIntervalSince1970: Double($0)) } ?? t
                if t.timeIntervalSince(since) < minAge {
                    out.skipped.append("\(c.name): exited less than remediation.disk.min_age ago")
                    continue
                }
                eligible.append((Candidate(id: c.id, name: c.name, estimatedBytes: sizes.containers[c.id]), since))
            }
            out.candidates = eligible.sorted { ($0.1, $0.0.id) < ($1.1, $1.0.id) }.map(\.0)
        case .unusedImages, .danglingImages:
            let dangling = step == .danglingImages
            let containers = try docker.listContainers()
            let users = containers.filter { !assumingRemoved.contains($0.id) }
            let used = Set(users.map(\.imageID)).union(users.map(\.image))
            let usedBefore = Set(containers.map(\.imageID)).union(containers.map(\.image))
            var eligible: [(image: ImageSummary, since: Date)] = []
            for image in try docker.listImages() where image.repoTags.isEmpty == dangling {
                let name = image.repoTags.first ?? String(image.id.prefix(19))
                if used.contains(image.id) || image.repoTags.contains(where: used.contains) {
                    out.skipped.append("\(name): used by a container")
                    continue
                }
                if isProtected(image.labels) {
                    out.skipped.append("\(name): carries \(settings.protectLabel)")
                    continue
                }
                if isKept(image.repoTags + [image.id]) {
                    out.skipped.append("\(name): matches remediation.keep_pattern")
                    continue
                }
                let created = Date(timeIntervalSince1970: Double(image.created))
                let tagged = try docker.imageLastTagTime(image.id) ?? created
                let since = max(created, tagged)
                if t.timeIntervalSince(since) < minAge {
                    out.skipped.append("\(name): built or tagged less than remediation.disk.min_age ago")
                    continue
                }
                eligible.append((image, since))
            }
            out.candidates = eligible.sorted { ($0.since, $0.image.id) < ($1.since, $1.image.id) }
                .map {
                    let wasUsed = usedBefore.contains($0.image.id) || $0.image.repoTags.contains(where: usedBefore.contains)
                    return Candidate(
                        id: $0.image.id, name: $0.image.repoTags.first ?? String($0.image.id.prefix(19)), tags: $0.image.repoTags,
                        estimatedBytes: sizes.images[$0.image.id] ?? $0.image.uniqueSize,
                        cascade: wasUsed ? "unused once the stopped containers planned before it are removed" : nil)
                }
        case .volumes:
            for v in try docker.listUnusedVolumes() {
                if isProtected(v.labels) {
                    out.skipped.append("\(v.name): carries \(settings.protectLabel)")
                } else if isKept([v.name]) {
                    out.skipped.append("\(v.name): matches remediation.keep_pattern")
                } else if v.isAnonymous || settings.namedVolumeLabel.matches(v.labels) {
                    out.candidates.append(Candidate(id: v.name, name: v.name, estimatedBytes: sizes.volumes[v.name]))
                } else {
                    out.skipped.append(
                        "\(v.name): a named volume without \(settings.namedVolumeLabel.isNone ? "a removal label (remediation.disk.named_volume_label is empty)" : settings.namedVolumeLabel.description)"
                    )
                }
            }
        case .containerLogs:
            var eligible: [Candidate] = []
            var untouchable: (bytes: Int64, containers: Int) = (0, 0)
            for c in try docker.listContainers() {
                let optedIn = settings.logsAll || settings.logsLabel.matches(c.labels)
                let inspect = try docker.inspectContainer(c.id)
                guard inspect.logDriver == "json-file", !inspect.logPath.isEmpty else { continue }
                let size = logFiles.size(inspect.logPath) ?? 0
                var reason: String?
                if isProtected(c.labels) {
                    reason = "carries \(settings.protectLabel)"
                } else if isKept([c.name]) {
                    reason = "matches remediation.keep_pattern"
                } else if !optedIn {
                    reason = "not opted in (\(settings.logsLabel))"
                } else if size <= settings.logsTruncateAbove {
                    reason = "log \(size) bytes, not above remediation.disk.logs_truncate_above"
                }
                if let reason {
                    untouchable.bytes += size
                    untouchable.containers += 1
                    if size > 0 { out.skipped.append("\(c.name): \(reason)") }
                    continue
                }
                eligible.append(Candidate(id: c.id, name: c.name, estimatedBytes: size, logPath: inspect.logPath))
            }
            out.candidates = eligible.sorted { ($0.estimatedBytes ?? 0, $1.name) > ($1.estimatedBytes ?? 0, $0.name) }
            out.skipped.append("json-file logs it may not touch: \(untouchable.bytes) bytes in \(untouchable.containers) container(s)")
        case .buildCache:
            break
        }
        return out
    }
}

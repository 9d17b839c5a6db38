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

        public init(
            enabled: Bool = true, dryRun: Bool = false, thresholds: DiskThresholds, steps: [DiskStep],
            buildCacheKeepBytes: Int64 = 0, minAge: Duration = .seconds(3600),
            protectLabel: LabelSelector = "docker-watchdog.protect=true", keepPattern: String = "", namedVolumeLabel: LabelSelector = .none,
            cooldown: Duration = .seconds(600)
        ) {
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
    }

    struct State {
        var active = false
        var reason: String?
        /// The end of the cool-down after an episode that did not reach the target (monotonic, so a
        /// wall-clock step neither stretches nor cuts it), and the same moment as a date for messages.
        var coolingUntil: ContinuousClock.Instant?
        var coolingUntilDate: Date?
        var lastPlan: [String] = []
    }

    public let settings: Settings
    private let docker: any RemediationDocker
    private let measure: @Sendable () -> FilesystemStats?
    private let ledger: ActionLedger
    private let clock: PolicyClock
    private let keep: NamePattern?
    private let state = Mutex(State())

    public init(
        settings: Settings, docker: any RemediationDocker, measure: @escaping @Sendable () -> FilesystemStats?,
        ledger: ActionLedger, clock: PolicyClock = .system
    ) {
        self.settings = settings
        self.docker = docker
        self.measure = measure
        self.ledger = ledger
        self.clock = clock
        self.keep = NamePattern(settings.keepPattern)
    }

    public var underPressure: Bool { state.withLock { $0.active } }

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

    /// One evaluation: update the hysteresis state and, under pressure, run the ladder.
    public func evaluate() {
        guard settings.enabled else { return }
        guard let fs = measure() else {
            state.withLock { $0.lastPlan = ["cannot measure the Docker root's filesystem"] }
            return
        }
        let current = clock.monotonic()
        let (active, cooling, coolingDate) = state.withLock { s -> (Bool, ContinuousClock.Instant?, Date?) in
            s.active = settings.thresholds.nextState(active: s.active, fs)
            s.reason = s.active ? (settings.thresholds.pressure(fs) ?? "below target") : nil
            return (s.active, s.coolingUntil, s.coolingUntilDate)
        }
        guard active else {
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
        runLadder(reason: state.withLock { $0.reason } ?? "disk pressure")
    }

    private func runLadder(reason: String) {
        var planned: [String] = []
        var recovered = false
        ladder: for step in DiskStep.allCases where settings.steps.contains(step) {
            switch step {
            case .buildCache:
                planned.append("build_cache: prune unused build cache, keeping \(settings.buildCacheKeepBytes) bytes")
                recovered = act(step, targets: ["build cache"], reason: reason) {
                    do {
                        return try docker.pruneBuildCache(keepStorage: settings.buildCacheKeepBytes).removed
                    } catch DockerError.http(404, _, _) {
                        // No /build/prune: an engine without BuildKit (Podman builds with buildah)
                        // has no build cache to prune.
                        return []
                    }
                }
            case .danglingImages:
                planned.append("dangling_images: prune dangling images without the protection label")
                recovered = act(step, targets: ["dangling images"], reason: reason) {
                    try docker.pruneDanglingImages(protectLabel: settings.protectLabel.isNone ? nil : settings.protectLabel.description).removed
                }
            case .stoppedContainers, .unusedImages, .volumes:
                let candidates: [Candidate]
                do {
                    candidates = try self.candidates(step)
                } catch {
                    ledger.perform(policy: "disk", action: step.rawValue, targets: [], reason: reason, dryRun: false, now: clock.wall()) {
                        throw error
                    }
                    continue
                }
                planned.append("\(step.rawValue): " + (candidates.isEmpty ? "nothing eligible" : candidates.map(\.name).joined(separator: ", ")))
                for candidate in candidates {
                    recovered = act(step, targets: [candidate.name], reason: reason) {
                        switch step {
                        case .stoppedContainers: try docker.removeContainer(candidate.id)
                        case .unusedImages:
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
        state.withLock { s in
            s.lastPlan = planned
            if recovered {
                s.active = false
                s.coolingUntil = nil
                s.coolingUntilDate = nil
            } else {
                // Dry runs and episodes that ran out of steps wait before trying again.
                let (wall, monotonic) = clock.now()
                s.coolingUntil = monotonic + settings.cooldown
                s.coolingUntilDate = wall.addingTimeInterval(seconds(settings.cooldown))
            }
        }
        if !recovered && !settings.dryRun {
            ledger.setSuppressed("disk", reason: "every enabled step ran and free space is still below the target")
        }
    }

    /// Runs one audited action; returns true when the target is reached afterwards.
    private func act(_ step: DiskStep, targets: [String], reason: String, _ body: () throws -> [String]) -> Bool {
        let before = measure()
        let record = ledger.perform(policy: "disk", action: step.rawValue, targets: targets, reason: reason, dryRun: settings.dryRun, now: clock.wall()) {
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

    /// The items a per-item step may remove, in the order it removes them.
    ///
    /// Ages compare Docker's own timestamps (finished, created, tagged) with the wall clock.
    public func candidates(_ step: DiskStep) throws -> [Candidate] {
        let t = clock.wall()
        let minAge = Double(settings.minAge.components.seconds)
        switch step {
        case .stoppedContainers:
            var result: [Candidate] = []
            for c in try docker.listContainers() where ["exited", "created", "dead"].contains(c.state) {
                if isProtected(c.labels) || isKept([c.name]) { continue }
                let inspect = try docker.inspectContainer(c.id)
                // A container its restart policy would bring back is not "stopped".
                if ["always", "unless-stopped"].contains(inspect.restartPolicy) { continue }
                let since = inspect.state.finishedAt ?? c.created.map { Date(timeIntervalSince1970: Double($0)) } ?? t
                if t.timeIntervalSince(since) < minAge { continue }
                result.append(Candidate(id: c.id, name: c.name))
            }
            return result
        case .unusedImages:
            let containers = try docker.listContainers()
            let used = Set(containers.map(\.imageID)).union(containers.map(\.image))
            var eligible: [(image: ImageSummary, since: Date)] = []
            for image in try docker.listImages() {
                if used.contains(image.id) || image.repoTags.contains(where: used.contains) || isProtected(image.labels)
                    || isKept(image.repoTags + [image.id])
                {
                    continue
                }
                // Young means built (Created) or pulled/tagged (LastTagTime) less than min_age ago.
                let created = Date(timeIntervalSince1970: Double(image.created))
                let tagged = try docker.imageLastTagTime(image.id) ?? created
                let since = max(created, tagged)
                if t.timeIntervalSince(since) < minAge { continue }
                eligible.append((image, since))
            }
            // Least recently built or pulled first: Docker keeps no last-use time for images.
            return eligible.sorted { ($0.since, $0.image.id) < ($1.since, $1.image.id) }
                .map {
                    Candidate(
                        id: $0.image.id, name: $0.image.repoTags.first ?? String($0.image.id.prefix(19)),
                        tags: $0.image.repoTags.filter { $0 != "<none>:<none>" })
                }
        case .volumes:
            return try docker.listUnusedVolumes().filter { v in
                if isProtected(v.labels) || isKept([v.name]) { return false }
                return v.isAnonymous || settings.namedVolumeLabel.matches(v.labels)
            }.map { Candidate(id: $0.name, name: $0.name) }
        case .buildCache, .danglingImages:
            return []
        }
    }
}

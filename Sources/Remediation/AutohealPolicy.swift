import DockerEngine
import FoundationEssentials
import Logging
import Locking
import Containers
import Sampling
import WatchdogConfig

/// Restarts containers that stay unhealthy: opt-in, patient, and bounded.
///
/// A container is a candidate only if it opted in (the label, or `all`), does not carry the
/// protection label, is running, and has been unhealthy for at least `minUnhealthy`. After its
/// first restart the next one waits `backoff`, then twice that, up to `maxBackoff`; after
/// `maxRestarts` consecutive restarts that did not make it healthy, it is left alone (and the
/// policy reports itself suppressed) until it turns healthy again. Right before acting the
/// container is inspected again, so a container that recovered in the meantime is not restarted.
/// With `stack`, the other unhealthy members of a restarted container's compose project are
/// restarted with it. Container health comes from the container tracker (the containers
/// collector); without it the policy sees nothing and does nothing.
///
/// Waits are elapsed time on the monotonic clock (see `PolicyClock`): the backoff after an attempt,
/// and `minUnhealthy`, counted from the moment the container turned unhealthy as the tracker
/// reports it (an event time from Docker, or when a list first showed it), turned into a monotonic
/// instant when the policy first sees it. A wall-clock step then neither stretches nor cuts them.
public final class AutohealPolicy: RemediationPolicy {
    public struct Settings: Sendable {
        public var enabled: Bool
        public var dryRun: Bool
        /// `key=value` (or a bare key) that opts a container in; empty: only `all` does.
        public var label: LabelSelector
        public var all: Bool
        public var minUnhealthy: Duration
        public var backoff: Duration
        public var maxBackoff: Duration
        public var maxRestarts: Int
        public var stack: Bool
        public var protectLabel: LabelSelector

        public init(
            enabled: Bool = true, dryRun: Bool = false, label: LabelSelector = "docker-watchdog.autoheal=true", all: Bool = false,
            minUnhealthy: Duration = .seconds(60), backoff: Duration = .seconds(30), maxBackoff: Duration = .seconds(1800),
            maxRestarts: Int = 5, stack: Bool = false, protectLabel: LabelSelector = "docker-watchdog.protect=true"
        ) {
            self.enabled = enabled
            self.dryRun = dryRun
            self.label = label
            self.all = all
            self.minUnhealthy = minUnhealthy
            self.backoff = backoff
            self.maxBackoff = maxBackoff
            self.maxRestarts = maxRestarts
            self.stack = stack
            self.protectLabel = protectLabel
        }

        /// The wait after `restarts` restarts (at least one) before the next: backoff, doubling, capped.
        public func delay(afterRestarts restarts: Int) -> TimeInterval {
            let base = seconds(backoff)
            let doubled = base * Double(sign: .plus, exponent: max(0, min(restarts - 1, 62)), significand: 1)
            return max(base, min(doubled, seconds(maxBackoff)))
        }
    }

    /// What autoheal remembers of one container since it last was healthy.
    struct Heal {
        /// Restarts that did not (yet) make the container healthy.
        var restarts = 0
        /// The last attempt (run, failed, or planned in a dry run), as a date: compared with the
        /// tracker's `lastHealthy` (a Docker event time, or a list's time) to see a recovery.
        var lastAttempt: Date?
        /// The same moment on the monotonic clock: the backoff is counted from it.
        var lastAttemptInstant: ContinuousClock.Instant?
        var capLogged = false
    }

    struct State {
        var heals: [String: Heal] = [:]
        /// Per unhealthy container: the tracker's `unhealthySince` and its monotonic instant, taken
        /// when the policy first saw that value (so later wall-clock steps do not move it).
        var unhealthyAnchors: [String: (since: Date, instant: ContinuousClock.Instant)] = [:]
        var lastPlan: [String] = ["not evaluated yet"]
        /// Heals read back from the audit log, by container name (records name their targets), taken
        /// up by the container of that name when the policy first sees it.
        var restoredByName: [String: Heal] = [:]
        /// Set when the audit log could not all be read: every container's first restart waits the
        /// backoff from this moment.
        var damagedAt: (date: Date, instant: ContinuousClock.Instant)?
    }

    public let name = "autoheal"
    public let settings: Settings
    private let containers: @Sendable () -> [TrackedContainer]?
    private let docker: any RemediationDocker
    private let ledger: ActionLedger
    private let logger: Logger
    private let clock: PolicyClock
    private let state = Mutex(State())

    public init(
        settings: Settings, containers: @escaping @Sendable () -> [TrackedContainer]?, docker: any RemediationDocker,
        ledger: ActionLedger, logger: Logger, clock: PolicyClock = .system
    ) {
        self.settings = settings
        self.containers = containers
        self.docker = docker
        self.ledger = ledger
        self.logger = logger
        self.clock = clock
    }

    public var enabled: Bool { settings.enabled }
    public var dryRun: Bool { settings.dryRun }
    public var plan: [String] { state.withLock { $0.lastPlan } }

    /// Consecutive restarts without recovery of a container, by ID (for tests and the plan).
    public func restarts(of id: String) -> Int { state.withLock { $0.heals[id]?.restarts ?? 0 } }

    /// Restarts further apart than this are not one streak: the container must have recovered in
    /// between (a streak's waits never exceed `maxBackoff` plus `minUnhealthy`), so the audit log is
    /// read back over `maxRestarts` such gaps.
    var streakGap: Duration { (settings.maxBackoff + settings.minUnhealthy) * 2 }

    public var memoryHorizon: Duration { streakGap * max(1, settings.maxRestarts) }

    /// Continues earlier processes' streaks: per container name, the restarts of the last streak
    /// (an interrupted restart counts: it may have run) with the backoff from the last one, and
    /// the cap when the last record says autoheal gave up on it. The count resets, as in one
    /// process, once the container is seen healthy after its last restart.
    public func restore(from history: AuditHistory, at now: (wall: Date, monotonic: ContinuousClock.Instant)) {
        var byName: [String: [AuditRecord]] = [:]
        for r in history.records where r.policy == name && r.action == "restart_container" {
            guard let target = r.targets.first else { continue }
            if (!r.dryRun && r.phase == "started") || (r.dryRun && r.phase == "planned") || r.phase == "skipped" {
                byName[target, default: []].append(r)
            }
        }
        var restored: [String: Heal] = [:]
        for (target, records) in byName {
            var streak: [AuditRecord] = []
            for r in records.reversed() {
                if let next = streak.last, next.time.timeIntervalSince(r.time) > seconds(streakGap) { break }
                streak.append(r)
            }
            guard let last = streak.first else { continue }
            var heal = Heal()
            heal.restarts = streak.filter { !$0.dryRun && $0.phase == "started" }.count
            if last.phase == "skipped" { heal.restarts = max(heal.restarts, settings.maxRestarts) }
            heal.capLogged = heal.restarts >= settings.maxRestarts
            let attempt = streak.first { $0.phase != "skipped" }?.time ?? last.time
            heal.lastAttempt = attempt
            heal.lastAttemptInstant = PolicyClock.instant(of: attempt, at: now)
            restored[target] = heal
        }
        state.withLock { s in
            s.restoredByName = restored
            if history.isDamaged {
                let at = history.modified ?? now.wall
                s.damagedAt = (at, PolicyClock.instant(of: at, at: now))
            }
        }
    }

    /// Hands restored heals to the containers that carry their names (once per container).
    private func adoptRestored(_ list: [TrackedContainer]) {
        state.withLock { s in
            guard !s.restoredByName.isEmpty || s.damagedAt != nil else { return }
            for c in list where s.heals[c.id] == nil {
                if let heal = s.restoredByName.removeValue(forKey: c.name) {
                    s.heals[c.id] = heal
                } else if let damaged = s.damagedAt, c.health == "unhealthy" {
                    var heal = Heal()
                    (heal.lastAttempt, heal.lastAttemptInstant) = damaged
                    s.heals[c.id] = heal
                }
            }
            // The unreadable log delays each container once: as if each had been restarted then.
            if let damaged = s.damagedAt, clock.monotonic() - damaged.instant > settings.maxBackoff { s.damagedAt = nil }
        }
    }

    public func isOptedIn(_ labels: [String: String]) -> Bool {
        settings.all || settings.label.matches(labels)
    }

    public func isProtected(_ labels: [String: String]) -> Bool {
        settings.protectLabel.matches(labels)
    }

    public func evaluate() {
        guard settings.enabled else { return }
        guard let list = containers() else {
            state.withLock { $0.lastPlan = ["the containers collector is off (collector.containers.enabled): autoheal sees no container"] }
            ledger.setSuppressed(name, reason: nil)
            return
        }
        let (t, m) = clock.now()
        adoptRestored(list)
        forgetRecovered(list)
        let (heals, anchors) = anchorUnhealthy(list, now: (t, m))

        var plan: [String] = []
        var due: [TrackedContainer] = []
        var capped: [String] = []
        var optedIn = 0
        // Opted-in containers only, then sorted: sorting every container of a large host each
        // round was most of this evaluation's cost.
        for c in list.filter({ isOptedIn($0.labels) }).sorted(by: { $0.name < $1.name }) {
            optedIn += 1
            guard c.health == "unhealthy" else { continue }
            if isProtected(c.labels) {
                plan.append("\(c.name): unhealthy, but it carries \(settings.protectLabel): never restarted")
                continue
            }
            guard c.state == "running" else {
                plan.append("\(c.name): unhealthy and \(c.state): left to Docker")
                continue
            }
            let heal = heals[c.id] ?? Heal()
            if heal.restarts >= settings.maxRestarts {
                capped.append(c.name)
                plan.append("\(c.name): left alone after \(heal.restarts) restarts that did not make it healthy, until it turns healthy again")
                continue
            }
            let readyAt = readyTime(anchors[c.id] ?? m, heal)
            if m >= readyAt {
                due.append(c)
                plan.append("\(c.name): restart \(heal.restarts + 1) of at most \(settings.maxRestarts) (unhealthy since \(iso(c.unhealthySince ?? t)))")
            } else {
                let why = heal.lastAttempt == nil ? "remediation.autoheal.min_unhealthy" : "backoff after \(heal.restarts) restart(s)"
                plan.append("\(c.name): unhealthy; restart not before \(iso(t.addingTimeInterval(seconds(readyAt - m)))) (\(why))")
            }
        }
        if plan.isEmpty {
            plan.append("no opted-in container is unhealthy (\(optedIn) opted in\(settings.all ? ", remediation.autoheal.all is on" : " with \(settings.label)"))")
        }
        state.withLock { $0.lastPlan = plan }
        ledger.setSuppressed(name, reason: capped.isEmpty ? nil : "left alone after \(settings.maxRestarts) restarts without recovering: \(capped.joined(separator: ", "))")
        logCapped(list, capped: capped)

        var restarted = Set<String>()
        for c in due where !restarted.contains(c.id) {
            heal(c, reason: "unhealthy since \(iso(c.unhealthySince ?? t)) (at least \(formattedDuration(settings.minUnhealthy)))")
            restarted.insert(c.id)
            guard settings.stack, let project = c.project else { continue }
            let members = list.filter { m in
                m.project == project && !restarted.contains(m.id) && m.health == "unhealthy" && m.state == "running"
                    && isOptedIn(m.labels) && !isProtected(m.labels) && (heals[m.id]?.restarts ?? 0) < settings.maxRestarts
            }
            for m in members.sorted(by: { $0.name < $1.name }) {
                heal(m, reason: "unhealthy member of compose project \(project), restarted together with \(c.name)")
                restarted.insert(m.id)
            }
        }
    }

    /// The earliest instant the container may be restarted: unhealthy for `minUnhealthy` (counted
    /// from the last attempt too, when the tracker missed the short healthy spell after it), and the
    /// backoff since the last attempt. All monotonic.
    private func readyTime(_ unhealthySince: ContinuousClock.Instant, _ heal: Heal) -> ContinuousClock.Instant {
        var since = unhealthySince
        if let last = heal.lastAttemptInstant, last > since { since = last }
        var ready = since + settings.minUnhealthy
        if let last = heal.lastAttemptInstant {
            ready = max(ready, last + .seconds(settings.delay(afterRestarts: heal.restarts)))
        }
        return ready
    }

    /// Turns each unhealthy container's `unhealthySince` into a monotonic instant the first time the
    /// policy sees that value, and forgets the others. (A container without one counts from the
    /// current evaluation, every time, as before.) Returns the heals and the instants by container ID.
    private func anchorUnhealthy(
        _ list: [TrackedContainer], now: (wall: Date, monotonic: ContinuousClock.Instant)
    ) -> ([String: Heal], [String: ContinuousClock.Instant]) {
        state.withLock { s in
            var anchors: [String: (since: Date, instant: ContinuousClock.Instant)] = [:]
            for c in list where c.health == "unhealthy" {
                let since = c.unhealthySince ?? now.wall
                if let known = s.unhealthyAnchors[c.id], known.since == since {
                    anchors[c.id] = known
                } else {
                    anchors[c.id] = (since, PolicyClock.instant(of: since, at: now))
                }
            }
            s.unhealthyAnchors = anchors
            return (s.heals, anchors.mapValues(\.instant))
        }
    }

    /// A container that turned healthy after its last restart starts afresh; vanished ones are forgotten.
    private func forgetRecovered(_ list: [TrackedContainer]) {
        // Only the containers with a restart record are looked up (usually none): indexing all of
        // a large host every evaluation was most of its cost.
        let healed = state.withLock { Set($0.heals.keys) }
        guard !healed.isEmpty else { return }
        var byID: [String: TrackedContainer] = [:]
        for c in list where healed.contains(c.id) && byID[c.id] == nil { byID[c.id] = c }
        let recovered = state.withLock { s -> [(String, Int)] in
            var out: [(String, Int)] = []
            for (id, heal) in s.heals {
                guard let c = byID[id] else {
                    s.heals[id] = nil
                    continue
                }
                let healthyAfter = c.lastHealthy.map { last in heal.lastAttempt.map { last > $0 } ?? true } ?? false
                if c.health == "healthy" || healthyAfter {
                    s.heals[id] = nil
                    if heal.restarts > 0 { out.append((c.name, heal.restarts)) }
                }
            }
            return out
        }
        for (name, restarts) in recovered {
            logger.info("autoheal: container is healthy again", metadata: ["container": "\(name)", "restarts": "\(restarts)"])
        }
    }

    private func logCapped(_ list: [TrackedContainer], capped: [String]) {
        let newly = state.withLock { s -> [String] in
            var out: [String] = []
            for c in list where capped.contains(c.name) && s.heals[c.id]?.capLogged == false {
                s.heals[c.id]?.capLogged = true
                out.append(c.name)
            }
            return out
        }
        for name in newly {
            ledger.skip(
                policy: self.name, action: "restart_container", targets: [name],
                reason: "left alone after \(settings.maxRestarts) restarts that did not make it healthy, until it turns healthy again",
                dryRun: settings.dryRun, now: clock.wall())
            logger.warning(
                "autoheal: restart cap reached; the container is left alone until it turns healthy",
                metadata: [
                    "container": "\(name)", "max_restarts": "\(settings.maxRestarts)",
                ])
        }
    }

    /// One audited restart, after checking with Docker that the container still needs it.
    private func heal(_ c: TrackedContainer, reason: String) {
        let inspect: ContainerInspect
        do {
            inspect = try docker.inspectContainer(c.id)
        } catch {
            logger.info("autoheal: cannot inspect the container; not restarting it", metadata: ["container": "\(c.name)", "error": "\(error)"])
            return
        }
        let health = inspect.state.health?.status ?? "none"
        guard health == "unhealthy", inspect.state.status == "running", !isProtected(inspect.config.labels),
            isOptedIn(inspect.config.labels)
        else {
            logger.info(
                "autoheal: the container changed before its restart; not restarting it",
                metadata: [
                    "container": "\(c.name)", "health": "\(health)", "state": "\(inspect.state.status)",
                ])
            return
        }
        let record = ledger.perform(
            policy: name, action: "restart_container", targets: [c.name], reason: reason, dryRun: settings.dryRun, now: clock.wall()
        ) {
            try docker.restartContainer(c.id)
            return ActionOutcome(removed: [c.name])
        }
        let notRun = record.phase == "failed" && (record.error ?? "").hasPrefix("not run")
        state.withLock { s in
            var heal = s.heals[c.id] ?? Heal()
            // An action the audit log refused never ran: it waits like a retry but is no restart.
            if !notRun { heal.restarts += 1 }
            (heal.lastAttempt, heal.lastAttemptInstant) = clock.now()
            s.heals[c.id] = heal
        }
    }
}

private func iso(_ date: Date) -> String { date.formatted(.iso8601) }

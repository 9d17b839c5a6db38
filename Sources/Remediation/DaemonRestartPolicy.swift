import FoundationEssentials
import TextFormatting
import Logging
import Locking
import Sampling

/// Restarts a Docker daemon that stopped answering, carefully.
///
/// It acts only when the daemon has failed `failures` consecutive probes spanning at least
/// `minSpan`, and only for a daemon the watchdog has seen answer since it started (a daemon it has
/// never reached is more often a wrong `docker.host` than a hung one). Each episode is: SIGUSR1 to
/// dockerd for a goroutine stack dump (action `stack_dump`, when its pid is known), the restart
/// command (action `restart_daemon`; a non-zero exit, a command past its deadline, or a daemon that
/// does not answer `/_ping` within `verifyTimeout` afterwards is a failed restart). Between two
/// restarts at least `cooldown` passes; at most `maxRestarts` happen in any `window`. Past the cap
/// the policy stops and reports itself suppressed until a human intervenes: it acts again only
/// after the daemon has answered once and the window has room again. The failure span, cool-down,
/// window and verification deadline are elapsed time on the monotonic clock (see `PolicyClock`):
/// a wall-clock step forward cannot allow a second restart inside the cool-down.
public final class DaemonRestartPolicy: RemediationPolicy {
    public struct Settings: Sendable {
        public var enabled: Bool
        public var dryRun: Bool
        public var failures: Int
        public var minSpan: Duration
        public var restartCommand: String
        public var pidFile: String
        public var verifyTimeout: Duration
        public var cooldown: Duration
        public var maxRestarts: Int
        public var window: Duration
        /// How long to let dockerd write its stack dump before the restart command runs.
        public var stackDumpGrace: Duration
        /// Pause between two verification pings.
        public var verifyPollInterval: Duration

        public init(
            enabled: Bool = false, dryRun: Bool = false, failures: Int = 3, minSpan: Duration = .seconds(30),
            restartCommand: String = "systemctl restart docker", pidFile: String = "/var/run/docker.pid",
            verifyTimeout: Duration = .seconds(120), cooldown: Duration = .seconds(900), maxRestarts: Int = 3,
            window: Duration = .seconds(6 * 3600), stackDumpGrace: Duration = .seconds(2), verifyPollInterval: Duration = .seconds(1)
        ) {
            self.enabled = enabled
            self.dryRun = dryRun
            self.failures = failures
            self.minSpan = minSpan
            self.restartCommand = restartCommand
            self.pidFile = pidFile
            self.verifyTimeout = verifyTimeout
            self.cooldown = cooldown
            self.maxRestarts = maxRestarts
            self.window = window
            self.stackDumpGrace = stackDumpGrace
            self.verifyPollInterval = verifyPollInterval
        }
    }

    struct State {
        /// Restarts attempted (run, whether they worked or not) inside the window (monotonic).
        var restarts: [ContinuousClock.Instant] = []
        /// The last restart, or planned restart in a dry run: the start of the cool-down (monotonic),
        /// and the same moment as a date for messages.
        var lastRestart: (instant: ContinuousClock.Instant, date: Date)?
        /// The cap was reached while the daemon was down: wait for a human.
        var capped = false
        var lastPlan: [String] = ["not evaluated yet"]
        /// The live-restore value last warned about (nil: not warned yet).
        var warnedLiveRestore: Bool?
    }

    public let name = "daemon"
    public let settings: Settings
    private let status: @Sendable () -> HostStatus.Daemon
    private let control: any DaemonControl
    private let ledger: ActionLedger
    private let logger: Logger
    private let clock: PolicyClock
    private let sleep: @Sendable (Duration) -> Void
    private let state = Mutex(State())

    public init(
        settings: Settings, status: @escaping @Sendable () -> HostStatus.Daemon, control: any DaemonControl, ledger: ActionLedger,
        logger: Logger, clock: PolicyClock = .system,
        sleep: @escaping @Sendable (Duration) -> Void = { sleepThread(for: $0) }
    ) {
        self.settings = settings
        self.status = status
        self.control = control
        self.ledger = ledger
        self.logger = logger
        self.clock = clock
        self.sleep = sleep
    }

    public var enabled: Bool { settings.enabled }
    public var dryRun: Bool { settings.dryRun }
    public var plan: [String] { state.withLock { $0.lastPlan } }

    /// Restarts attempted inside the current window.
    public var restartsInWindow: Int { state.withLock { $0.restarts.count } }

    public var memoryHorizon: Duration { max(settings.window, settings.cooldown) }

    /// Earlier processes' restarts count against the cap (an interrupted one too: it may have run)
    /// and the last one, or the last dry-run plan, starts the cool-down; an unreadable audit log
    /// starts the cool-down at its last change.
    public func restore(from history: AuditHistory, at now: (wall: Date, monotonic: ContinuousClock.Instant)) {
        let attempts = history.attempts(policy: name, action: "restart_daemon")
        var last = (attempts + history.dryRuns(policy: name, action: "restart_daemon")).map(\.time).max()
        if history.isDamaged { last = max(last ?? .distantPast, history.modified ?? now.wall) }
        state.withLock { s in
            s.restarts = attempts.map { PolicyClock.instant(of: $0.time, at: now) }.filter { now.monotonic - $0 <= settings.window }
            if let last { s.lastRestart = (PolicyClock.instant(of: last, at: now), last) }
        }
    }

    public func evaluate() {
        guard settings.enabled else { return }
        let (t, m) = clock.now()
        let d = status()
        warnAboutLiveRestore(d.liveRestore)
        let (used, lastRestart, wasCapped) = state.withLock { s -> (Int, (instant: ContinuousClock.Instant, date: Date)?, Bool) in
            s.restarts.removeAll { m - $0 > settings.window }
            if d.up && s.restarts.count < settings.maxRestarts { s.capped = false }
            return (s.restarts.count, s.lastRestart, s.capped)
        }
        var plan: [String] = []
        if d.liveRestore == false { plan.append("live-restore is off: a daemon restart stops every container on this host") }
        plan.append("restarts in the last \(formattedDuration(settings.window)): \(used) of \(settings.maxRestarts)")

        // The span of the failure streak, measured by the watchdog itself: monotonic.
        let span = d.failingSinceInstant.map { seconds(m - $0) } ?? 0
        let failing = !d.up && d.consecutiveFailures >= settings.failures && d.failingSinceInstant != nil && span >= seconds(settings.minSpan)
        guard failing else {
            if d.up {
                plan.insert("the daemon answers: nothing to do", at: 0)
            } else {
                plan.insert(
                    "the daemon failed \(d.consecutiveFailures) consecutive probe(s) over \(Int(span))s; a restart needs \(settings.failures) spanning \(formattedDuration(settings.minSpan))",
                    at: 0)
            }
            finish(plan, suppression: wasCapped ? capReason(used) : nil)
            return
        }
        guard d.everAnswered else {
            plan.insert("the daemon has not answered since the watchdog started: a daemon never seen up is not restarted (check docker.host)", at: 0)
            finish(plan, suppression: nil)
            return
        }
        let reason =
            "the daemon failed \(d.consecutiveFailures) consecutive probes over \(Int(span))s"
            + (d.lastError.map { " (last error: \($0))" } ?? "")
            + (d.liveRestore == false ? "; live-restore is off: the restart stops every container" : "")
        if wasCapped || used >= settings.maxRestarts {
            state.withLock { $0.capped = true }
            plan.insert("the daemon is down, but the restart cap is reached: waiting for a human", at: 0)
            finish(plan, suppression: capReason(used))
            return
        }
        if let lastRestart, m - lastRestart.instant < settings.cooldown {
            // The dates are for people; the decision above is elapsed time.
            let until = lastRestart.date.addingTimeInterval(seconds(settings.cooldown))
            plan.insert("the daemon is down; no restart before \(iso(until)) (cool-down after the restart at \(iso(lastRestart.date)))", at: 0)
            finish(plan, suppression: "cool-down until \(iso(until)) after the restart at \(iso(lastRestart.date))")
            return
        }
        // SIGUSR1 asks dockerd for a stack dump; Podman's service is not dockerd (the signal is not
        // a dump request there), so it gets none.
        let isPodman = status().engine == .podman
        let pid = settings.pidFile.isEmpty || isPodman ? nil : control.daemonPID(pidFile: settings.pidFile)
        var steps: [String] = []
        if let pid {
            steps.append("SIGUSR1 to dockerd (pid \(pid)) for a stack dump")
        } else if isPodman {
            steps.append("no stack dump (the engine is Podman, which has no SIGUSR1 stack dump)")
        } else {
            steps.append(settings.pidFile.isEmpty ? "no stack dump (remediation.daemon.pid_file is empty)" : "no stack dump (no live pid in \(settings.pidFile))")
        }
        steps.append("run `\(settings.restartCommand)`")
        steps.append("wait up to \(formattedDuration(settings.verifyTimeout)) for /_ping")
        plan.insert("restart the daemon (\(reason)): " + steps.joined(separator: ", then "), at: 0)
        finish(plan, suppression: nil)
        restart(pid: pid, reason: reason, at: (t, m))
    }

    private func restart(pid: Int32?, reason: String, at now: (wall: Date, monotonic: ContinuousClock.Instant)) {
        let t = now.wall
        state.withLock { s in
            s.lastRestart = (now.monotonic, t)
            if !settings.dryRun { s.restarts.append(now.monotonic) }
        }
        var dumpDirectory: String?
        if let pid {
            let directory = control.stackDumpDirectory(pid: pid)
            let record = ledger.perform(
                policy: name, action: "stack_dump", targets: ["dockerd pid \(pid)"],
                reason: "\(reason); dockerd writes goroutine-stacks-*.log to \(directory) and logs the path", dryRun: settings.dryRun, now: t
            ) {
                try control.requestStackDump(pid: pid)
                logger.notice(
                    "asked dockerd for a goroutine stack dump",
                    metadata: [
                        "pid": "\(pid)", "directory": "\(directory)",
                        "note": "dockerd writes goroutine-stacks-<time>.log there and logs 'goroutine stacks written to <path>'",
                    ])
                sleep(settings.stackDumpGrace)
                return ActionOutcome()
            }
            if record.phase == "finished" { dumpDirectory = directory }
        } else if !settings.pidFile.isEmpty && status().engine != .podman {
            logger.warning("dockerd's pid is unknown: restarting without a stack dump", metadata: ["pid_file": "\(settings.pidFile)"])
        }
        let command = settings.restartCommand
        let record = ledger.perform(policy: name, action: "restart_daemon", targets: [command], reason: reason, dryRun: settings.dryRun, now: clock.wall()) {
            let result = control.run(command, timeout: settings.verifyTimeout)
            let output = String(result.output.trimmingWhitespace())
            if result.timedOut {
                throw DaemonControlError("the restart command did not finish within \(formattedDuration(settings.verifyTimeout)) and was killed; output: \(output)")
            }
            guard result.status == 0 else {
                throw DaemonControlError("the restart command exited with status \(result.status); output: \(output)")
            }
            try verify()
            return ActionOutcome(removed: ["docker daemon"])
        }
        if record.phase == "finished" {
            logger.notice("docker daemon restarted and answers /_ping", metadata: ["command": "\(command)"])
        }
        if let dumpDirectory {
            if let path = control.findStackDump(in: dumpDirectory, since: t) {
                logger.notice("dockerd stack dump written", metadata: ["path": "\(path)"])
            } else {
                logger.notice(
                    "no new stack dump found yet; dockerd's log names it ('goroutine stacks written to')",
                    metadata: [
                        "directory": "\(dumpDirectory)"
                    ])
            }
        }
    }

    /// Pings until the daemon answers or `verifyTimeout` (elapsed time) passes.
    private func verify() throws {
        let deadline = clock.monotonic() + settings.verifyTimeout
        while true {
            let remaining = seconds(deadline - clock.monotonic())
            if remaining <= 0 { break }
            if control.ping(timeout: .milliseconds(Int64(min(remaining, 5) * 1000))) { return }
            sleep(settings.verifyPollInterval)
        }
        throw DaemonControlError("the daemon did not answer /_ping within \(formattedDuration(settings.verifyTimeout)) after the restart command")
    }

    private func finish(_ plan: [String], suppression: String?) {
        state.withLock { $0.lastPlan = plan }
        ledger.setSuppressed(name, reason: suppression)
    }

    private func capReason(_ used: Int) -> String {
        "restart cap reached (\(used) of \(settings.maxRestarts) in \(formattedDuration(settings.window))): no further restart until the daemon has answered again and the window has room; a human should look at the daemon"
    }

    private func warnAboutLiveRestore(_ liveRestore: Bool?) {
        guard let liveRestore else { return }
        let changed = state.withLock { s -> Bool in
            defer { s.warnedLiveRestore = liveRestore }
            return s.warnedLiveRestore != liveRestore
        }
        if changed && !liveRestore {
            logger.warning(
                "live-restore is off: a daemon restart by the watchdog will stop every container on this host",
                metadata: [
                    "hint": "set \"live-restore\": true in /etc/docker/daemon.json"
                ])
        }
    }
}

private func iso(_ date: Date) -> String { date.formatted(.iso8601) }

/// `90s` → "1m30s"-style text for plans and messages.
func formattedDuration(_ d: Duration) -> String {
    var s = Int(seconds(d).rounded())
    if s == 0 { return "\(Int(seconds(d) * 1000))ms" }
    var out = ""
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] where s >= size {
        out += "\(s / size)\(unit)"
        s %= size
    }
    return out
}

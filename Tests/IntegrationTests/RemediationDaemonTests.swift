import Foundation
import Testing
import WatchdogTestSupport

/// Daemon restart and container autoheal against real private daemons, each test with its own.
@Suite("Daemon restart and autoheal on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct RemediationDaemonTests {
    /// Freezes dockerd with SIGSTOP and resumes every pid it froze, whatever happens to the test.
    final class Freezer {
        private var frozen: [Int32] = []
        func freeze(_ daemon: PrivateDaemon) throws -> Int32 {
            let pid = try #require(daemon.pid, "no pid in \(daemon.pidFile)")
            frozen.append(pid)
            kill(pid, SIGSTOP)
            return pid
        }
        func thawAll() { for pid in frozen { kill(pid, SIGCONT) } }
    }

    /// The restart command the watchdog runs: the test bed's own restart of this private daemon
    /// (SIGCONT, SIGTERM by pid, start again on the same state).
    func restartCommand(_ daemon: PrivateDaemon) -> String {
        let stateDir = (daemon.dataRoot as NSString).deletingLastPathComponent
        let root = (stateDir as NSString).deletingLastPathComponent
        return "WATCHDOG_TEST_ROOT='\(root)' '\(PrivateDaemon.script)' restart '\(daemon.name)'"
    }

    func daemonWatchdog(_ daemon: PrivateDaemon, cooldown: String, maxRestarts: Int) throws -> WatchdogProcess {
        try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.daemon.interval", "500ms", "--collector.daemon.timeout", "500ms",
            "--docker.connect-timeout", "500ms", "--docker.request-timeout", "2s", "--collector.system-df.interval", "1h",
            "--collector.containers.enabled=false", "--remediation.interval", "500ms",
            "--remediation.daemon.enabled=true", "--remediation.daemon.failures", "3", "--remediation.daemon.min-span", "2s",
            "--remediation.daemon.restart-command", restartCommand(daemon), "--remediation.daemon.pid-file", daemon.pidFile,
            "--remediation.daemon.verify-timeout", "90s", "--remediation.daemon.cooldown", cooldown,
            "--remediation.daemon.max-restarts", String(maxRestarts), "--remediation.daemon.window", "6h",
        ])
    }

    func records(_ w: WatchdogProcess, action: String, phase: String) -> [[String: Any]] {
        w.auditRecords().filter { $0["action"] as? String == action && $0["phase"] as? String == phase }
    }

    /// Waits until the audit log has `count` records of `action` in `phase`.
    func waitForAudit(_ w: WatchdogProcess, action: String, phase: String, count: Int = 1, timeout: TimeInterval = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if records(w, action: action, phase: phase).count >= count { return }
            if let failed = w.auditRecords().first(where: { $0["phase"] as? String == "failed" }) {
                Issue.record("an action failed: \(failed)")
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw WaitFailure(description: "no \(count) \(action) \(phase) in the audit log after \(timeout) s: \(w.auditRecords())\nlog tail:\n\(w.log.suffix(3000))")
    }

    func plan(_ w: WatchdogProcess, _ policy: String) throws -> [String: Any] {
        let body = try w.get("/api/v1/plan").body
        let entries = try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]] ?? []
        return try #require(entries.first { $0["policy"] as? String == policy })
    }

    /// SIGSTOP: one restart (stack dump first), the daemon comes back and the watchdog sees it;
    /// frozen again inside the cool-down: no second restart, the policy says it is holding back.
    @Test func aFrozenDaemonIsRestartedOnceWithAStackDumpAndNotAgainInsideTheCoolDown() throws {
        let daemon = try PrivateDaemon(name: "rm-daemon-cool")
        defer { daemon.stop() }
        let freezer = Freezer()
        defer { freezer.thawAll() }
        let w = try daemonWatchdog(daemon, cooldown: "1h", maxRestarts: 3)
        defer { w.stop() }
        try w.waitFor("daemon up") { $0.value("docker_daemon_up") == 1 && $0.value("docker_daemon_live_restore_enabled") != nil }
        let execRoot = ((daemon.dataRoot as NSString).deletingLastPathComponent as NSString).appendingPathComponent("exec")
        let dumpsBefore = try stackDumps(execRoot)

        let frozenPid = try freezer.freeze(daemon)
        try waitForAudit(w, action: "restart_daemon", phase: "finished")
        // Podman's service is not dockerd: SIGUSR1 is no stack-dump request there, so none is asked.
        let dumps = daemon.isPodman ? 0 : 1
        #expect(records(w, action: "stack_dump", phase: "finished").count == dumps)
        if !daemon.isPodman {
            let dump = try #require(records(w, action: "stack_dump", phase: "finished").first)
            #expect(dump["targets"] as? [String] == ["dockerd pid \(frozenPid)"])
        }
        // The stack dump went before the restart.
        let order = w.auditRecords().compactMap { r -> String? in r["phase"] as? String == "started" ? r["action"] as? String : nil }
        #expect(order == (daemon.isPodman ? ["restart_daemon"] : ["stack_dump", "restart_daemon"]))
        // The watchdog notices the daemon is back, a new dockerd process.
        let back = try w.waitFor("daemon back up", timeout: 30) { $0.value("docker_daemon_up") == 1 }
        #expect(back.value("docker_daemon_consecutive_probe_failures") == 0)
        #expect(back.value("docker_watchdog_remediation_actions_total", ["policy": "daemon", "action": "restart_daemon"]) == 1)
        #expect((back.value("docker_watchdog_remediation_actions_total", ["policy": "daemon", "action": "stack_dump"]) ?? 0) == Double(dumps))
        let newPid = try #require(daemon.pid)
        #expect(newPid != frozenPid)
        #expect(try daemon.docker(["info", "--format", "{{.ServerVersion}}"]).isEmpty == false)
        if daemon.isPodman {
            #expect(!w.log.contains("asked dockerd for a goroutine stack dump"))
        } else {
            // dockerd wrote its goroutine dump into its exec root once it was resumed, and the watchdog said where to look.
            #expect(try stackDumps(execRoot).count > dumpsBefore.count, "no goroutine-stacks-*.log in \(execRoot)")
            #expect(w.log.contains("asked dockerd for a goroutine stack dump") && w.log.contains(execRoot))
        }
        #expect(w.log.contains("live-restore is off"))

        // Frozen again inside the cool-down: the policy holds back.
        _ = try freezer.freeze(daemon)
        try w.waitFor("daemon policy suppressed by the cool-down", timeout: 30) {
            $0.value("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 1
        }
        #expect((try plan(w, "daemon")["suppressed"] as? String)?.hasPrefix("cool-down until") == true)
        Thread.sleep(forTimeInterval: 5)
        #expect(records(w, action: "restart_daemon", phase: "started").count == 1)
        #expect(records(w, action: "stack_dump", phase: "planned").count == (daemon.isPodman ? 0 : 1))
        freezer.thawAll()
        try w.waitFor("daemon up after SIGCONT", timeout: 30) { $0.value("docker_daemon_up") == 1 }
    }

    /// With a cap of one restart: the second freeze (past the cool-down) is not acted on, and the
    /// suppression is reported in the metric, the log and the plan.
    @Test func pastTheCapTheDaemonPolicyStopsAndSaysSo() throws {
        let daemon = try PrivateDaemon(name: "rm-daemon-cap")
        defer { daemon.stop() }
        let freezer = Freezer()
        defer { freezer.thawAll() }
        let w = try daemonWatchdog(daemon, cooldown: "1s", maxRestarts: 1)
        defer { w.stop() }
        try w.waitFor("daemon up") { $0.value("docker_daemon_up") == 1 }

        _ = try freezer.freeze(daemon)
        try waitForAudit(w, action: "restart_daemon", phase: "finished")
        try w.waitFor("daemon back up", timeout: 30) { $0.value("docker_daemon_up") == 1 }
        Thread.sleep(forTimeInterval: 2)  // past the cool-down

        _ = try freezer.freeze(daemon)
        // Both in one sample: held back while the daemon is down (collectors publish separately,
        // so on a loaded machine a scrape can see one before the other).
        let suppressed = try w.waitFor("cap reached while the daemon is down", timeout: 30) {
            $0.value("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 1 && $0.value("docker_daemon_up") == 0
        }
        #expect(suppressed.value("docker_daemon_up") == 0)
        #expect((try plan(w, "daemon")["suppressed"] as? String)?.contains("restart cap reached") == true)
        #expect(w.log.contains("remediation suppressed") && w.log.contains("restart cap reached"))
        Thread.sleep(forTimeInterval: 5)
        #expect(records(w, action: "restart_daemon", phase: "started").count == 1)
        #expect(try w.samples().value("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 1)
        freezer.thawAll()
        try w.waitFor("daemon up after SIGCONT", timeout: 30) { $0.value("docker_daemon_up") == 1 }
    }

    func stackDumps(_ directory: String) throws -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("goroutine-stacks-") }
    }

    /// An opted-in container whose health check fails is restarted after the minimum time, with
    /// growing gaps, and left alone at the cap; an unlabelled one with the same failing check is never touched.
    @Test func autohealRestartsTheOptedInContainerWithBackoffUpToTheCapAndNeverTheOthers() throws {
        let daemon = try PrivateDaemon(name: "rm-autoheal")
        defer { daemon.stop() }
        // Exits promptly on SIGTERM (a busybox sleep as PID 1 would ignore it and wait out the stop timeout).
        let command = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        let health = ["--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "1s"]
        let run = ["run", "-d", "--network", "none", "--stop-timeout", "1"]
        try daemon.docker(run + ["--name", "healer", "--label", "docker-watchdog.autoheal=true"] + health + ["busybox:latest"] + command)
        try daemon.docker(run + ["--name", "bystander"] + health + ["busybox:latest"] + command)
        try daemon.docker(
            run + ["--name", "guarded", "--label", "docker-watchdog.autoheal=true", "--label", "docker-watchdog.protect=true"]
                + health + ["busybox:latest"] + command)
        let started = { (name: String) in try daemon.docker(["inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", name]) }
        let healerBefore = try started("healer")
        let bystanderBefore = try started("bystander")
        let guardedBefore = try started("guarded")

        let watchdogStartedAt = Date()
        let w = try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.daemon.interval", "1s",
            "--collector.system-df.interval", "1h", "--remediation.interval", "1s",
            "--remediation.autoheal.min-unhealthy", "3s", "--remediation.autoheal.backoff", "4s",
            "--remediation.autoheal.max-backoff", "16s", "--remediation.autoheal.max-restarts", "4",
        ])
        defer { w.stop() }
        // Each turns unhealthy on its own probe schedule (a busy host can delay a probe), so wait for
        // each; the bystander then stays unhealthy for good, never restarted.
        let unhealthy = try w.waitFor("healer unhealthy") { $0.value("docker_container_health_status", ["name": "healer"]) == 3 }
        let unhealthyAt = Date()
        try w.waitFor("bystander unhealthy") { $0.value("docker_container_health_status", ["name": "bystander"]) == 3 }
        #expect(unhealthy.value("docker_container_health_status", ["name": "guarded"]) != nil)

        try waitForAudit(w, action: "restart_container", phase: "finished", count: 4, timeout: 120)
        let starts = records(w, action: "restart_container", phase: "started")
        #expect(starts.allSatisfy { $0["targets"] as? [String] == ["healer"] })
        let formatter = ISO8601DateFormatter()
        let times = starts.compactMap { ($0["time"] as? String).flatMap(formatter.date(from:)) }
        #expect(times.count == 4)
        // Not before the minimum time of unhealthiness, counted from when the watchdog saw the
        // container unhealthy: its history entry for the turn when it saw one (this test's first
        // scrape showing it can be a round later), else its first sighting, no earlier than its
        // start (on a busy host the container can be unhealthy before the watchdog's first list,
        // which records no transition; the next entries are the turns after each restart). Audit
        // and history times are written to the second (truncated): a restart T >= U + 3 reads at
        // least U + 2.
        let history = try JSONSerialization.jsonObject(with: Data(try w.get("/api/v1/history").body)) as? [String: Any]
        let turnedTimes = (history?["transitions"] as? [[String: Any]] ?? []).filter {
            $0["container"] as? String == "healer" && $0["to"] as? String == "unhealthy"
        }.compactMap { ($0["time"] as? String).flatMap { formatter.date(from: $0) } }
        let first = try #require(times.first)
        let turnedAt = turnedTimes.filter { $0 <= first }.min()
        if let turnedAt {
            #expect(turnedAt <= unhealthyAt.addingTimeInterval(1), "the watchdog saw it turn unhealthy by the time it reported it")
        }
        let since = turnedAt ?? watchdogStartedAt
        #expect(
            first.timeIntervalSince(since) >= 3 - 1,
            "unhealthy since \(since) (\(turnedAt == nil ? "first sighting" : "history")), first restart \(first), history: \(String(describing: history))")
        // The backoff shows: each gap at least the doubled wait (second-resolution timestamps), and growing.
        let gaps = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
        #expect(gaps.count == 3)
        for (gap, wait) in zip(gaps, [4.0, 8.0, 16.0]) { #expect(gap >= wait - 1, "gaps \(gaps)") }
        #expect(gaps == gaps.sorted() && (gaps.last ?? 0) > (gaps.first ?? 0) + 8, "gaps \(gaps)")

        // At the cap: no fifth restart, and the policy reports itself suppressed.
        let capped = try w.waitFor("autoheal suppressed at the cap", timeout: 30) {
            $0.value("docker_watchdog_remediation_suppressed", ["policy": "autoheal"]) == 1
        }
        #expect(capped.value("docker_watchdog_remediation_actions_total", ["policy": "autoheal", "action": "restart_container"]) == 4)
        Thread.sleep(forTimeInterval: 20)  // longer than the largest backoff
        #expect(records(w, action: "restart_container", phase: "started").count == 4)
        #expect((try plan(w, "autoheal")["plan"] as? [String])?.contains { $0.hasPrefix("healer: left alone after 4 restarts") } == true)
        #expect(w.log.contains("restart cap reached"))
        // Docker saw the restarts; the unlabelled and the protected containers were never touched.
        #expect(try started("healer") != healerBefore)
        #expect(try started("bystander") == bystanderBefore)
        #expect(try started("guarded") == guardedBefore)
        #expect(try w.samples().value("docker_container_health_status", ["name": "bystander"]) == 3)
    }
}

struct WaitFailure: Error, CustomStringConvertible {
    let description: String
}

import DockerEngine
import Foundation
import Logging
import Testing
@testable import Containers
@testable import Remediation
@testable import Sampling

/// The audit log as the memory of remediation: a new process (new ledger, new policy, same audit
/// file, same clock) continues the cool-downs, backoffs and caps of the one before it.
@Suite("Remediation memory across watchdog restarts (real audit file, fake clock)")
struct RemediationMemoryTests {
    static let optIn = ["docker-watchdog.autoheal": "true"]

    /// One watchdog process's autoheal: its own ledger, policy and tracker over a shared audit file.
    struct AutohealProcess {
        let ledger: ActionLedger
        let policy: AutohealPolicy
        let tracker = ContainerTracker(historySize: 100)
        let docker: AutohealFakeDocker
        let clock: RemediationTestClock

        init(_ settings: AutohealPolicy.Settings, docker: AutohealFakeDocker, clock: RemediationTestClock, auditPath: String) {
            self.docker = docker
            self.clock = clock
            ledger = ActionLedger(audit: AuditLog(path: auditPath), logger: PolicyTestSupport.logger)
            let tracker = self.tracker
            policy = AutohealPolicy(
                settings: settings, containers: { tracker.containers }, docker: docker, ledger: ledger,
                logger: PolicyTestSupport.logger, clock: clock.policyClock)
            RemediationEngine(interval: .seconds(1), ledger: ledger, policies: [policy]).restoreFromAuditLog(clock: clock.policyClock)
        }

        func run(_ seconds: Int) {
            for _ in 0..<seconds {
                clock.advance(1)
                tracker.applyList(docker.list(), now: clock.now)
                policy.evaluate()
            }
        }
    }

    @Test func sixRestartsOfTheWatchdogInsideTheBackoffRestartTheContainerOnce() throws {
        let clock = RemediationTestClock()
        let docker = AutohealFakeDocker(clock: clock)
        docker.add("c1", .init(name: "flaky", labels: Self.optIn))
        let path = PolicyTestSupport.auditPath()
        let settings = AutohealPolicy.Settings(minUnhealthy: .seconds(5), backoff: .seconds(300), maxBackoff: .seconds(1200), maxRestarts: 3)
        AutohealProcess(settings, docker: docker, clock: clock, auditPath: path).run(10)
        #expect(docker.restarts(of: "c1").count == 1)
        // Six more processes, 20 s each: all inside the 300 s backoff.
        for _ in 0..<6 { AutohealProcess(settings, docker: docker, clock: clock, auditPath: path).run(20) }
        #expect(docker.restarts(of: "c1").count == 1, "a new process restarted the container inside the backoff")
        // The backoff ends 300 s after the first restart, whichever process is running then.
        let last = AutohealProcess(settings, docker: docker, clock: clock, auditPath: path)
        #expect(last.policy.restarts(of: "c1") == 0)  // adopted at the first round, by name
        last.run(200)
        let times = docker.restarts(of: "c1")
        #expect(times.count == 2)
        #expect(times.count == 2 && times[1].timeIntervalSince(times[0]) >= 300)
        #expect(last.policy.restarts(of: "c1") == 2)  // the streak continues across processes
    }

    @Test func theCapSurvivesARestartAndEndsWhenTheContainerTurnsHealthy() throws {
        let clock = RemediationTestClock()
        let docker = AutohealFakeDocker(clock: clock)
        docker.add("c1", .init(name: "flaky", labels: Self.optIn))
        let path = PolicyTestSupport.auditPath()
        let settings = AutohealPolicy.Settings(minUnhealthy: .seconds(5), backoff: .seconds(10), maxBackoff: .seconds(20), maxRestarts: 2)
        let first = AutohealProcess(settings, docker: docker, clock: clock, auditPath: path)
        first.run(120)
        #expect(docker.restarts(of: "c1").count == 2)
        #expect(PolicyTestSupport.auditLines(path).contains { $0["phase"] as? String == "skipped" })
        let second = AutohealProcess(settings, docker: docker, clock: clock, auditPath: path)
        second.run(600)
        #expect(docker.restarts(of: "c1").count == 2, "the cap reached by the first process was forgotten")
        #expect(second.ledger.suppression("autoheal")?.contains("flaky") == true)
        docker.update("c1") { $0.health = "healthy" }
        second.run(5)
        docker.update("c1") { $0.health = "unhealthy" }
        second.run(10)
        #expect(docker.restarts(of: "c1").count == 3)
    }

    @Test func anActionCutShortIsMarkedInterruptedOnceAndCounted() throws {
        let path = PolicyTestSupport.auditPath()
        let t = Date(timeIntervalSince1970: 1_900_000_000)
        var started = AuditRecord(
            time: t, actionID: "1900000000-7", policy: "autoheal", action: "restart_container", phase: "planned", dryRun: false,
            reason: "unhealthy", targets: ["web"], removed: [], bytesReclaimed: nil, error: nil)
        let log = AuditLog(path: path)
        try log.append(started)
        started.phase = "started"
        try log.append(started)
        let clock = RemediationTestClock()
        clock.advance(30)
        let ledger = ActionLedger(audit: log, logger: PolicyTestSupport.logger)
        let history = RemediationEngine(interval: .seconds(1), ledger: ledger, policies: []).restoreFromAuditLog(clock: clock.policyClock)
        #expect(history.unfinished.map(\.actionID) == ["1900000000-7"])
        let lines = PolicyTestSupport.auditLines(path)
        #expect(lines.map { $0["phase"] as? String } == ["planned", "started", "interrupted"])
        #expect(lines.last?["actionID"] as? String == "1900000000-7")
        #expect((lines.last?["error"] as? String)?.contains("whether it took effect is unknown") == true)
        let metrics = try PolicyTestSupport.metrics(ledger, [])
        #expect(metrics.value("docker_watchdog_remediation_interrupted_actions_total", ["policy": "autoheal", "action": "restart_container"]) == 1)
        #expect(metrics.value("docker_watchdog_audit_log_restored_records") == 2)
        #expect(ledger.recent.last?.phase == "interrupted")
        // The next start finds the action closed: nothing more is written.
        let again = RemediationEngine(interval: .seconds(1), ledger: ActionLedger(audit: log, logger: PolicyTestSupport.logger), policies: [])
        #expect(again.restoreFromAuditLog(clock: clock.policyClock).unfinished.isEmpty)
        #expect(PolicyTestSupport.auditLines(path).count == 3)
    }

    @Test func theDaemonRestartCapAndCoolDownHoldAcrossAWatchdogRestart() throws {
        let path = PolicyTestSupport.auditPath()
        let first = DaemonRestartPolicyTests.Rig(maxRestarts: 2, auditPath: path)
        first.fail(4)
        first.policy.evaluate()
        #expect(first.control.actions.filter { $0.hasPrefix("run") }.count == 1)

        // A new process 60 s later, the daemon still down: inside the cool-down, nothing runs.
        first.clock.advance(60)
        let second = DaemonRestartPolicyTests.Rig(maxRestarts: 2, auditPath: path, clock: first.clock)
        second.restore()
        second.fail(4)
        second.policy.evaluate()
        #expect(second.control.actions.isEmpty, "a new process restarted the daemon inside the cool-down")
        #expect(second.ledger.suppression("daemon")?.hasPrefix("cool-down until") == true)

        // After the cool-down: the second restart of the window.
        second.clock.advance(900)
        second.fail(4)
        second.policy.evaluate()
        #expect(second.control.actions.filter { $0.hasPrefix("run") }.count == 1)
        #expect(second.policy.restartsInWindow == 2)

        // A third process after another cool-down: the cap (2 in 6 h) counts both earlier processes.
        second.clock.advance(1000)
        let third = DaemonRestartPolicyTests.Rig(maxRestarts: 2, auditPath: path, clock: first.clock)
        third.restore()
        third.fail(4)
        third.policy.evaluate()
        #expect(third.control.actions.isEmpty, "the cap was reset by a restart of the watchdog")
        #expect(third.ledger.suppression("daemon")?.contains("restart cap reached (2 of 2") == true)
        #expect(third.policy.restartsInWindow == 2)

        // Once the window has room again (6 h after the first restart) and the daemon has answered.
        third.clock.advance(6 * 3600)
        third.recover()
        third.policy.evaluate()
        third.fail(4)
        third.policy.evaluate()
        #expect(third.control.actions.filter { $0.hasPrefix("run") }.count == 1)
    }

    @Test func aTornAuditTailIsRepairedAndDelaysTheNextRestart() throws {
        let path = PolicyTestSupport.auditPath()
        let first = DaemonRestartPolicyTests.Rig(maxRestarts: 3, auditPath: path)
        first.fail(4)
        first.policy.evaluate()
        #expect(first.control.actions.filter { $0.hasPrefix("run") }.count == 1)
        // A torn write at the end (a process killed mid-line), long after the cool-down.
        first.clock.advance(5000)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"action":"restart_daemon","phase":"sta"#.utf8))
        try handle.close()
        // Its time is the file's last change, on the test's clock.
        try FileManager.default.setAttributes([.modificationDate: first.clock.now], ofItemAtPath: path)

        let second = DaemonRestartPolicyTests.Rig(maxRestarts: 3, auditPath: path, clock: first.clock)
        let history = second.restore()
        #expect(history.unreadableLines == 1 && history.tornTail)
        #expect(try second.metric("docker_watchdog_audit_log_unreadable_lines", [:]) == 1)
        // The unreadable line counts as an action at the file's last change (now): the cool-down runs from it.
        second.fail(4)
        second.policy.evaluate()
        #expect(second.control.actions.isEmpty, "an unreadable tail let the policy act at once")
        // The torn line was ended: the records written after it read back.
        let third = DaemonRestartPolicyTests.Rig(maxRestarts: 3, auditPath: path, clock: first.clock)
        #expect(third.restore().unreadableLines == 1)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("\n"))
    }

    @Test func aDiskEpisodeThatMissedItsTargetKeepsItsCoolDownAcrossARestart() throws {
        let host = FakeHost()
        (host.buildCache, host.buildCacheInUse) = (10, 10)  // in use by a build: nothing to free
        let clock = FakeClock()
        let path = PolicyTestSupport.auditPath()
        func process() -> (DiskRemediation, ActionLedger) {
            let ledger = ActionLedger(audit: AuditLog(path: path), logger: PolicyTestSupport.logger)
            let disk = DiskRemediation(
                settings: .init(
                    thresholds: DiskThresholds(actBelowRatio: 0.10, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.30, targetInodesRatio: 0.05),
                    steps: [.buildCache], cooldown: .seconds(600)),
                docker: host, measure: { host.stats() }, ledger: ledger, clock: clock.policyClock)
            RemediationEngine(interval: .seconds(1), ledger: ledger, policies: [disk]).restoreFromAuditLog(clock: clock.policyClock)
            return (disk, ledger)
        }
        host.containers = [.init(id: "big", name: "big", imageID: "i", state: "running", size: 930, finished: clock.now)]
        let (disk, _) = process()
        disk.evaluate()
        #expect(host.calls == ["build_prune"])
        #expect(PolicyTestSupport.auditLines(path).last?["targetReached"] as? Bool == false)
        clock.advance(60)
        let (again, ledger) = process()
        again.evaluate()
        #expect(host.calls == ["build_prune"], "a new process pruned again inside the cool-down")
        #expect(ledger.suppression("disk")?.contains("cool-down") == true)
        clock.advance(600)
        again.evaluate()
        #expect(host.calls == ["build_prune", "build_prune"])
    }

    @Test func theReadBackIsBoundedInBytesAndTimeAndDropsTheLineItStartsInside() throws {
        let path = PolicyTestSupport.auditPath()
        let log = AuditLog(path: path)
        let t0 = Date(timeIntervalSince1970: 1_900_000_000)
        for i in 0..<100 {
            try log.append(
                AuditRecord(
                    time: t0.addingTimeInterval(Double(i) * 60), actionID: "a\(i)", policy: "disk", action: "build_cache", phase: "finished",
                    dryRun: false, reason: "r", targets: [], removed: [], bytesReclaimed: 1, error: nil))
        }
        let now = t0.addingTimeInterval(100 * 60)
        let all = AuditHistory.read(path: path, horizon: .seconds(86_400), now: now)
        #expect(all.records.count == 100 && all.unreadableLines == 0 && !all.tornTail)
        // The last 30 minutes only.
        let recent = AuditHistory.read(path: path, horizon: .seconds(1800), now: now)
        #expect(recent.records.map(\.actionID) == (70..<100).map { "a\($0)" })
        // A byte limit that starts in the middle of a line: that line is dropped, not counted unreadable.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let tail = AuditHistory.read(path: path, horizon: .seconds(86_400), now: now, byteLimit: size / 10 + 7)
        #expect(tail.unreadableLines == 0)
        #expect(tail.records.last?.actionID == "a99" && tail.records.count < 12 && tail.records.count >= 8)
        #expect(AuditHistory.read(path: path + ".missing", horizon: .seconds(60), now: now).isDamaged == false)
    }
}

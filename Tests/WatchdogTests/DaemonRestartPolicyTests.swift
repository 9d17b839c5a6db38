import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Logging
import Testing
import WatchdogTestSupport
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import Locking
@testable import ResponseBodies

/// A clock the tests move by hand; `sleep` on it advances it (verification waits, stack-dump grace).
/// `advance` moves the wall and the monotonic clock together (time passes); `stepWall` moves only
/// the wall clock (someone sets the date).
final class RemediationTestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_900_000_000)
    private let origin = ContinuousClock.now
    private var elapsed = Duration.zero
    var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    var instant: ContinuousClock.Instant { lock.lock(); defer { lock.unlock() }; return origin + elapsed }
    func advance(_ seconds: Double) { lock.lock(); current += seconds; elapsed += .seconds(seconds); lock.unlock() }
    func stepWall(_ seconds: Double) { lock.lock(); current += seconds; lock.unlock() }
    func sleep(_ d: Duration) { advance(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
    var policyClock: PolicyClock { PolicyClock(wall: { self.now }, monotonic: { self.instant }) }
}

/// Records what the policy does to "the host": signals, commands, pings.
final class FakeDaemonControl: DaemonControl, @unchecked Sendable {
    private let lock = NSLock()
    var pid: Int32? = 4242
    /// Exit statuses of the next commands, in order; 0 once used up.
    var exitStatuses: [Int32] = []
    var timesOut = false
    /// Whether the daemon answers after the restart command.
    var answersAfterRestart = true
    private(set) var calls: [String] = []
    private var restarted = false

    func daemonPID(pidFile: String) -> Int32? { pid }
    func stackDumpDirectory(pid: Int32) -> String { "/run/docker" }
    func requestStackDump(pid: Int32) throws { record("USR1 \(pid)") }
    func findStackDump(in directory: String, since: Date) -> String? { nil }
    func run(_ command: String, timeout: Duration) -> CommandResult {
        record("run \(command)")
        lock.lock()
        defer { lock.unlock() }
        let status = exitStatuses.isEmpty ? 0 : exitStatuses.removeFirst()
        if status == 0 && !timesOut { restarted = true }
        return CommandResult(status: timesOut ? 137 : status, timedOut: timesOut, output: status == 0 ? "" : "Job for docker.service failed")
    }
    func ping(timeout: Duration) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        calls.append("ping")
        return restarted && answersAfterRestart
    }
    func record(_ call: String) { lock.lock(); calls.append(call); lock.unlock() }
    var actions: [String] { lock.lock(); defer { lock.unlock() }; return calls.filter { $0 != "ping" } }
    func resetDaemon() { lock.lock(); restarted = false; lock.unlock() }
}

/// Helpers shared by the policy tests: audit log, metrics.
enum PolicyTestSupport {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func auditPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).jsonl").path
    }

    /// A path no one can write, root included: its parent is a regular file.
    static func unwritableAuditPath() -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-dir-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        return file + "/audit.jsonl"
    }

    static func auditLines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func metrics(_ ledger: ActionLedger, _ policies: [(String, Bool, Bool)]) throws -> [ParsedSample] {
        let text = ledger.families(policies: policies).map { String(decoding: ExpositionRenderer.render([$0], format: .text), as: UTF8.self) }.joined()
        return try parseExposition(text)
    }
}

@Suite("Daemon restart policy (fake host, fake clock)")
struct DaemonRestartPolicyTests {
    struct Rig {
        let clock: RemediationTestClock
        let host = HostStatus()
        let control = FakeDaemonControl()
        let ledger: ActionLedger
        let policy: DaemonRestartPolicy
        let auditPath: String

        init(
            dryRun: Bool = false, maxRestarts: Int = 3, auditPath: String = PolicyTestSupport.auditPath(), pidFile: String = "/run/docker.pid",
            clock: RemediationTestClock = RemediationTestClock()
        ) {
            self.clock = clock
            self.auditPath = auditPath
            ledger = ActionLedger(audit: AuditLog(path: auditPath), logger: PolicyTestSupport.logger)
            let clock = self.clock
            let host = self.host
            policy = DaemonRestartPolicy(
                settings: .init(
                    enabled: true, dryRun: dryRun, failures: 3, minSpan: .seconds(30), restartCommand: "systemctl restart docker",
                    pidFile: pidFile, verifyTimeout: .seconds(120), cooldown: .seconds(900), maxRestarts: maxRestarts,
                    window: .seconds(6 * 3600)),
                status: { host.daemon }, control: control, ledger: ledger, logger: PolicyTestSupport.logger,
                clock: clock.policyClock, sleep: { clock.sleep($0) })
            host.updateDaemon { d in
                d.up = true
                d.everAnswered = true
                d.liveRestore = false
            }
        }

        /// What a new process does at start: reads the audit log back.
        @discardableResult
        func restore() -> AuditHistory {
            RemediationEngine(interval: .seconds(1), ledger: ledger, policies: [policy]).restoreFromAuditLog(clock: clock.policyClock)
        }

        /// The daemon fails `count` probes, `spacing` seconds apart, starting now.
        func fail(_ count: Int, spacing: Double = 10) {
            let (start, startInstant) = (clock.now, clock.instant)
            for i in 1...count {
                host.updateDaemon { d in
                    d.up = false
                    d.consecutiveFailures = i
                    d.failingSince = start
                    d.failingSinceInstant = startInstant
                    d.lastError = "ping: timeout"
                }
                if i < count { clock.advance(spacing) }
            }
        }

        /// The daemon answers again (the collector resets its streak).
        func recover() {
            host.updateDaemon { d in
                d.up = true
                d.consecutiveFailures = 0
                d.failingSince = nil
                d.failingSinceInstant = nil
            }
            control.resetDaemon()
        }

        func metric(_ name: String, _ labels: [String: String]) throws -> Double? {
            try PolicyTestSupport.metrics(ledger, [("daemon", true, policy.dryRun)]).value(name, labels)
        }
    }

    @Test func actsOnlyAfterEnoughFailuresSpanningTheMinimumTime() {
        let rig = Rig()
        rig.policy.evaluate()
        #expect(rig.control.actions.isEmpty)
        #expect(rig.policy.plan.first == "the daemon answers: nothing to do")
        // Three failures within 20 s: enough failures, not enough time.
        rig.fail(3)
        rig.policy.evaluate()
        #expect(rig.control.actions.isEmpty)
        #expect(rig.policy.plan.first?.contains("a restart needs 3 spanning 30s") == true)
        rig.clock.advance(10)  // 30 s since the first failure
        rig.policy.evaluate()
        #expect(rig.control.actions == ["USR1 4242", "run systemctl restart docker"])
        let records = PolicyTestSupport.auditLines(rig.auditPath)
        #expect(
            records.map { "\($0["action"]!):\($0["phase"]!)" } == [
                "stack_dump:planned", "stack_dump:started", "stack_dump:finished",
                "restart_daemon:planned", "restart_daemon:started", "restart_daemon:finished",
            ])
        #expect((records.last?["reason"] as? String)?.contains("live-restore is off") == true)
        #expect((records.first?["reason"] as? String)?.contains("/run/docker") == true)
    }

    @Test func aDaemonNeverSeenUpIsNotRestarted() {
        let rig = Rig()
        rig.host.updateDaemon { $0.everAnswered = false }
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.isEmpty)
        #expect(rig.policy.plan.first?.contains("never seen up") == true)
    }

    @Test func oneRestartPerCoolDownThenTheCapSuppressesUntilAHumanHelps() throws {
        let rig = Rig(maxRestarts: 2)
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 1)
        // The daemon stays down (or the collector has not noticed yet): inside the cool-down nothing runs.
        rig.control.resetDaemon()
        for _ in 0..<10 {
            rig.clock.advance(60)
            rig.policy.evaluate()
        }
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 1)
        #expect(rig.ledger.suppression("daemon")?.hasPrefix("cool-down until") == true)
        #expect(try rig.metric("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 1)
        // Past the cool-down: the second restart.
        rig.clock.advance(300)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 2)
        #expect(rig.policy.restartsInWindow == 2)
        // Down again after another cool-down: the cap (2) is reached. No third restart, ever, while it stays down,
        // even after the window has passed.
        rig.control.resetDaemon()
        rig.clock.advance(901)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 2)
        #expect(rig.ledger.suppression("daemon")?.contains("restart cap reached") == true)
        #expect(try rig.metric("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 1)
        rig.clock.advance(7 * 3600)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 2)
        #expect(rig.policy.plan.first?.contains("waiting for a human") == true)
        // A human brings the daemon back: with room in the window the policy is armed again.
        rig.recover()
        rig.policy.evaluate()
        #expect(rig.ledger.suppression("daemon") == nil)
        #expect(try rig.metric("docker_watchdog_remediation_suppressed", ["policy": "daemon"]) == 0)
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 3)
        #expect(try rig.metric("docker_watchdog_remediation_actions_total", ["policy": "daemon", "action": "restart_daemon"]) == 3)
        #expect(try rig.metric("docker_watchdog_remediation_actions_total", ["policy": "daemon", "action": "stack_dump"]) == 3)
    }

    @Test func theCapCountsRestartsInTheWindowOnly() {
        let rig = Rig(maxRestarts: 1)
        rig.fail(4)
        rig.policy.evaluate()
        rig.recover()
        rig.clock.advance(3600)
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 1)
        #expect(rig.ledger.suppression("daemon")?.contains("cap") == true)
        // Recovered, and six hours after the first restart the window has room again.
        rig.recover()
        rig.clock.advance(6 * 3600)
        rig.policy.evaluate()
        #expect(rig.ledger.suppression("daemon") == nil)
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 2)
    }

    @Test func dryRunPlansAndAuditsButTouchesNothing() throws {
        let rig = Rig(dryRun: true)
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.isEmpty)
        let records = PolicyTestSupport.auditLines(rig.auditPath)
        #expect(records.map { "\($0["action"]!):\($0["phase"]!)" } == ["stack_dump:planned", "restart_daemon:planned"])
        #expect(records.allSatisfy { $0["dryRun"] as? Bool == true })
        #expect(rig.policy.plan.first?.contains("SIGUSR1 to dockerd (pid 4242)") == true)
        #expect(rig.policy.plan.first?.contains("run `systemctl restart docker`") == true)
        #expect(try rig.metric("docker_watchdog_remediation_dry_run_actions_total", ["policy": "daemon", "action": "restart_daemon"]) == 1)
        // A dry run respects the cool-down too (one plan per cool-down, not one per evaluation), and uses no cap.
        rig.clock.advance(60)
        rig.policy.evaluate()
        #expect(PolicyTestSupport.auditLines(rig.auditPath).count == 2)
        #expect(rig.policy.restartsInWindow == 0)
    }

    @Test func aFailingCommandIsAFailedActionAndThePolicyKeepsWorking() throws {
        let rig = Rig()
        rig.control.exitStatuses = [1]
        rig.fail(4)
        rig.policy.evaluate()
        let failed = try #require(rig.ledger.recent.last)
        #expect(failed.action == "restart_daemon" && failed.phase == "failed")
        #expect(failed.error?.contains("exited with status 1") == true)
        #expect(failed.error?.contains("Job for docker.service failed") == true)
        #expect(rig.control.actions.filter { $0 == "ping" }.isEmpty)  // no verification of a restart that failed
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "daemon", "action": "restart_daemon"]) == 1)
        // The failed attempt starts a cool-down and counts against the cap; after it the policy tries again.
        rig.clock.advance(901)
        rig.policy.evaluate()
        #expect(rig.ledger.recent.last?.phase == "finished")
        #expect(rig.control.actions.filter { $0.hasPrefix("run") }.count == 2)
        #expect(rig.policy.restartsInWindow == 2)
    }

    @Test func aDaemonThatDoesNotComeBackIsAFailedRestartAfterTheDeadline() throws {
        let rig = Rig()
        rig.control.answersAfterRestart = false
        rig.fail(4)
        let before = rig.clock.now
        rig.policy.evaluate()
        let failed = try #require(rig.ledger.recent.last)
        #expect(failed.phase == "failed")
        #expect(failed.error?.contains("did not answer /_ping within 2m") == true)
        // It waited the whole deadline (plus the stack dump grace), pinging along the way.
        #expect(rig.clock.now.timeIntervalSince(before) >= 122)
        #expect(rig.control.calls.filter { $0 == "ping" }.count >= 100)
    }

    @Test func aCommandPastItsDeadlineIsAFailure() throws {
        let rig = Rig()
        rig.control.timesOut = true
        rig.fail(4)
        rig.policy.evaluate()
        let failed = try #require(rig.ledger.recent.last)
        #expect(failed.phase == "failed")
        #expect(failed.error?.contains("did not finish within 2m") == true)
    }

    @Test func anUnwritableAuditLogMeansNothingRunsAndItIsCounted() throws {
        let rig = Rig(auditPath: PolicyTestSupport.unwritableAuditPath())
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions.isEmpty)
        #expect(rig.ledger.recent.map(\.phase) == ["failed", "failed"])
        #expect(rig.ledger.recent.allSatisfy { $0.error?.hasPrefix("not run") == true })
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "daemon", "action": "stack_dump"]) == 1)
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "daemon", "action": "restart_daemon"]) == 1)
    }

    @Test func withoutAPidTheRestartRunsWithoutAStackDump() {
        let rig = Rig()
        rig.control.pid = nil
        rig.fail(4)
        rig.policy.evaluate()
        #expect(rig.control.actions == ["run systemctl restart docker"])
        #expect(rig.policy.plan.first?.contains("no stack dump") == true)
        let empty = Rig(pidFile: "")
        empty.fail(4)
        empty.policy.evaluate()
        #expect(empty.control.actions == ["run systemctl restart docker"])
    }

    @Test func theDaemonCollectorRemembersWhenTheFailureStreakBegan() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let host = HostStatus()
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(2))
        let collector = DaemonCollector(
            client: client, host: host, interval: .seconds(1), timeout: .milliseconds(200), infoInterval: .seconds(60),
            logger: PolicyTestSupport.logger)
        _ = collector.collect()
        #expect(host.daemon.up && host.daemon.failingSince == nil)
        fake.set("/_ping", .hang)
        let (before, beforeInstant) = (Date(), ContinuousClock.now)
        _ = collector.collect()
        let since = try #require(host.daemon.failingSince)
        #expect(since >= before.addingTimeInterval(-0.001) && since <= Date())
        // The same moment on the monotonic clock (what the restart policy measures the span with).
        let sinceInstant = try #require(host.daemon.failingSinceInstant)
        #expect(sinceInstant >= beforeInstant && sinceInstant <= ContinuousClock.now)
        _ = collector.collect()
        _ = collector.collect()
        // The streak keeps its start; the span grows with every failed probe.
        #expect(host.daemon.failingSince == since)
        #expect(host.daemon.failingSinceInstant == sinceInstant)
        #expect(host.daemon.consecutiveFailures == 3)
        #expect(Date().timeIntervalSince(since) >= 0.5)
        fake.set("/_ping", FakeDockerEngine.defaultRoutes(apiVersion: "1.41")["/_ping"]!)
        _ = collector.collect()
        #expect(host.daemon.failingSince == nil)
        #expect(host.daemon.failingSinceInstant == nil)
        #expect(host.daemon.consecutiveFailures == 0)
    }

    @Test func theRealCommandRunnerReportsStatusOutputAndDeadline() {
        let ok = runShellCommand("echo hello; echo oops >&2", timeout: .seconds(10))
        #expect(ok.status == 0 && !ok.timedOut)
        #expect(ok.output.contains("hello") && ok.output.contains("oops"))
        let failed = runShellCommand("exit 3", timeout: .seconds(10))
        #expect(failed.status == 3)
        let start = ContinuousClock.now
        // The child's own child is killed with it (process group): the call returns at the deadline.
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("bg-\(UUID().uuidString)").path
        defer { unlink(pidFile) }
        let slow = runShellCommand("sleep 30 & echo $! > \(pidFile); sleep 30", timeout: .milliseconds(500))
        #expect(slow.timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
        let background = Int32(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(background != nil)
        if let background {
            var gone = false
            for _ in 0..<100 where !gone {
                gone = kill(background, 0) != 0 || (try? String(contentsOfFile: "/proc/\(background)/stat", encoding: .utf8))?.contains(") Z ") == true
                if !gone { usleep(20_000) }
            }
            #expect(gone, "the background child \(background) survived its group's kill")
        }
        // The watchdog blocks SIGTERM in its threads; the command must start with it unblocked (`exec`:
        // a shell clears its own mask, what it execs directly does not).
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let mask = runShellCommand("exec grep SigBlk /proc/self/status", timeout: .seconds(10))
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        #expect(mask.output.contains("0000000000000000"), "\(mask.output)")
    }
}

import DockerEngine
import Exposition
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

/// Containers in memory: a failing one reports "starting" for two seconds after a restart, then
/// "unhealthy" again, like a real container whose health check keeps failing.
final class AutohealFakeDocker: RemediationDocker, @unchecked Sendable {
    struct Box {
        var name: String
        var labels: [String: String] = [:]
        var health = "unhealthy"
        var state = "running"
        var failing = true
        /// When it was last restarted, on the monotonic clock (a wall-clock step must not change how
        /// long a restart takes).
        var restartedAt: ContinuousClock.Instant?
        var restarts = 0
    }

    private let lock = NSLock()
    private let clock: RemediationTestClock
    private var boxes: [String: Box] = [:]
    private(set) var restartCalls: [(id: String, at: Date)] = []
    var restartError: DockerError?

    init(clock: RemediationTestClock) { self.clock = clock }

    func add(_ id: String, _ box: Box) { lock.lock(); boxes[id] = box; lock.unlock() }
    func update(_ id: String, _ change: (inout Box) -> Void) { lock.lock(); change(&boxes[id]!); lock.unlock() }
    func restarts(of id: String) -> [Date] { lock.lock(); defer { lock.unlock() }; return restartCalls.filter { $0.id == id }.map(\.at) }
    var restartedIDs: [String] { lock.lock(); defer { lock.unlock() }; return restartCalls.map(\.id) }

    private func health(_ box: Box) -> String {
        if let at = box.restartedAt, box.failing, clock.instant - at < .seconds(2) { return "starting" }
        return box.health
    }

    /// What `GET /containers/json` would answer now.
    func list() -> [ContainerSummary] {
        lock.lock()
        defer { lock.unlock() }
        return boxes.sorted { $0.key < $1.key }.map { id, box in
            let h = health(box)
            let status = h == "none" ? "Up 1 minute" : h == "starting" ? "Up 1 second (health: starting)" : "Up 1 minute (\(h))"
            return ContainerSummary(id: id, names: ["/\(box.name)"], image: "busybox", labels: box.labels, state: box.state, status: status)
        }
    }

    func inspectContainer(_ id: String) throws -> ContainerInspect {
        lock.lock()
        guard let box = boxes[id] else {
            lock.unlock()
            throw DockerError.http(status: 404, message: "No such container: \(id)", path: "/containers/\(id)/json")
        }
        let h = health(box)
        lock.unlock()
        let json: [String: Any] = [
            "Id": id, "Name": "/\(box.name)", "RestartCount": 0,
            "State": ["Status": box.state, "OOMKilled": false, "ExitCode": 0, "Health": ["Status": h, "FailingStreak": 3, "Log": []]],
            "Config": ["Image": "busybox", "Labels": box.labels], "HostConfig": ["RestartPolicy": ["Name": "no"]],
        ]
        return try ContainerInspect.decode(JSONSerialization.data(withJSONObject: json))
    }

    func restartContainer(_ id: String) throws {
        lock.lock()
        defer { lock.unlock() }
        restartCalls.append((id, clock.now))
        if let restartError { throw restartError }
        boxes[id]?.restartedAt = clock.instant
        boxes[id]?.restarts += 1
    }

    // Not used by autoheal.
    func pruneBuildCache(keepStorage: Int64) throws -> RemovalResult { throw DockerError.http(status: 500, message: "unexpected", path: "x") }
    func buildCacheUsage() throws -> (size: Int64, reclaimable: Int64)? { nil }
    func listContainers() throws -> [ContainerSummary] { list() }
    func removeContainer(_ id: String) throws { throw DockerError.http(status: 500, message: "unexpected", path: "x") }
    func listImages() throws -> [ImageSummary] { [] }
    func removeImage(_ id: String) throws -> RemovalResult { throw DockerError.http(status: 500, message: "unexpected", path: "x") }
    func imageLastTagTime(_ id: String) throws -> Date? { nil }
    func listUnusedVolumes() throws -> [VolumeSummary] { [] }
    func removeVolume(_ name: String) throws { throw DockerError.http(status: 500, message: "unexpected", path: "x") }
}

@Suite("Autoheal policy (fake containers, fake clock)")
struct AutohealPolicyTests {
    static let optIn = ["docker-watchdog.autoheal": "true"]
    static let protect = ["docker-watchdog.protect": "true"]

    struct Rig {
        let clock = RemediationTestClock()
        let docker: AutohealFakeDocker
        let tracker = ContainerTracker(historySize: 100)
        let ledger: ActionLedger
        let policy: AutohealPolicy
        let auditPath: String

        init(_ settings: AutohealPolicy.Settings = .init(), auditPath: String = PolicyTestSupport.auditPath()) {
            docker = AutohealFakeDocker(clock: clock)
            self.auditPath = auditPath
            ledger = ActionLedger(audit: AuditLog(path: auditPath), logger: PolicyTestSupport.logger)
            let tracker = self.tracker
            let clock = self.clock
            policy = AutohealPolicy(
                settings: settings, containers: { tracker.containers }, docker: docker, ledger: ledger,
                logger: PolicyTestSupport.logger, clock: clock.policyClock)
        }

        /// One round: the tracker learns the current list, the policy evaluates.
        func round() {
            tracker.applyList(docker.list(), now: clock.now)
            policy.evaluate()
        }

        /// Rounds one second apart for `seconds` seconds.
        func run(_ seconds: Int) {
            for _ in 0..<seconds {
                clock.advance(1)
                round()
            }
        }

        func metric(_ name: String, _ labels: [String: String]) throws -> Double? {
            try PolicyTestSupport.metrics(ledger, [("autoheal", true, policy.dryRun)]).value(name, labels)
        }
    }

    @Test func onlyOptedInUnprotectedContainersAreRestartedAfterTheMinimumTime() throws {
        let rig = Rig(.init(minUnhealthy: .seconds(60)))
        rig.docker.add("c1", .init(name: "opted", labels: Self.optIn))
        rig.docker.add("c2", .init(name: "unlabelled"))
        rig.docker.add("c3", .init(name: "protected", labels: Self.optIn.merging(Self.protect) { a, _ in a }))
        rig.docker.add("c4", .init(name: "other-value", labels: ["docker-watchdog.autoheal": "false"]))
        rig.round()
        rig.run(59)
        #expect(rig.docker.restartedIDs.isEmpty)
        #expect(rig.policy.plan.contains { $0.hasPrefix("opted: unhealthy; restart not before") })
        rig.run(1)
        #expect(rig.docker.restartedIDs == ["c1"])
        #expect(rig.policy.plan.contains { $0.contains("protected: unhealthy, but it carries docker-watchdog.protect=true") })
        rig.run(3600)
        #expect(Set(rig.docker.restartedIDs) == ["c1"])
        let records = PolicyTestSupport.auditLines(rig.auditPath)
        #expect(records.allSatisfy { ($0["targets"] as? [String]) == ["opted"] && $0["action"] as? String == "restart_container" })
        #expect(records.prefix(3).map { $0["phase"] as? String } == ["planned", "started", "finished"])
        #expect(try rig.metric("docker_watchdog_remediation_actions_total", ["policy": "autoheal", "action": "restart_container"]) == Double(rig.docker.restarts(of: "c1").count))
    }

    @Test func allOptsInEveryContainerButTheProtectedOnes() {
        let rig = Rig(.init(all: true, minUnhealthy: .seconds(10)))
        rig.docker.add("c2", .init(name: "unlabelled"))
        rig.docker.add("c3", .init(name: "protected", labels: Self.protect))
        rig.docker.add("c5", .init(name: "no-healthcheck", health: "none", failing: false))
        rig.round()
        rig.run(11)
        #expect(rig.docker.restartedIDs == ["c2"])
    }

    @Test func backoffDoublesUpToTheMaximumAndStopsAtTheCapUntilHealthy() throws {
        let rig = Rig(.init(minUnhealthy: .seconds(10), backoff: .seconds(30), maxBackoff: .seconds(240), maxRestarts: 7))
        rig.docker.add("c1", .init(name: "flaky", labels: Self.optIn))
        rig.round()
        rig.run(3 * 3600)
        let times = rig.docker.restarts(of: "c1")
        #expect(times.count == 7)
        #expect(times.first.map { $0.timeIntervalSince1970 - 1_900_000_000 } == 10)
        let gaps = zip(times.dropFirst(), times).map { Int($0.timeIntervalSince($1)) }
        #expect(gaps == [30, 60, 120, 240, 240, 240])
        #expect(rig.policy.restarts(of: "c1") == 7)
        #expect(rig.ledger.suppression("autoheal")?.contains("flaky") == true)
        #expect(try rig.metric("docker_watchdog_remediation_suppressed", ["policy": "autoheal"]) == 1)
        #expect(rig.policy.plan.contains { $0.hasPrefix("flaky: left alone after 7 restarts") })
        // It turns healthy: the count starts afresh, the suppression ends, and a new episode heals again.
        rig.docker.update("c1") { $0.health = "healthy" }
        rig.run(5)
        #expect(rig.policy.restarts(of: "c1") == 0)
        #expect(rig.ledger.suppression("autoheal") == nil)
        #expect(try rig.metric("docker_watchdog_remediation_suppressed", ["policy": "autoheal"]) == 0)
        rig.docker.update("c1") { $0.health = "unhealthy" }
        rig.run(11)
        #expect(rig.docker.restarts(of: "c1").count == 8)
    }

    @Test func aShortHealthySpellBetweenRoundsResetsTheCount() {
        let rig = Rig(.init(minUnhealthy: .seconds(10), backoff: .seconds(30), maxRestarts: 2))
        rig.docker.add("c1", .init(name: "flaky", labels: Self.optIn))
        rig.round()
        rig.run(11)
        #expect(rig.policy.restarts(of: "c1") == 1)
        // Healthy for a moment, seen only by the events stream (no round in between).
        rig.tracker.applyEvent(
            DockerEvent(
                type: "container", action: "health_status: healthy", actorID: "c1", attributes: [:],
                timeNano: Int64(rig.clock.now.timeIntervalSince1970 * 1e9) + 1))
        rig.clock.advance(1)
        rig.round()
        #expect(rig.policy.restarts(of: "c1") == 0)
    }

    @Test func dryRunPlansOnTheSameScheduleAndRestartsNothing() throws {
        let rig = Rig(.init(dryRun: true, minUnhealthy: .seconds(10), backoff: .seconds(30), maxRestarts: 3))
        rig.docker.add("c1", .init(name: "flaky", labels: Self.optIn))
        rig.round()
        rig.run(600)
        #expect(rig.docker.restartedIDs.isEmpty)
        let records = PolicyTestSupport.auditLines(rig.auditPath)
        // Three planned restarts, then the record that autoheal gives up on it (the cap, read back at a restart).
        #expect(records.map { $0["phase"] as? String } == ["planned", "planned", "planned", "skipped"])
        #expect(records.allSatisfy { $0["dryRun"] as? Bool == true })
        #expect(try rig.metric("docker_watchdog_remediation_dry_run_actions_total", ["policy": "autoheal", "action": "restart_container"]) == 3)
        #expect(try rig.metric("docker_watchdog_remediation_actions_total", ["policy": "autoheal", "action": "restart_container"]) == nil)
    }

    @Test func aFailingRestartIsCountedAndRetriedAfterTheBackoff() throws {
        let rig = Rig(.init(minUnhealthy: .seconds(10), backoff: .seconds(30), maxRestarts: 5))
        rig.docker.add("c1", .init(name: "stuck", labels: Self.optIn))
        rig.docker.restartError = DockerError.http(status: 500, message: "cannot restart", path: "/containers/c1/restart")
        rig.round()
        rig.run(10)  // the attempt at t = 10 fails
        #expect(rig.ledger.recent.last?.phase == "failed")
        #expect(rig.ledger.recent.last?.error?.contains("cannot restart") == true)
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "autoheal", "action": "restart_container"]) == 1)
        rig.docker.restartError = nil
        rig.run(29)
        #expect(rig.docker.restarts(of: "c1").count == 1)
        rig.run(1)
        #expect(rig.docker.restarts(of: "c1").count == 2)
        #expect(rig.ledger.recent.last?.phase == "finished")
    }

    @Test func anUnwritableAuditLogMeansNoRestartAndACountedFailure() throws {
        let rig = Rig(.init(minUnhealthy: .seconds(10), backoff: .seconds(30)), auditPath: PolicyTestSupport.unwritableAuditPath())
        rig.docker.add("c1", .init(name: "web", labels: Self.optIn))
        rig.round()
        rig.run(11)
        #expect(rig.docker.restartedIDs.isEmpty)
        #expect(rig.ledger.recent.last?.error?.hasPrefix("not run") == true)
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "autoheal", "action": "restart_container"]) == 1)
        // Not a restart (the cap is not used up), but it waits before trying again instead of every round.
        #expect(rig.policy.restarts(of: "c1") == 0)
        rig.run(20)
        #expect(try rig.metric("docker_watchdog_remediation_failures_total", ["policy": "autoheal", "action": "restart_container"]) == 1)
    }

    @Test func stackModeRestartsTheProjectsUnhealthyMembersTogether() {
        func setup(stack: Bool) -> Rig {
            let rig = Rig(.init(minUnhealthy: .seconds(60), stack: stack))
            let p = ["com.docker.compose.project": "shop"]
            rig.docker.add("a", .init(name: "shop-api", labels: Self.optIn.merging(p) { a, _ in a }))
            rig.docker.add("d", .init(name: "shop-cron", labels: p))  // not opted in
            rig.docker.add("e", .init(name: "other-api", labels: Self.optIn.merging(["com.docker.compose.project": "blog"]) { a, _ in a }, health: "healthy"))
            rig.round()
            rig.run(50)
            // b turns unhealthy 50 s after a; c stays healthy; f is protected.
            rig.docker.add("b", .init(name: "shop-db", labels: Self.optIn.merging(p) { a, _ in a }))
            rig.docker.add("c", .init(name: "shop-web", labels: Self.optIn.merging(p) { a, _ in a }, health: "healthy"))
            rig.docker.add("f", .init(name: "shop-vault", labels: Self.optIn.merging(p) { a, _ in a }.merging(Self.protect) { a, _ in a }))
            rig.run(10)
            return rig
        }
        let together = setup(stack: true)
        #expect(together.docker.restartedIDs == ["a", "b"])
        #expect(together.ledger.recent.last?.reason.contains("restarted together with shop-api") == true)
        let alone = setup(stack: false)
        #expect(alone.docker.restartedIDs == ["a"])
    }

    @Test func aContainerThatRecoveredBeforeItsRestartIsLeftAlone() {
        let rig = Rig(.init(minUnhealthy: .seconds(10)))
        rig.docker.add("c1", .init(name: "web", labels: Self.optIn))
        rig.round()
        rig.clock.advance(10)
        // The tracker still says unhealthy (its view is a round old); Docker says healthy.
        rig.tracker.applyList(rig.docker.list(), now: rig.clock.now)
        rig.docker.update("c1") { $0.health = "healthy" }
        rig.policy.evaluate()
        #expect(rig.docker.restartedIDs.isEmpty)
        #expect(rig.ledger.recent.isEmpty)
    }

    @Test func withoutTheContainersCollectorNothingHappens() {
        let ledger = ActionLedger(audit: AuditLog(path: PolicyTestSupport.auditPath()), logger: PolicyTestSupport.logger)
        let clock = RemediationTestClock()
        let docker = AutohealFakeDocker(clock: clock)
        docker.add("c1", .init(name: "web", labels: Self.optIn))
        let policy = AutohealPolicy(settings: .init(), containers: { nil }, docker: docker, ledger: ledger, logger: PolicyTestSupport.logger)
        policy.evaluate()
        #expect(docker.restartedIDs.isEmpty)
        #expect(policy.plan.first?.contains("containers collector is off") == true)
    }

    @Test func backoffDelaysDoubleAndAreCapped() {
        let s = AutohealPolicy.Settings(backoff: .seconds(30), maxBackoff: .seconds(1800))
        #expect((1...8).map { s.delay(afterRestarts: $0) } == [30, 60, 120, 240, 480, 960, 1800, 1800])
        #expect(s.delay(afterRestarts: 0) == 30)
        #expect(s.delay(afterRestarts: 10_000) == 1800)
    }

    @Test func theTrackerKnowsSinceWhenAContainerIsUnhealthy() {
        let t = ContainerTracker(historySize: 10)
        func s(_ status: String) -> ContainerSummary {
            ContainerSummary(id: "a", names: ["/a"], image: "busybox", state: "running", status: status)
        }
        t.applyList([s("Up (unhealthy)")], now: Date(timeIntervalSince1970: 100))  // first seen unhealthy
        #expect(t.containers.first?.unhealthySince == Date(timeIntervalSince1970: 100))
        t.applyList([s("Up (unhealthy)")], now: Date(timeIntervalSince1970: 200))  // still: unchanged
        #expect(t.containers.first?.unhealthySince == Date(timeIntervalSince1970: 100))
        t.applyEvent(DockerEvent(type: "container", action: "health_status: healthy", actorID: "a", attributes: [:], timeNano: 300_000_000_000))
        #expect(t.containers.first?.unhealthySince == nil)
        #expect(t.containers.first?.lastHealthy == Date(timeIntervalSince1970: 300))
        t.applyEvent(DockerEvent(type: "container", action: "health_status: unhealthy", actorID: "a", attributes: [:], timeNano: 400_000_000_000))
        #expect(t.containers.first?.unhealthySince == Date(timeIntervalSince1970: 400))
        t.applyList([s("Up (health: starting)")], now: Date(timeIntervalSince1970: 500))
        #expect(t.containers.first?.unhealthySince == nil)
        #expect(t.containers.first?.lastHealthy == Date(timeIntervalSince1970: 300))
    }
}

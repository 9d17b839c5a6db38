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

/// The rows of the fault matrix (Tests/IntegrationTests/FaultMatrixTests.swift) that cannot be
/// made on a real host here: a hung statvfs (no FUSE or dead NFS mount to hang on) and wall-clock
/// jumps (the host clock is shared and not ours to set; faketime cannot move the clock under a
/// wait that has already begun, which is the case that matters).
@Suite("Fault matrix: statvfs hang and clock jumps (unit)", .serialized)
struct FaultUnitTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A collector that only counts its rounds, standing for every other collector.
    final class Ticker: Collector, @unchecked Sendable {
        let name = "ticker"
        let interval: Duration = .milliseconds(50)
        let maxRoundDuration: Duration = .seconds(1)
        func collect() -> CollectionResult { CollectionResult(families: []) }
    }

    func samples(_ store: MetricsStore) throws -> (samples: [ParsedSample], seconds: Double) {
        let start = ContinuousClock.now
        let body = store.render(format: .text, gzip: false).body
        let took = ContinuousClock.now - start
        return (try parseExposition(String(decoding: body, as: UTF8.self)), Double(took.components.attoseconds) / 1e18 + Double(took.components.seconds))
    }

    @Test func hungStatvfsStallsNeitherTheRunnerNorTheOtherCollectors() throws {
        let gate = DispatchSemaphore(value: 0)
        let calls = Counter()
        let probe = StatfsProbe(statvfsCall: { path in
            calls.increment()
            if calls.value == 1 { gate.wait() }  // the first call hangs like a dead NFS mount
            return .success(FilesystemStats(sizeBytes: 1000, freeBytes: 500, availableBytes: 400, files: 10, filesFree: 5, readOnly: false))
        })
        let disk = DiskCollector(
            client: nil, host: HostStatus(), interval: .milliseconds(100), statfsTimeout: .milliseconds(100),
            path: "/hung", hostPrefix: "", probe: probe)
        let store = MetricsStore(apiStats: nil)
        let runners = [CollectorRunner(collector: disk, store: store, logger: logger), CollectorRunner(collector: Ticker(), store: store, logger: logger)]
        runners.forEach { $0.start() }
        defer { runners.forEach { $0.stop() } }

        Thread.sleep(forTimeInterval: 1.5)
        var (s, took) = try samples(store)
        #expect(took < 1.0)
        #expect(s.value("docker_root_filesystem_statfs_hung") == 1)
        #expect(s.value("docker_watchdog_collector_success", ["collector": "disk"]) == 0)
        #expect(s.value("docker_root_filesystem_available_bytes", ["path": "/hung"]) == nil)
        // The disk loop keeps its cadence (each round ends at the statvfs deadline or at once)...
        let diskRuns = s.value("docker_watchdog_collector_runs_total", ["collector": "disk"]) ?? 0
        #expect(diskRuns >= 5, "disk rounds in 1.5 s: \(diskRuns)")
        // ...the other collectors keep theirs, and the hung call is the only one ever started.
        #expect((s.value("docker_watchdog_collector_runs_total", ["collector": "ticker"]) ?? 0) >= 10)
        #expect(calls.value == 1)
        #expect(runners.allSatisfy { $0.isAlive() })

        gate.signal()
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            Thread.sleep(forTimeInterval: 0.1)
            (s, took) = try samples(store)
        } while s.value("docker_watchdog_collector_success", ["collector": "disk"]) != 1 && ContinuousClock.now < deadline
        #expect(s.value("docker_root_filesystem_statfs_hung") == 0)
        #expect(s.value("docker_root_filesystem_available_bytes", ["path": "/hung"]) == 400)
        #expect(s.value("docker_watchdog_collector_success", ["collector": "disk"]) == 1)
    }

    /// The sleeps between rounds and the statvfs deadline are measured on the monotonic clock
    /// (`MonotonicWait`; NSCondition and DispatchSemaphore timeouts are wall-clock deadlines on
    /// Linux). What a test can check without moving the host's clock: the deadline is kept, a
    /// condition that turns true is seen at once, and a sleeping loop stops promptly.
    @Test func monotonicWaitKeepsItsDeadlineAndWakesOnStop() {
        var start = ContinuousClock.now
        #expect(MonotonicWait.until(start + .milliseconds(300)) { false } == false)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(300) && waited < .milliseconds(600), "waited \(waited)")

        start = ContinuousClock.now
        let flag = Counter()
        Thread {
            Thread.sleep(forTimeInterval: 0.1); flag.increment()
        }.start()
        #expect(MonotonicWait.until(start + .seconds(10)) { flag.value > 0 })
        #expect(ContinuousClock.now - start < .milliseconds(500))

        // A runner sleeping out a one-hour interval stops within a slice.
        let runner = CollectorRunner(collector: SlowTicker(), store: MetricsStore(apiStats: nil), logger: logger)
        runner.start()
        Thread.sleep(forTimeInterval: 0.2)
        start = ContinuousClock.now
        #expect(runner.stop(timeout: .seconds(2)))
        #expect(ContinuousClock.now - start < .milliseconds(600))
    }

    /// Remediation cool-downs, backoffs, windows and the spans the watchdog measures itself run on
    /// the monotonic clock (`PolicyClock`); the wall clock only stamps records and is compared with
    /// Docker's times. A step of the wall clock (`stepWall`, while `advance` is time passing) must
    /// therefore neither stretch nor cut them. Disk: the 600 s cool-down after an episode that did
    /// not reach the target.
    @Test func wallClockStepsMoveNeitherTheDiskCoolDown() {
        func rig() -> (DiskRemediation, FakeHost, FakeClock) {
            let host = FakeHost()
            host.images = [.init(id: "big", tags: ["big:1"], created: 0, size: 940)]
            host.containers = [.init(id: "c", name: "c", imageID: "big", state: "running", size: 0, finished: Date())]
            (host.buildCache, host.buildCacheInUse) = (10, 10)  // in use by a build: nothing to free
            let clock = FakeClock()
            let (disk, _, _) = DiskRemediationTests().setup(host, steps: [.buildCache, .danglingImages], clock: clock)
            disk.evaluate()  // an episode that cannot reach the target: a 600 s cool-down begins
            return (disk, host, clock)
        }
        // Set back by an hour: the cool-down ends after 600 s all the same.
        let (back, backHost, backClock) = rig()
        let first = backHost.calls.count
        #expect(first > 0)
        backClock.stepWall(-3600)
        backClock.advance(599)
        back.evaluate()
        #expect(backHost.calls.count == first, "acted inside the cool-down")
        backClock.advance(2)
        back.evaluate()
        #expect(backHost.calls.count > first, "setting the clock back stretched the cool-down")
        // Set forward by an hour a second after the episode: it still holds back for the rest of the 600 s.
        let (ahead, aheadHost, aheadClock) = rig()
        let before = aheadHost.calls.count
        aheadClock.advance(1)
        aheadClock.stepWall(3600)
        ahead.evaluate()
        #expect(aheadHost.calls.count == before, "setting the clock forward cut the cool-down short")
        aheadClock.advance(598)
        ahead.evaluate()
        #expect(aheadHost.calls.count == before)
        aheadClock.advance(2)
        ahead.evaluate()
        #expect(aheadHost.calls.count > before)
    }

    /// Daemon restart: the 900 s cool-down between restarts, the failure span before the first, and
    /// the restart-cap window. A step forward must never allow a second restart early.
    @Test func wallClockStepsMoveNeitherTheDaemonRestartCoolDownNorItsSpanOrWindow() {
        let runs = { (rig: DaemonRestartPolicyTests.Rig) in rig.control.actions.filter { $0.hasPrefix("run") }.count }
        // Three failures 10 s apart span 20 s (30 s needed): an hour's step forward does not make it longer.
        let span = DaemonRestartPolicyTests.Rig()
        span.fail(3)
        span.clock.stepWall(3600)
        span.policy.evaluate()
        #expect(runs(span) == 0, "a wall step made a 20 s outage look long enough")
        span.clock.advance(10)
        span.policy.evaluate()
        #expect(runs(span) == 1)

        // Forward: a minute after the restart the clock jumps an hour; the cool-down still holds.
        let ahead = DaemonRestartPolicyTests.Rig()
        ahead.fail(4)
        ahead.policy.evaluate()
        #expect(runs(ahead) == 1)
        ahead.control.resetDaemon()  // still down
        ahead.clock.advance(60)
        ahead.clock.stepWall(3600)
        ahead.policy.evaluate()
        #expect(runs(ahead) == 1, "setting the clock forward allowed a second restart inside the cool-down")
        #expect(ahead.ledger.suppression("daemon")?.hasPrefix("cool-down until") == true)
        // The cool-down counts from the start of the restart; the stack-dump grace took 2 s of it.
        ahead.clock.advance(836)
        ahead.policy.evaluate()
        #expect(runs(ahead) == 1)
        ahead.clock.advance(3)
        ahead.policy.evaluate()
        #expect(runs(ahead) == 2)

        // Back: an hour back right after the restart; the second restart comes 900 s later all the same.
        let back = DaemonRestartPolicyTests.Rig()
        back.fail(4)
        back.policy.evaluate()
        back.control.resetDaemon()
        back.clock.stepWall(-3600)
        back.clock.advance(901)
        back.policy.evaluate()
        #expect(runs(back) == 2, "setting the clock back stretched the cool-down")

        // The cap window (one restart in 6 h): a 7 h step forward does not empty it.
        let capped = DaemonRestartPolicyTests.Rig(maxRestarts: 1)
        capped.fail(4)
        capped.policy.evaluate()
        capped.recover()
        capped.clock.advance(1000)
        capped.clock.stepWall(7 * 3600)
        capped.fail(4)
        capped.policy.evaluate()
        #expect(runs(capped) == 1, "a wall step emptied the restart-cap window")
        #expect(capped.ledger.suppression("daemon")?.contains("restart cap reached") == true)
    }

    /// Autoheal: the backoff after a restart (30 s, then 60 s) and `min_unhealthy` (10 s) from the
    /// moment the policy learned that the container turned unhealthy.
    @Test func wallClockStepsMoveNeitherTheAutohealBackoffNorMinUnhealthy() {
        let rig = AutohealPolicyTests.Rig(.init(minUnhealthy: .seconds(10), backoff: .seconds(30), maxBackoff: .seconds(240)))
        rig.docker.add("c1", .init(name: "flaky", labels: AutohealPolicyTests.optIn))
        rig.round()
        // Unhealthy for 5 s, then the clock jumps an hour forward: min_unhealthy is not cut short.
        rig.run(5)
        rig.clock.stepWall(3600)
        rig.run(4)
        #expect(rig.docker.restartedIDs.isEmpty, "a wall step forward cut min_unhealthy short")
        rig.run(1)
        #expect(rig.docker.restartedIDs == ["c1"])
        // Five seconds after the first restart the clock goes back an hour: the second restart still
        // comes 30 s after the first.
        rig.run(5)
        rig.clock.stepWall(-3600)
        rig.run(24)
        #expect(rig.docker.restartedIDs.count == 1)
        rig.run(1)
        #expect(rig.docker.restartedIDs.count == 2, "setting the clock back stretched the backoff")
        // Then forward by an hour: the third waits its 60 s all the same.
        rig.run(5)
        rig.clock.stepWall(3600)
        rig.run(54)
        #expect(rig.docker.restartedIDs.count == 2, "setting the clock forward cut the backoff short")
        rig.run(1)
        #expect(rig.docker.restartedIDs.count == 3)
    }

    final class SlowTicker: Collector, @unchecked Sendable {
        let name = "slow"
        let interval: Duration = .seconds(3600)
        let maxRoundDuration: Duration = .seconds(1)
        func collect() -> CollectionResult { CollectionResult(families: []) }
    }
}

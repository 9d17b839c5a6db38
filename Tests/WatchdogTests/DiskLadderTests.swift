import DockerEngine
import Exposition
import Foundation
import Testing
@testable import HostProbes
@testable import Remediation

/// The ladder object by object: every rule per object, the stated order, a plan with estimates
/// that the run follows, and the episode's figures.
@Suite("Disk ladder, object by object (fake host, fake clock)")
struct DiskLadderTests {
    let thresholds = DiskThresholds(actBelowRatio: 0.10, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.30, targetInodesRatio: 0.05)

    func setup(_ host: FakeHost, steps: [DiskStep], dryRun: Bool = false, clock: FakeClock) -> (DiskRemediation, ActionLedger, String) {
        let path = PolicyTestSupport.auditPath()
        let ledger = ActionLedger(audit: AuditLog(path: path), logger: PolicyTestSupport.logger)
        let disk = DiskRemediation(
            settings: .init(dryRun: dryRun, thresholds: thresholds, steps: steps, minAge: .seconds(3600), cooldown: .seconds(600)),
            docker: host, measure: { host.stats() }, ledger: ledger, clock: clock.policyClock)
        return (disk, ledger, path)
    }

    @Test func aYoungDanglingImageSurvivesAndOldOnesGoOldestFirst() throws {
        let clock = FakeClock()
        let now = Int64(clock.now.timeIntervalSince1970)
        let host = FakeHost()
        host.dangling = [
            .init(id: "young", tags: [], created: now - 152, size: 300),  // built 152 s ago, min_age 1 h
            .init(id: "newer", tags: [], created: now - 80_000, size: 200),
            .init(id: "older", tags: [], created: now - 90_000, size: 200),
            .init(id: "guarded", tags: [], created: now - 99_000, size: 100, labels: ["docker-watchdog.protect": "true"]),
            .init(id: "used", tags: [], created: now - 99_000, size: 100),
        ]
        host.containers = [.init(id: "c", name: "runner", imageID: "used", state: "running", size: 0, finished: clock.now)]
        host.size = 950
        let (disk, _, _) = setup(host, steps: [.danglingImages], clock: clock)
        disk.evaluate()  // 900 of 950 used; the target needs 235 more
        #expect(host.calls == ["rmi older", "rmi newer"])
        #expect(host.dangling.map(\.id).sorted() == ["guarded", "used", "young"])
        #expect(disk.plan.contains { $0.contains("young") && $0.contains("min_age") })
        #expect(disk.plan.contains { $0.contains("guarded") && $0.contains("docker-watchdog.protect=true") })
        #expect(disk.plan.contains { $0.contains("used") && $0.contains("used by a container") })
    }

    @Test func stoppedContainersGoTheOneThatExitedLongestAgoFirst() throws {
        let clock = FakeClock()
        let host = FakeHost()
        host.containers = [
            .init(id: "c1", name: "recent", imageID: "i", state: "exited", size: 100, finished: clock.now.addingTimeInterval(-7200)),
            .init(id: "c2", name: "ancient", imageID: "i", state: "exited", size: 100, finished: clock.now.addingTimeInterval(-90_000)),
            .init(id: "c3", name: "middle", imageID: "i", state: "exited", size: 100, finished: clock.now.addingTimeInterval(-40_000)),
        ]
        let (disk, _, _) = setup(host, steps: [.stoppedContainers], clock: clock)
        #expect(try disk.candidates(.stoppedContainers).map(\.name) == ["ancient", "middle", "recent"])
    }

    @Test func theDryRunPlanListsEstimatesCascadesAndWhereItStopsAndTheRunFollowsIt() throws {
        let clock = FakeClock()
        let now = Int64(clock.now.timeIntervalSince1970)
        let host = FakeHost()
        host.size = 2000
        // 1850 used: 150 available, the target (30%) needs 450 more.
        host.images = [
            .init(id: "base", tags: ["base:1"], created: now - 99_000, size: 700, labels: ["docker-watchdog.protect": "true"]),
            .init(id: "app1", tags: ["app:1", "app:one", "app:first"], created: now - 90_000, size: 300),
            .init(id: "app2", tags: ["app:2"], created: now - 80_000, size: 250),
            .init(id: "app3", tags: ["app:3"], created: now - 70_000, size: 200),
        ]
        host.containers = [
            .init(id: "s", name: "stopped-user", imageID: "app2", state: "exited", size: 100, finished: clock.now.addingTimeInterval(-50_000)),
            .init(id: "r", name: "runner", imageID: "base", state: "running", size: 300, finished: clock.now),
        ]
        let (dry, _, dryPath) = setup(host, steps: [.stoppedContainers, .unusedImages], dryRun: true, clock: clock)
        dry.evaluate()
        #expect(host.calls.isEmpty)
        let plan = dry.plan
        #expect(plan.first == "needed: 450 bytes to reach the target")
        let removals = plan.filter { $0.hasPrefix("stopped_containers: ") && !$0.contains("skipped") || $0.hasPrefix("unused_images: ") && !$0.contains("skipped") }
        #expect(removals.count == 4, "\(plan)")
        #expect(removals.first?.hasPrefix("stopped_containers: stopped-user") == true)
        #expect(removals.dropFirst().first?.hasPrefix("unused_images: app:1 ~300 bytes, planned total ~300 of 450") == true, "\(removals)")
        // app:2 is used only by the stopped container the plan removes first: a cascade, listed.
        #expect(removals.contains { $0.hasPrefix("unused_images: app:2 ~250 bytes") && $0.contains("unused once the stopped containers") })
        let stopAt = try #require(plan.firstIndex { $0.hasPrefix("the estimate reaches the target here") })
        #expect(plan[stopAt - 1].hasPrefix("unused_images: app:2"), "\(plan)")
        let planned = PolicyTestSupport.auditLines(dryPath).compactMap { ($0["targets"] as? [String])?.first }
        #expect(planned == ["stopped-user", "app:1", "app:2", "app:3"])

        // The real run removes the plan's objects in the plan's order and stops at the target.
        let (disk, ledger, path) = setup(host, steps: [.stoppedContainers, .unusedImages], clock: clock)
        disk.evaluate()
        let done = PolicyTestSupport.auditLines(path).filter { $0["phase"] as? String == "finished" }
        #expect(done.compactMap { ($0["targets"] as? [String])?.first } == ["stopped-user", "app:1", "app:2"])
        // Three tags: untagged by name, then deleted by ID.
        #expect(host.calls == ["rm s", "rmi app:1", "rmi app:one", "rmi app1", "rmi app2"])
        #expect(done.map { $0["estimatedBytes"] as? Int } == [nil, 300, 250])
        #expect(done.map { $0["bytesReclaimed"] as? Int } == [100, 300, 250])
        let episode = try #require(disk.lastEpisode)
        #expect(episode.neededBytes == 450 && episode.freedBytes == 650 && episode.result == "reached_target")
        #expect(!disk.underPressure)
        let engine = RemediationEngine(interval: .seconds(1), ledger: ledger, policies: [disk])
        let text = engine.evaluate().map { String(decoding: ExpositionRenderer.render([$0], format: .text), as: UTF8.self) }.joined()
        #expect(text.contains("docker_watchdog_remediation_last_episode_freed_bytes 650"))
        #expect(text.contains("docker_watchdog_remediation_last_episode_result{result=\"reached_target\"} 1"))
    }

    @Test func anImageEstimateIsItsSizeLessWhatItShares() {
        #expect(ImageSummary(id: "a", repoTags: [], created: 0, size: 500, sharedSize: 120).uniqueSize == 380)
        #expect(ImageSummary(id: "a", repoTags: [], created: 0, size: 500).uniqueSize == 500)  // -1: not computed
    }
}

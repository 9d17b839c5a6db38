import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport
@testable import Watchdog

/// The container state machine and the collector's families, driven by hand-made inputs.
@Suite("Container tracker")
struct ContainerTrackerTests {
    func summary(_ id: String, _ name: String, state: String = "running", status: String = "Up 1 minute", project: String? = nil) -> ContainerSummary {
        var labels: [String: String] = [:]
        if let project { labels["com.docker.compose.project"] = project }
        return ContainerSummary(id: id, names: ["/\(name)"], image: "busybox", labels: labels, state: state, status: status)
    }

    func event(_ id: String, _ action: String, at seconds: Double, attributes: [String: String] = [:]) -> DockerEvent {
        DockerEvent(type: "container", action: action, actorID: id, attributes: attributes, timeNano: Int64(seconds * 1e9))
    }

    @Test func healthStatusFromTheListStatusString() {
        #expect(summary("a", "a", status: "Up 5 minutes (healthy)").health == "healthy")
        #expect(summary("a", "a", status: "Up 5 minutes (unhealthy)").health == "unhealthy")
        #expect(summary("a", "a", status: "Up 2 seconds (health: starting)").health == "starting")
        #expect(summary("a", "a", status: "Exited (0) 3 hours ago").health == "none")
    }

    @Test func aTransitionIsCountedOnceWhateverRepeatsIt() {
        let t = ContainerTracker(historySize: 10)
        t.applyList([summary("a", "web", status: "Up (health: starting)")], now: Date(timeIntervalSince1970: 100))
        t.applyEvent(event("a", "health_status: healthy", at: 101))
        t.applyEvent(event("a", "health_status: healthy", at: 102))  // repeated: no change
        t.applyEvent(event("a", "health_status: unhealthy", at: 103))
        t.applyList([summary("a", "web", status: "Up (unhealthy)")], now: Date(timeIntervalSince1970: 104))  // agrees
        #expect(t.counters.healthTransitions == ["healthy": 1, "unhealthy": 1])
        #expect(t.history.map { "\($0.from)->\($0.to)/\($0.source)" } == ["starting->healthy/event", "healthy->unhealthy/event"])
    }

    @Test func aResyncCountsWhatTheStreamMissedAndReplaysAreNotCountedAgain() {
        let t = ContainerTracker(historySize: 10)
        t.applyList([summary("a", "web", status: "Up (healthy)")], now: Date(timeIntervalSince1970: 100))
        // Stream down; the container turned unhealthy at 150; the resync at 200 finds it.
        t.applyList([summary("a", "web", status: "Up (unhealthy)")], now: Date(timeIntervalSince1970: 200))
        #expect(t.counters.healthTransitions["unhealthy"] == 1)
        #expect(t.history.last?.source == "resync")
        // The replay (since=) of the event at 150 must not count it twice, but deaths still count.
        t.applyEvent(event("a", "health_status: unhealthy", at: 150))
        t.applyEvent(event("a", "die", at: 151, attributes: ["exitCode": "137"]))
        #expect(t.counters.healthTransitions["unhealthy"] == 1)
        #expect(t.counters.deaths["sigkill"] == 1)
    }

    @Test func listAddsAndRemovesContainersAndMarksChangesForInspect() throws {
        let t = ContainerTracker(historySize: 10)
        t.applyList([summary("a", "a"), summary("b", "b")])
        #expect(Set(t.idsToInspect(limit: 10)) == ["a", "b"])
        let inspect = try ContainerInspect.decode(Data("""
            {"Id":"a","Name":"/a","RestartCount":2,"State":{"Status":"running","OOMKilled":false,"ExitCode":0,
             "StartedAt":"2026-11-22T01:00:00.5Z","Health":{"Status":"unhealthy","FailingStreak":4,
             "Log":[{"ExitCode":1,"Output":"connection refused"}]}},"Config":{"Image":"busybox","Labels":{}}}
            """.utf8))
        t.applyInspect(inspect)
        let a = try #require(t.containers.first { $0.id == "a" })
        #expect(a.restartCount == 2 && a.failingStreak == 4 && a.health == "unhealthy")
        #expect(a.lastProbeOutput == "connection refused")
        // Unhealthy containers are inspected every round for their streak; b still needs its first inspect.
        #expect(t.idsToInspect(limit: 10) == ["b", "a"])
        #expect(t.idsToInspect(limit: 1) == ["b"])
        t.applyList([summary("b", "b")])
        #expect(t.containers.map(\.id) == ["b"])
        t.applyEvent(event("b", "destroy", at: 1))
        #expect(t.containers.isEmpty)
    }

    @Test func historyIsABoundedRing() {
        let t = ContainerTracker(historySize: 3)
        t.applyList([summary("a", "a", status: "Up (healthy)")], now: Date(timeIntervalSince1970: 1))
        for i in 0..<10 {
            t.applyEvent(event("a", i % 2 == 0 ? "health_status: unhealthy" : "health_status: healthy", at: Double(10 + i)))
        }
        #expect(t.history.count == 3)
        #expect(t.history.map(\.time.timeIntervalSince1970) == [17, 18, 19])
        #expect(t.counters.healthTransitions.values.reduce(0, +) == 10)
    }

    @Test func exitClasses() {
        #expect(ContainerTracker.exitClass(0) == "success")
        #expect(ContainerTracker.exitClass(1) == "error")
        #expect(ContainerTracker.exitClass(127) == "not_executable")
        #expect(ContainerTracker.exitClass(137) == "sigkill")
        #expect(ContainerTracker.exitClass(143) == "sigterm")
        #expect(ContainerTracker.exitClass(139) == "signal")
        #expect(ContainerTracker.exitClass(-1) == "unknown")
    }

    @Test func stackRule() {
        func c(_ state: String, _ health: String) -> TrackedContainer {
            TrackedContainer(id: UUID().uuidString, name: "x", image: "i", labels: [:], state: state, health: health)
        }
        #expect(ContainerCollector.stackIsHealthy([c("running", "healthy"), c("running", "none")]))
        #expect(!ContainerCollector.stackIsHealthy([c("running", "healthy"), c("running", "unhealthy")]))
        #expect(!ContainerCollector.stackIsHealthy([c("running", "healthy"), c("exited", "none")]))
        #expect(!ContainerCollector.stackIsHealthy([c("running", "starting")]))
    }

    @Test func cardinalityLimitsIncludeExcludeAndLabelAllowList() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let t = ContainerTracker(historySize: 10)
        var list = (0..<5).map { summary("id\($0)", "app-\($0)") } + [summary("x", "sidecar")]
        list[0].labels["team.owner"] = "payments"
        list[0].labels["secret"] = "do-not-copy"
        t.applyList(list)
        let collector = ContainerCollector(client: client, tracker: t, streamer: nil, settings: .init(
            interval: .seconds(1), resyncInterval: .seconds(60), inspectTimeout: .seconds(1), maxInspectsPerRound: 1,
            maxSeries: 3, include: "^app-", exclude: "-4$", labelKeys: ["team.owner"]))
        let text = String(decoding: ExpositionRenderer.render(collector.families(), format: .text), as: UTF8.self)
        let s = try parseExposition(text)
        let names = Set(s.filter { $0.name == "docker_container_state" }.compactMap { $0.labels["name"] })
        #expect(names == ["app-0", "app-1", "app-2"])
        #expect(s.value("docker_watchdog_container_series_dropped") == 3)
        #expect(s.value("docker_containers", ["state": "running"]) == 6)  // aggregates count everything
        #expect(s.value("docker_container_state", ["name": "app-0", "label_team_owner": "payments"]) == 1)
        #expect(!text.contains("do-not-copy"))
    }
}

import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Logging
import Testing
import WatchdogConfig
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
        let inspect = try ContainerInspect.decode(
            Data(
                """
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

    /// A tracker given label keys keeps only those, whether the container came from a list, an
    /// inspect or an event; without keys it keeps every label.
    @Test func onlyTheLabelKeysReadAreKept() throws {
        let keys: Set<String> = ["com.docker.compose.project", "team"]
        let t = ContainerTracker(historySize: 10, labelKeys: keys)
        var a = summary("a", "a", project: "shop")
        a.labels["com.docker.compose.config-hash"] = String(repeating: "f", count: 64)
        a.labels["team"] = "payments"
        t.applyList([a, summary("b", "b")])
        let inspect = try ContainerInspect.decode(
            Data(
                """
                {"Id":"b","Name":"/b","RestartCount":0,"State":{"Status":"running","OOMKilled":false,"ExitCode":0},
                 "Config":{"Image":"busybox","Labels":{"team":"search","maintainer":"someone"}}}
                """.utf8))
        t.applyInspect(inspect)
        t.applyEvent(event("c", "create", at: 1, attributes: ["name": "c", "image": "busybox", "team": "ops", "extra": "x"]))
        let byID = Dictionary(uniqueKeysWithValues: t.containers.map { ($0.id, $0.labels) })
        #expect(byID["a"] == ["com.docker.compose.project": "shop", "team": "payments"])
        #expect(byID["b"] == ["team": "search"])
        #expect(byID["c"] == ["team": "ops"])
        let all = ContainerTracker(historySize: 10)
        all.applyList([a])
        #expect(all.containers.first?.labels.count == 3)
        // What the service keeps: compose project and service, the series labels, and the keys of
        // the autoheal opt-in and protection labels.
        var configuration = WatchdogConfiguration()
        configuration.remediation.autoheal.label = "heal.me=yes"
        configuration.remediation.protectLabel = "keep.out"
        #expect(
            ContainerCollector.labelKeysRead(configuration, containerLabels: ["team"]) == [
                "com.docker.compose.project", "com.docker.compose.service", "team", "heal.me", "keep.out",
            ])
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
        let collector = ContainerCollector(
            client: client, tracker: t, streamer: nil,
            settings: .init(
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

/// The container collector against the fake engine: a stuck inspect is skipped, not waited for.
@Suite("Container collector faults (fake engine)")
struct ContainerCollectorFaultTests {
    static func inspectJSON(_ id: String, health: String) -> String {
        """
        {"Id":"\(id)","Name":"/\(id)","RestartCount":0,"State":{"Status":"running","OOMKilled":false,"ExitCode":0,
         "StartedAt":"2026-11-22T01:00:00Z","Health":{"Status":"\(health)","FailingStreak":0,"Log":[]}},
         "Config":{"Image":"busybox","Labels":{}}}
        """
    }

    @Test func aHungInspectIsSkippedAndCountedWhileTheOthersAreInspected() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set(
            "/containers/json",
            .json(
                """
                [{"Id":"a","Names":["/a"],"Image":"busybox","Labels":{},"State":"running","Status":"Up (healthy)"},
                 {"Id":"stuck","Names":["/stuck"],"Image":"busybox","Labels":{},"State":"running","Status":"Up (healthy)"},
                 {"Id":"c","Names":["/c"],"Image":"busybox","Labels":{},"State":"running","Status":"Up (healthy)"}]
                """))
        fake.set("/containers/a/json", .json(Self.inspectJSON("a", health: "healthy")))
        fake.set("/containers/c/json", .json(Self.inspectJSON("c", health: "healthy")))
        fake.set("/containers/stuck/json", .hang)
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
        let tracker = ContainerTracker(historySize: 10)
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: nil,
            settings: .init(
                interval: .seconds(1), resyncInterval: .seconds(60), inspectTimeout: .milliseconds(300), maxInspectsPerRound: 10,
                maxSeries: 100))
        let start = ContinuousClock.now
        let result = collector.collect()
        #expect(ContinuousClock.now - start < .seconds(2))
        let s = try parseExposition(String(decoding: ExpositionRenderer.render(result.families, format: .text), as: UTF8.self))
        #expect(s.value("docker_watchdog_container_inspect_failures_total", ["kind": "timeout"]) == 1)
        #expect(s.value("docker_container_start_time_seconds", ["name": "a"]) != nil)
        #expect(s.value("docker_container_start_time_seconds", ["name": "c"]) != nil)
        #expect(s.value("docker_container_start_time_seconds", ["name": "stuck"]) == nil)
        // The stuck one stays due and is retried next round; the others are not inspected again.
        #expect(tracker.idsToInspect(limit: 10) == ["stuck"])
    }

    @Test func aContainerGoneBeforeItsInspectIsForgotten() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set(
            "/containers/json",
            .json(
                """
                [{"Id":"gone","Names":["/gone"],"Image":"busybox","Labels":{},"State":"exited","Status":"Exited (0)"}]
                """))
        fake.set("/containers/gone/json", .error(status: 404, message: "No such container: gone"))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let tracker = ContainerTracker(historySize: 10)
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: nil,
            settings: .init(
                interval: .seconds(1), resyncInterval: .seconds(60), inspectTimeout: .seconds(1), maxInspectsPerRound: 10, maxSeries: 100))
        _ = collector.collect()
        #expect(tracker.containers.isEmpty)
    }
}

/// The events stream against the fake engine: it breaks, the streamer resyncs and resumes with since=.
@Suite("Events stream (fake engine)")
struct EventStreamerTests {
    @Test func brokenStreamsAreResumedWithSinceAfterAResync() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set(
            "/containers/json",
            .json(
                """
                [{"Id":"a","Names":["/a"],"Image":"busybox","Labels":{},"State":"running","Status":"Up (health: starting)"}]
                """))
        let healthy = #"{"Type":"container","Action":"health_status: healthy","Actor":{"ID":"a","Attributes":{"name":"a"}},"time":1795310000,"timeNano":1795310000000000000}"#
        let died = #"{"Type":"container","Action":"die","Actor":{"ID":"a","Attributes":{"name":"a","exitCode":"1"}},"time":1795310001,"timeNano":1795310001000000000}"#
        fake.set(
            "/events",
            .sequence([
                .stream(lines: [healthy, "{not json"], thenClose: true),
                .stream(lines: [died], thenClose: true),
                .stream(lines: [], thenClose: false),
            ]))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let tracker = ContainerTracker(historySize: 10)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let streamer = EventStreamer(client: client, tracker: tracker, logger: logger, maxBackoff: .milliseconds(50))
        streamer.start()
        defer { streamer.stop() }
        let deadline = Date().addingTimeInterval(10)
        // "Connected" is set after the resync list, just before the events request goes out:
        // wait for the request too (a loaded machine read the status in between).
        while Date() < deadline
            && !(streamer.currentStatus.reconnects >= 2 && streamer.currentStatus.connected
                && fake.requests.filter({ $0.path == "/events" }).count >= 3)
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let status = streamer.currentStatus
        #expect(status.reconnects == 2)
        #expect(status.undecodable == 1)
        #expect(tracker.counters.deaths["error"] == 1)
        let events = fake.requests.filter { $0.path == "/events" }
        #expect(events.count == 3)
        // Filtered on the daemon side, and resumed from the last event seen.
        #expect(events[0].query["filters"]?.contains("health_status") == true)
        #expect(events[0].query["filters"]?.contains("exec_") == false)
        #expect(events[1].query["since"]?.hasPrefix("1795310000") == true)
        #expect(events[2].query["since"]?.hasPrefix("1795310001") == true)
        // Each (re)connect was preceded by a full list.
        #expect(fake.requests.filter { $0.path == "/containers/json" }.count == 3)
    }
}

@Suite("OOM counting")
struct OOMCountingTests {
    @Test func severalOOMEventsOfOneRunAreOneKill() {
        let t = ContainerTracker(historySize: 10)
        let e = { (action: String, at: Double) in DockerEvent(type: "container", action: action, actorID: "a", timeNano: Int64(at * 1e9)) }
        t.applyList([ContainerSummary(id: "a", names: ["/a"], image: "i", state: "running", status: "Up")], now: Date(timeIntervalSince1970: 1))
        for i in 0..<9 { t.applyEvent(e("oom", 10 + Double(i) * 0.01)) }
        t.applyEvent(e("die", 11))
        #expect(t.counters.oomKills == 1)
        t.applyEvent(e("start", 12))
        t.applyEvent(e("oom", 13))
        t.applyEvent(e("oom", 13.1))
        #expect(t.counters.oomKills == 2)
    }
}

@Suite("Streak refresh is bounded")
struct StreakRefreshTests {
    @Test func unhealthyContainersAreReinspectedRoundRobinWithinAFixedBudget() throws {
        let t = ContainerTracker(historySize: 10)
        t.applyList((0..<10).map { ContainerSummary(id: "u\($0)", names: ["/u\($0)"], image: "i", state: "running", status: "Up (unhealthy)") })
        func inspect(_ id: String, at seconds: Double) throws {
            t.applyInspect(
                try ContainerInspect.decode(
                    Data(
                        """
                        {"Id":"\(id)","Name":"/\(id)","State":{"Status":"running","Health":{"Status":"unhealthy","FailingStreak":3,"Log":[]}},"Config":{"Image":"i","Labels":{}}}
                        """.utf8)), now: Date(timeIntervalSince1970: seconds))
        }
        for (i, id) in t.idsToInspect(limit: 100).enumerated() { try inspect(id, at: Double(i)) }  // start-up: all ten
        let first = t.idsToInspect(limit: 100, streakLimit: 3)
        #expect(first == ["u0", "u1", "u2"])
        for id in first { try inspect(id, at: 100) }
        #expect(t.idsToInspect(limit: 100, streakLimit: 3) == ["u3", "u4", "u5"])
        #expect(t.idsToInspect(limit: 100, streakLimit: 0).isEmpty)
    }
}

/// `docker_watchdog_events_stream_up` comes with the containers collector's rounds; the stream
/// connecting or breaking makes that collector run a round at once, so the metric follows the
/// stream within about a second instead of an interval (here a minute) later.
@Suite("Events stream state in the metrics")
struct EventStreamStateTests {
    @Test func theStreamConnectingOrBreakingIsPublishedAtOnce() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set(
            "/containers/json",
            .json(
                """
                [{"Id":"a","Names":["/a"],"Image":"busybox","Labels":{},"State":"running","Status":"Up 2 hours"}]
                """))
        fake.set("/events", .stream(lines: [], thenClose: false))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let tracker = ContainerTracker(historySize: 10)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        // Its own client, as in the service: a stream holds its client's session for as long as it lasts.
        let streamClient = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let streamer = EventStreamer(client: streamClient, tracker: tracker, logger: logger, maxBackoff: .milliseconds(200))
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: streamer,
            settings: .init(interval: .seconds(60), resyncInterval: .seconds(60), inspectTimeout: .seconds(1), maxInspectsPerRound: 1, maxSeries: 100))
        let store = MetricsStore(apiStats: nil)
        let runner = CollectorRunner(collector: collector, store: store, logger: logger)
        streamer.observeConnection { [weak runner] in runner?.runSoon() }  // weak, as in the service

        func streamUp() -> Double? {
            store.statuses["containers"]?.families.first { $0.name == "docker_watchdog_events_stream_up" }?.samples.first?.value
        }
        func waitFor(_ value: Double, within limit: TimeInterval) -> Bool {
            let deadline = Date().addingTimeInterval(limit)
            while Date() < deadline {
                if streamUp() == value { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return false
        }

        runner.start()
        defer { _ = runner.stop() }
        #expect(waitFor(0, within: 5), "the first round, before the stream: \(String(describing: streamUp()))")
        let rounds = { store.statuses["containers"]?.runs ?? 0 }
        let before = rounds()
        streamer.start()
        defer { streamer.stop() }
        #expect(waitFor(1, within: 5), "connected, published without waiting a minute for the next round")
        #expect(rounds() > before)

        // The daemon cuts the stream and then refuses the list: down, published at once.
        fake.set("/containers/json", .error(status: 500, message: "daemon busy"))
        fake.releaseCurrentRequests()
        #expect(waitFor(0, within: 5), "the break, published without waiting a minute for the next round")
    }
}

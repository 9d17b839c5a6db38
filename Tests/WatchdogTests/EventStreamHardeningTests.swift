import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Glibc
import Locking
import Logging
import Testing
import WatchdogTestSupport
@testable import Collectors
@testable import Containers

/// A hung or hostile `/events` (issue 20): the stream reads down within its deadline, the hang is
/// counted, the containers collector keeps the state current by listing, and a line without end
/// costs memory and CPU in proportion to its length only.
@Suite("Events stream: hangs and endless lines (fake engine)", .serialized)
struct EventStreamHardeningTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static func entry(_ id: String) -> String {
        #"{"Id":"\#(id)","Names":["/\#(id)"],"Image":"busybox","Labels":{},"State":"running","Status":"Up 1 minute"}"#
    }
    static let event = #"{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"name":"a"}},"time":1795310000,"timeNano":1795310000000000000}"#

    @Test func aHungStreamReadsDownAndEveryRoundListsUntilItAnswers() throws {
        let fake = try FakeDockerEngine()
        defer {
            fake.releaseHungRequests()
            fake.stop()
        }
        fake.set("/containers/json", .json("[\(Self.entry("a"))]"))
        fake.set("/containers/a/json", .error(status: 404, message: "gone"))
        fake.set("/containers/b/json", .error(status: 404, message: "gone"))
        fake.set("/events", .hang)
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
        let tracker = ContainerTracker(historySize: 10)
        let streamer = EventStreamer(
            client: DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5)),
            tracker: tracker, logger: Self.logger, maxBackoff: .milliseconds(500), headersTimeout: .seconds(1))
        let observed = Mutex(0)
        streamer.observeConnection { observed.withLock { $0 += 1 } }
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: streamer,
            settings: .init(
                interval: .seconds(15), resyncInterval: .seconds(300), inspectTimeout: .seconds(1), maxInspectsPerRound: 0,
                maxSeries: 100))
        streamer.start()
        defer { streamer.stop() }
        // The request is accepted and never answered: not "up", at no moment.
        var sawUp = false
        let deadline = ContinuousClock.now + .seconds(4)
        while ContinuousClock.now < deadline && streamer.currentStatus.hangs < 2 {
            sawUp = sawUp || streamer.currentStatus.connected
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(!sawUp)
        #expect(observed.withLock { $0 } == 0)
        #expect(streamer.currentStatus.hangs >= 2, "one hang per headers deadline (1 s) and backoff")
        _ = collector.collect()
        // A container created while the stream hangs shows at the next round, not the next resync.
        fake.set("/containers/json", .json("[\(Self.entry("a")),\(Self.entry("b"))]"))
        let result = collector.collect()
        #expect(Set(tracker.containers.map(\.id)) == ["a", "b"])
        let s = try parseExposition(String(decoding: ExpositionRenderer.render(result.families, format: .text), as: UTF8.self))
        #expect(s.value("docker_watchdog_events_stream_up") == 0)
        #expect((s.value("docker_watchdog_events_stream_hangs_total") ?? 0) >= 2)
    }

    @Test func anAnsweringStreamIsUpAndAHungOneIsNot() throws {
        let fake = try FakeDockerEngine()
        defer {
            fake.releaseHungRequests()
            fake.stop()
        }
        fake.set("/events", .stream(lines: [Self.event], thenClose: false))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
        let connected = Mutex(false)
        let events = Mutex(0)
        try client.followContainerEvents(
            actions: ["start"], since: nil, headersTimeout: .seconds(1),
            shouldStop: { events.withLock { $0 } > 0 }, onConnected: { connected.withLock { $0 = true } },
            onEvent: { _ in events.withLock { $0 += 1 } }, onUndecodable: { _ in })
        #expect(connected.withLock { $0 })
        fake.set("/events", .hang)
        let start = ContinuousClock.now
        let hungConnected = Mutex(false)
        #expect(throws: DockerError.self) {
            try client.followContainerEvents(
                actions: ["start"], since: nil, headersTimeout: .seconds(1), shouldStop: { false },
                onConnected: { hungConnected.withLock { $0 = true } }, onEvent: { _ in }, onUndecodable: { _ in })
        }
        #expect(!hungConnected.withLock { $0 })
        // The deadline is checked on libcurl's progress tick, about once a second.
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    /// Reads an endless first line of `bytes` bytes and then one event; returns the CPU time of
    /// this thread and what the oversized-line callback saw.
    static func readEndlessLine(_ bytes: Int) throws -> (cpu: Double, oversized: [Int], events: Int) {
        let fake = try FakeDockerEngine()
        defer {
            fake.releaseHungRequests()
            fake.stop()
        }
        fake.set("/events", .unterminated(bytes: bytes, piece: 64 << 10, then: [Self.event]))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(30))
        var oversized: [Int] = []
        var events = 0
        let before = threadCPU()
        try client.followContainerEvents(
            actions: ["start"], since: nil, headersTimeout: .seconds(5), shouldStop: { events > 0 },
            onEvent: { _ in events += 1 }, onUndecodable: { _ in }, onOversized: { oversized.append($0) })
        return (threadCPU() - before, oversized, events)
    }

    static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// 2 MB cost 6.7 s of CPU and 20 MB more than 149 s before (every chunk rescanned the whole
    /// buffer): the cost must grow with the length, not its square. A ratio within one run.
    @Test func anEndlessLineIsDroppedCountedAndCostsInProportionToItsLength() throws {
        let small = try Self.readEndlessLine(2 << 20)
        let large = try Self.readEndlessLine(20 << 20)
        #expect(small.oversized.count == 1 && large.oversized.count == 1)
        #expect((large.oversized.first ?? 0) >= 20 << 20)
        #expect(small.events == 1 && large.events == 1, "the event after the dropped line is read")
        // Ten times the bytes: linear is about 10x; quadratic would be about 100x.
        let ratio = large.cpu / max(small.cpu, 0.005)
        #expect(ratio < 30, "CPU \(small.cpu) s for 2 MiB, \(large.cpu) s for 20 MiB")
    }
}

/// Inspect failures are logged with what broke, at most once per container and kind per interval.
@Suite("Inspect failures in the log (fake engine)")
struct InspectFailureLogTests {
    @Test func anUndecodableInspectIsLoggedWithItsFieldOncePerInterval() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/containers/json", .json("[\(EventStreamHardeningTests.entry("bad"))]"))
        // State.Status is a number: the decoder names what it broke on.
        fake.set("/containers/bad/json", .json(#"{"Id":"bad","Name":"/bad","RestartCount":0,"State":{"Status":123},"Config":{"Image":"busybox"}}"#))
        let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
        let logger = Logger(label: "test", factory: { _ in ServerMessagesTests.CapturingHandler(lines: lines) })
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
        let tracker = ContainerTracker(historySize: 10)
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: nil,
            settings: .init(
                interval: .seconds(15), resyncInterval: .seconds(300), inspectTimeout: .seconds(1), maxInspectsPerRound: 10,
                maxSeries: 100),
            logger: logger)
        for _ in 0..<5 { _ = collector.collect() }
        let logged = lines.withLock { $0 }.filter { $0.message == "container inspect failed" }
        #expect(logged.count == 1, "five failed rounds within one interval: one line")
        let line = try #require(logged.first)
        #expect(line.metadata["container"] == "bad")
        #expect(line.metadata["kind"] == "decode")
        let error = "\(line.metadata["error"] ?? "")"
        #expect(error.contains("Status"), "names the field: \(error)")
        // A whole interval later, it is logged again.
        collector.logInspectFailure(id: "bad", error: .undecodable(path: "/containers/{id}/json", reason: "x"), now: .now + .seconds(16))
        #expect(lines.withLock { $0 }.filter { $0.message == "container inspect failed" }.count == 2)
    }
}

/// A container label of a megabyte must not make every scrape megabytes.
@Suite("Label values capped (fake engine)")
struct LabelValueCapTests {
    static func scrape(project: String) throws -> (body: String, samples: [ParsedSample]) {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let entry = """
            [{"Id":"a","Names":["/a"],"Image":"busybox","State":"running","Status":"Up 1 minute",\
            "Labels":{"com.docker.compose.project":"\(project)","com.docker.compose.service":"web"}}]
            """
        fake.set("/containers/json", .json(entry))
        fake.set("/containers/a/json", .error(status: 404, message: "gone"))
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
        let tracker = ContainerTracker(historySize: 10, labelKeys: ["com.docker.compose.project", "com.docker.compose.service"])
        let collector = ContainerCollector(
            client: client, tracker: tracker, streamer: nil,
            settings: .init(
                interval: .seconds(15), resyncInterval: .seconds(300), inspectTimeout: .seconds(1), maxInspectsPerRound: 0,
                maxSeries: 100, maxLabelValueLength: 256))
        let body = String(decoding: ExpositionRenderer.render(collector.collect().families, format: .text), as: UTF8.self)
        return (body, try parseExposition(body))
    }

    @Test func aMegabyteLabelIsCutWithAMarkerAndCounted() throws {
        let normal = try Self.scrape(project: "shop")
        let huge = try Self.scrape(project: String(repeating: "p", count: 1 << 20))
        let projects = Set(huge.samples.compactMap { $0.labels["compose_project"] })
        #expect(projects.count == 1)
        let value = try #require(projects.first)
        #expect(value.utf8.count <= 256 && value.hasSuffix("…"))
        #expect(value.hasPrefix(String(repeating: "p", count: 200)))
        #expect((huge.samples.first { $0.name == "docker_watchdog_label_values_truncated_total" }?.value ?? 0) >= 1)
        #expect(normal.samples.first { $0.name == "docker_watchdog_label_values_truncated_total" }?.value == 0)
        #expect(huge.body.utf8.count < 2 * normal.body.utf8.count, "\(huge.body.utf8.count) vs \(normal.body.utf8.count) bytes")
    }

    @Test func cutsFallOnCharacterBoundaries() {
        #expect(ContainerCollector.cappedLabelValue("short", limit: 16) == nil)
        let cut = ContainerCollector.cappedLabelValue(String(repeating: "é", count: 20), limit: 16)
        #expect(cut == String(repeating: "é", count: 6) + "…")  // 12 bytes + 3
        #expect((cut?.utf8.count ?? 99) <= 16)
    }
}

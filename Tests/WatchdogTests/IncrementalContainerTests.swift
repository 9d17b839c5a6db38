import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
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

/// The shortcuts of a containers round against doing everything again, over long random
/// sequences of lists, events and inspects: the tracker skipping list entries that did not
/// change (``ContainerListDelta``) must end in exactly the state of a tracker that applied every
/// entry, and the collector rebuilding only changed rows must export exactly what a new
/// collector builds from scratch.
@Suite("Incremental container rounds")
struct IncrementalContainerTests {
    struct Generator {
        var seed: UInt64
        mutating func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33) % bound
        }
        mutating func pick<T>(_ xs: [T]) -> T { xs[next(xs.count)] }
    }

    struct Container {
        var serial: Int
        var name: String
        var state = "running"
        var health = "healthy"
        var project: String?
        var service: String?
        var minutes = 1
        var streak = 0
        var restarts = 0
        var id: String { String(repeating: String(format: "%08x", serial &* 2_654_435_761 & 0xFFFF_FFFF), count: 8) }
    }

    static func listBody(_ host: [Container]) -> [UInt8] {
        let entries = host.map { c -> String in
            var labels = ["team": "t\(c.serial % 3)"]
            if let p = c.project { labels["com.docker.compose.project"] = p }
            if let s = c.service { labels["com.docker.compose.service"] = s }
            let labelText = labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
            let status = c.state == "running" ? "Up \(c.minutes) minutes (\(c.health == "none" ? "" : c.health))" : "Exited (1) \(c.minutes) minutes ago"
            return #"{"Id":"\#(c.id)","Names":["/\#(c.name)"],"Image":"img:\#(c.serial % 4)","ImageID":"sha256:x","Labels":{\#(labelText)},"#
                + #""State":"\#(c.state)","Status":"\#(status)","Created":\#(1_700_000_000 + c.serial),"Mounts":[{"Type":"volume"}]}"#
        }
        return Array(("[" + entries.joined(separator: ",") + "]").utf8)
    }

    static func inspect(_ c: Container) throws -> ContainerInspect {
        let health = c.health == "none" ? "" : #","Health":{"Status":"\#(c.health)","FailingStreak":\#(c.streak),"Log":[{"ExitCode":\#(c.streak > 0 ? 1 : 0),"Output":"probe \#(c.streak)"}]}"#
        let json =
            #"{"Id":"\#(c.id)","Name":"/\#(c.name)","RestartCount":\#(c.restarts),"Config":{"Image":"img:\#(c.serial % 4)","Labels":{}},"#
            + #""State":{"Status":"\#(c.state)","OOMKilled":false,"ExitCode":\#(c.state == "running" ? 0 : 1),"StartedAt":"2024-11-02T10:00:0\#(c.restarts % 10)Z"\#(health)}}"#
        return try ContainerInspect.decode(Data(json.utf8))
    }

    static func state(_ t: ContainerTracker) -> [TrackedContainer] {
        t.containers.sorted { $0.id < $1.id }.map { c in
            var c = c
            c.lastInspected = nil  // the wall clock at the inspect, not part of what is compared
            return c
        }
    }

    /// What `idsToInspect` picks, worked out by walking every container (the reference).
    static func inspectCandidatesByWalking(_ t: ContainerTracker, limit: Int, streakLimit: Int) -> [String] {
        let all = t.containers
        let changed = all.filter(\.needsInspect).map(\.id).sorted().prefix(limit)
        let unhealthy = all.filter { !$0.needsInspect && $0.health == "unhealthy" }
            .sorted { ($0.lastInspected ?? .distantPast, $0.id) < ($1.lastInspected ?? .distantPast, $1.id) }.map(\.id)
        return Array(changed) + unhealthy.prefix(max(0, min(streakLimit, limit - changed.count)))
    }

    /// (containers at the start, series limit): the limit cutting the series (one chunk), and
    /// several chunks of per-container families (``ContainerCollector/RowCache/chunkRows`` rows
    /// each) with nothing cut, and several chunks under a limit that cuts them at the start (and
    /// may stop cutting as containers go or are renamed out of the selection).
    @Test(arguments: [(30, 25), (150, 2000), (100, 97)])
    func skippingUnchangedEntriesAndRebuildingOnlyChangedRowsChangesNothing(containers: Int, seriesLimit: Int) throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1))
        let settings = ContainerCollector.Settings(
            interval: .seconds(1), resyncInterval: .seconds(60), inspectTimeout: .seconds(1), maxInspectsPerRound: 1,
            maxSeries: seriesLimit, exclude: "-skip$", labelKeys: ["team"])

        var random = Generator(seed: 0x1C0FFEE)
        var host = (0..<containers).map { Container(serial: $0, name: "app-\($0)", project: $0 % 3 == 0 ? "p\($0 % 2)" : nil, service: $0 % 3 == 0 ? "s\($0 % 4)" : nil) }
        var nextSerial = containers
        let fast = ContainerTracker(historySize: 50), plain = ContainerTracker(historySize: 50)
        let incremental = ContainerCollector(client: client, tracker: fast, streamer: nil, settings: settings)
        var cache = ContainerListCache()
        var previousBody: [UInt8] = []
        var skipped = 0
        var limitCut = false, limitNotReached = false
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        for step in 0..<400 {
            switch random.next(10) {
            case 0, 1, 2:
                // The host changes (what the next list shows).
                for _ in 0..<random.next(3) {
                    let k = random.next(host.count)
                    switch random.next(9) {
                    case 0: host[k].minutes += 1
                    case 1: host[k].health = random.pick(["healthy", "unhealthy", "starting", "none"])
                    case 2: host[k].state = host[k].state == "running" ? "exited" : "running"
                    case 3: host[k].name = random.pick(["app-\(host[k].serial)", "renamed-\(host[k].serial)", "x-\(host[k].serial)-skip"])
                    case 4: host[k].project = random.pick([nil, "p0", "p1", "p2"])
                    case 5:
                        host.insert(Container(serial: nextSerial, name: "app-\(nextSerial)", project: "p1", service: "web"), at: k)
                        nextSerial += 1
                    case 6: if host.count > 5 { host.remove(at: k) }
                    case 7: host[k].restarts += 1
                    default: host[k].streak += 1
                    }
                }
            case 3, 4, 5:
                // A resync: the same decoded list to both trackers, with and without its delta.
                let body = Self.listBody(host)
                // Every other list says how far its bytes equal the last one's, as the client's
                // comparison does (the entries inside are taken over unread).
                let prefix = step % 2 == 0 ? zip(body, previousBody).prefix { $0 == $1 }.count : 0
                previousBody = body
                let list = try ContainerListScanner.decode(body, cache: &cache, equalPrefixLength: prefix)
                fast.applyList(list, delta: cache.lastDelta, now: now)
                plain.applyList(list, now: now)
                skipped += cache.lastDelta.unchanged.filter { $0 }.count
            case 6, 7:
                // An event about a listed, a vanished or an unknown container.
                let id = random.next(5) == 0 ? String(repeating: "f", count: 64) : host[random.next(host.count)].id
                let action = random.pick(["health_status: unhealthy", "health_status: healthy", "die", "start", "destroy", "rename", "oom"])
                let (verb, detail) =
                    action.contains(": ")
                    ? (String(action.split(separator: ":")[0]), action.components(separatedBy: ": ")[1]) : (action, "")
                let event = DockerEvent(
                    type: "container", action: detail.isEmpty ? verb : "\(verb): \(detail)", actorID: id,
                    attributes: ["name": "evt-\(step)", "exitCode": "1"], timeNano: Int64(1_800_000_000 + step) * 1_000_000_000)
                fast.applyEvent(event)
                plain.applyEvent(event)
            default:
                // An inspect of a container as the host has it now.
                let c = host[random.next(host.count)]
                let answer = try Self.inspect(c)
                fast.applyInspect(answer, now: now)
                plain.applyInspect(answer, now: now)
            }
            #expect(Self.state(fast) == Self.state(plain), "step \(step): tracker state")
            #expect(fast.counters == plain.counters, "step \(step): counters")
            #expect(fast.history == plain.history, "step \(step): history")
            // The inspect candidates kept up to date as containers change, against a walk over all.
            #expect(fast.idsToInspect(limit: 3, streakLimit: 2) == Self.inspectCandidatesByWalking(plain, limit: 3, streakLimit: 2), "step \(step): inspect candidates")

            // Exported series: the long-lived collector against one built from scratch.
            let fresh = ContainerCollector(client: client, tracker: plain, streamer: nil, settings: settings)
            let got = String(decoding: ExpositionRenderer.render(incremental.families(), format: .text), as: UTF8.self)
            let want = String(decoding: ExpositionRenderer.render(fresh.families(), format: .text), as: UTF8.self)
            #expect(got == want, "step \(step): exported series")
            if got != want { break }
            let series = want.components(separatedBy: "\ndocker_container_state{").count - 1
            if series == seriesLimit { limitCut = true } else if series > 0 { limitNotReached = true }
        }
        if containers > seriesLimit { #expect(limitCut, "the series limit cut the series at some step") }
        if seriesLimit > containers + 50 { #expect(limitNotReached, "series of every container at some step") }
        #expect(skipped > 1000, "the delta let the tracker skip \(skipped) entries")
        #expect(fast.wholeListFallbacks == 0, "every list with a delta was applied by its changes")
    }

    @Test func aListFromElsewhereIsNotTakenForTheOneBefore() throws {
        // The events streamer applies plain lists between the collector's: the next delta must
        // not be trusted against a list the tracker did not see last.
        let host = (0..<3).map { Container(serial: $0, name: "app-\($0)") }
        let t = ContainerTracker(historySize: 10)
        var cache = ContainerListCache()
        let first = try ContainerListScanner.decode(Self.listBody(host), cache: &cache)
        t.applyList(first, delta: cache.lastDelta)
        t.applyList([])  // a plain list without the containers
        #expect(t.containers.isEmpty)
        let again = try ContainerListScanner.decode(Self.listBody(host), cache: &cache)
        #expect(cache.lastDelta.unchanged == [true, true, true])
        t.applyList(again, delta: cache.lastDelta)
        #expect(t.containers.count == 3, "the unchanged entries were applied, not skipped")
    }
}

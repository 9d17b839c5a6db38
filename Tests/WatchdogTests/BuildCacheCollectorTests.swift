import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Logging
import Locking
import Testing
import WatchdogTestSupport
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import ResponseBodies

/// The build_cache collector and the /system/df gate against the fake engine.
@Suite("Build cache collector (fake engine)")
struct BuildCacheCollectorTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func client(_ fake: FakeDockerEngine) -> DockerClient {
        DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
    }

    /// A `/system/df` body (legacy shape, as 20.10 sends it) with build-cache records created now.
    static func dfBody(_ records: [(id: String, type: String, uses: Int, description: String)], inUse: Bool = false) -> String {
        let now = ISO8601DateFormatter().string(from: Date())
        let items = records.map { r in
            """
            {"ID":"\(r.id)","Parent":"","Type":"\(r.type)","Description":"\(r.description)","InUse":\(inUse),\
            "Shared":false,"Size":100,"CreatedAt":"\(now)","LastUsedAt":"\(now)","UsageCount":\(r.uses)}
            """
        }
        return """
            {"LayersSize":1000,"Images":[],"Containers":[],"Volumes":[],"BuildCache":[\(items.joined(separator: ","))],"BuilderSize":0}
            """
    }

    func render(_ collectors: [any Collector], store: MetricsStore = MetricsStore(apiStats: nil)) throws -> [ParsedSample] {
        for c in collectors {
            let r = c.collect()
            store.publish(
                CollectorStatus(
                    name: c.name, families: r.families, success: r.error == nil, error: r.error, duration: .milliseconds(1),
                    lastSuccess: r.error == nil ? Date() : nil, lastRound: Date(), runs: 1, failures: r.error == nil ? 0 : 1))
        }
        return try parseExposition(String(decoding: store.render(format: .text, gzip: false).body, as: UTF8.self))
    }

    @Test func countsHitsAndMissesAcrossRoundsAndServesOnlyCatalogFamilies() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.43")
        defer { fake.stop() }
        let collector = BuildCacheCollector(client: client(fake), gate: SystemDFGate(), interval: .seconds(60), timeout: .seconds(2), logger: logger)
        let store = MetricsStore(apiStats: nil)

        // No records: sizes at zero, hit rate explicitly unavailable, no counters.
        var s = try render([collector], store: store)
        #expect(s.value("docker_build_cache_hit_rate_available") == 0)
        #expect(s.value("docker_build_cache_records", ["record_type": "regular"]) == 0)
        #expect(!s.contains { $0.name == "docker_build_cache_hits_total" || $0.name == "docker_build_cache_misses_total" })
        let query = try #require(fake.requests.last { $0.path == "/system/df" }).query
        #expect(query["type"] == "build-cache", "API 1.42+ asks for the build cache only")

        // A first build: 2 step records, 1 base-image layer, 1 context.
        let build1 = [
            (id: "b", type: "regular", uses: 1, description: "from local "),
            (id: "s1", type: "regular", uses: 1, description: "mount / from exec /bin/sh -c make"),
            (id: "s2", type: "regular", uses: 1, description: "fileop target"),
            (id: "c", type: "source.local", uses: 1, description: "local source for context"),
        ]
        fake.set("/system/df", .json(Self.dfBody(build1)))
        s = try render([collector], store: store)
        #expect(s.value("docker_build_cache_hit_rate_available") == 1)
        #expect(
            s.value("docker_build_cache_misses_total", ["record_type": "regular", "origin": "build"]) == 0,
            "counters first appear at zero")
        #expect(s.value("docker_build_cache_records", ["record_type": "regular"]) == 3)
        #expect(s.value("docker_build_cache_size_bytes", ["record_type": "source.local"]) == 100)

        // The same build again: everything reused once.
        fake.set("/system/df", .json(Self.dfBody(build1.map { ($0.id, $0.type, 2, $0.description) })))
        s = try render([collector], store: store)
        #expect(s.value("docker_build_cache_misses_total", ["record_type": "regular", "origin": "build"]) == 2)
        #expect(s.value("docker_build_cache_misses_total", ["record_type": "regular", "origin": "base_image"]) == 1)
        #expect(s.value("docker_build_cache_hits_total", ["record_type": "regular", "origin": "build"]) == 2)
        #expect(s.value("docker_build_cache_hits_total", ["record_type": "regular", "origin": "base_image"]) == 1)
        #expect(s.value("docker_build_cache_hits_total", ["record_type": "source.local", "origin": "build"]) == 1)
        #expect(s.value("docker_build_cache_hits_total", ["record_type": "exec.cachemount", "origin": "build"]) == 0)

        // A failed round keeps serving the last figures and says it failed.
        fake.set("/system/df", .error(status: 500, message: "boom"))
        s = try render([collector], store: store)
        #expect(s.value("docker_watchdog_collector_success", ["collector": "build_cache"]) == 0)
        #expect(s.value("docker_build_cache_hits_total", ["record_type": "regular", "origin": "build"]) == 2)

        let known = Set(MetricCatalog.all.map(\.exportedName) + MetricCatalog.all.map(\.name))
        let exported = Set(s.map(\.name))
        #expect(exported.subtracting(known).isEmpty, "not in the catalog: \(exported.subtracting(known))")
        #expect(
            exported.filter { $0.hasPrefix("docker_build_cache_") }.count == MetricCatalog.buildCacheMetrics.count,
            "every build-cache family is served once records exist")
    }

    @Test func api141AsksForEverythingAndReusesTheSystemDFCollectorsAnswer() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.41")
        defer { fake.stop() }
        fake.set("/system/df", .json(Self.dfBody([(id: "s1", type: "regular", uses: 1, description: "x")])))
        let gate = SystemDFGate()
        let df = SystemDFCollector(client: client(fake), host: HostStatus(), interval: .seconds(60), timeout: .seconds(2), gate: gate)
        let bc = BuildCacheCollector(client: client(fake), gate: gate, interval: .seconds(60), timeout: .seconds(2), logger: logger)
        func dfCalls() -> Int { fake.requests.filter { $0.path == "/system/df" }.count }

        let s = try render([df, bc])
        #expect(dfCalls() == 1, "the build_cache round used the system_df answer")
        #expect(s.value("docker_build_cache_records", ["record_type": "regular"]) == 1)
        #expect(s.value("docker_disk_usage_objects", ["category": "build_cache"]) == 1)

        // Its own next round: no newer answer to reuse, so it calls (without ?type=, which 1.41 ignores).
        _ = bc.collect()
        #expect(dfCalls() == 2)
        #expect(fake.requests.last { $0.path == "/system/df" }?.query["type"] == nil)
    }

    @Test func theGateKeepsSystemDFSingleFlight() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.43")
        defer { fake.stop() }
        fake.set("/system/df", .delay(.milliseconds(800), then: .json(Self.dfBody([]))))
        let gate = SystemDFGate()
        let slow = client(fake)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            started.signal()
            _ = try? gate.fetchUsage(waitingAtMost: .seconds(5)) { () throws(DockerError) -> SystemDiskUsage in
                try slow.systemDiskUsage(kinds: DiskUsageKind.allCases, timeout: .seconds(5))
            }
            finished.signal()
        }.start()
        started.wait()
        Thread.sleep(forTimeInterval: 0.2)

        // A second caller that will not wait long enough gets Busy and sends nothing.
        let other = BuildCacheCollector(client: client(fake), gate: gate, interval: .seconds(60), timeout: .milliseconds(200), logger: logger)
        let r = other.collect()
        #expect(r.error?.contains("still running") == true, "\(r.error ?? "no error")")
        #expect(fake.requests.filter { $0.path == "/system/df" }.count == 1)

        // One that waits gets the gate after the first call, and reuses its fresh answer (1.43: within 30s).
        let patient = BuildCacheCollector(client: client(fake), gate: gate, interval: .seconds(60), timeout: .seconds(5), logger: logger)
        let r2 = patient.collect()
        #expect(r2.error == nil)
        #expect(finished.wait(timeout: .now() + 5) == .success)
        #expect(fake.requests.filter { $0.path == "/system/df" }.count == 1)
    }
}

import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Logging
import MicroHTTPServer
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

/// Collectors, the store and the router driven by the fake engine and fake statvfs.
@Suite("Collectors and web router (fake engine)")
struct CollectorTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func client(_ fake: FakeDockerEngine) -> DockerClient {
        DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(2))
    }

    func render(_ store: MetricsStore, _ collectors: [any Collector]) throws -> [ParsedSample] {
        for c in collectors {
            let r = c.collect()
            store.publish(
                CollectorStatus(
                    name: c.name, families: r.families, success: r.error == nil, error: r.error, duration: .milliseconds(1),
                    lastSuccess: r.error == nil ? Date() : nil, lastRound: Date(), runs: 1, failures: r.error == nil ? 0 : 1))
        }
        let body = store.render(format: .text, gzip: false).body
        return try parseExposition(String(decoding: body, as: UTF8.self))
    }

    @Test func daemonUpThenHungThenBack() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let host = HostStatus()
        let daemon = DaemonCollector(client: client(fake), host: host, interval: .seconds(1), timeout: .milliseconds(200), infoInterval: .seconds(60), logger: logger)
        let store = MetricsStore(apiStats: nil)

        var s = try render(store, [daemon])
        #expect(s.value("docker_daemon_up") == 1)
        #expect(s.value("docker_daemon_info", ["storage_driver": "overlay2", "live_restore": "false"]) == 1)
        #expect(s.value("docker_daemon_ping_duration_seconds_count") == 1)

        fake.set("/_ping", .hang)
        for _ in 0..<3 { _ = daemon.collect() }
        s = try render(store, [daemon])
        #expect(s.value("docker_daemon_up") == 0)
        #expect(s.value("docker_daemon_consecutive_probe_failures") == 4)
        #expect(s.value("docker_daemon_probe_failures_total", ["reason": "timeout"]) == 4)
        #expect(s.value("docker_watchdog_collector_success", ["collector": "daemon"]) == 0)
        // Failed probes are not latency observations.
        #expect(s.value("docker_daemon_ping_duration_seconds_count") == 1)

        fake.set("/_ping", FakeDockerEngine.defaultRoutes(apiVersion: "1.41")["/_ping"]!)
        s = try render(store, [daemon])
        #expect(s.value("docker_daemon_up") == 1)
        #expect(s.value("docker_daemon_consecutive_probe_failures") == 0)
        #expect(host.daemon.up)
    }

    @Test func labelValuesWithQuotesBackslashesAndNewlinesCannotBreakTheOutput() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let nasty = "/var/lib/\"docker\"\\x\nfake_metric 1"
        let escapedJSON = nasty.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        fake.set("/info", .json("{\"ServerVersion\":\"x\\\"} 1\\n\",\"DockerRootDir\":\"\(escapedJSON)\",\"Driver\":\"overlay2\",\"LiveRestoreEnabled\":true}"))
        let daemon = DaemonCollector(client: client(fake), host: HostStatus(), interval: .seconds(1), timeout: .seconds(1), infoInterval: .seconds(60), logger: logger)
        let store = MetricsStore(apiStats: nil)
        let samples = try render(store, [daemon])
        #expect(samples.contains { $0.name == "fake_metric" } == false)
        #expect(samples.value("docker_daemon_info", ["root_dir": nasty, "server_version": "x\"} 1\n"]) == 1)
        for format in [ExpositionFormat.text, .openMetrics] {
            let text = String(decoding: store.render(format: format, gzip: false).body, as: UTF8.self)
            // Every line is a comment, or starts with a metric this program exports.
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(line.hasPrefix("docker_"), "injected line: \(line)")
            }
        }
    }

    @Test func diskCollectorReportsAHungStatfsAndStartsNoSecondThread() throws {
        let gate = DispatchSemaphore(value: 0)
        let calls = Counter()
        let probe = StatfsProbe(statvfsCall: { _ in
            calls.increment()
            if calls.value == 1 {
                gate.wait()  // the first call hangs like a dead NFS mount
                return .failure(.failed(path: "/x", errno: EIO))
            }
            return .success(FilesystemStats(sizeBytes: 1000, freeBytes: 500, availableBytes: 400, files: 10, filesFree: 5, readOnly: false))
        })
        let hungDisk = DiskCollector(client: nil, host: HostStatus(), interval: .seconds(1), statfsTimeout: .milliseconds(100), path: "/x", hostPrefix: "", probe: probe)
        let store = MetricsStore(apiStats: nil)
        var s = try render(store, [hungDisk])
        #expect(s.value("docker_root_filesystem_statfs_hung") == 1)
        #expect(s.value("docker_root_filesystem_size_bytes") == nil)
        for _ in 0..<5 { _ = hungDisk.collect() }
        #expect(calls.value == 1)
        gate.signal()
        Thread.sleep(forTimeInterval: 0.1)
        s = try render(store, [hungDisk])
        #expect(s.value("docker_root_filesystem_statfs_hung") == 0)
        #expect(s.value("docker_root_filesystem_available_bytes", ["path": "/x"]) == 400)
        #expect(calls.value == 2)
    }

    @Test func diskCollectorMeasuresTheDaemonsRootWithHostPrefix() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        // The fake reports DockerRootDir=/tmp; with prefix "/" the path stays /tmp.
        let disk = DiskCollector(client: client(fake), host: HostStatus(), interval: .seconds(1), statfsTimeout: .seconds(2), path: "", hostPrefix: "/")
        let s = try render(MetricsStore(apiStats: nil), [disk])
        let size = try #require(s.value("docker_root_filesystem_size_bytes", ["path": "/tmp"]))
        let avail = try #require(s.value("docker_root_filesystem_available_bytes", ["path": "/tmp"]))
        #expect(size > 0 && avail <= size)
    }

    @Test func systemDFKeepsTheLastGoodSampleAndSaysItFailed() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let df = SystemDFCollector(client: client(fake), host: HostStatus(), interval: .seconds(60), timeout: .seconds(2))
        let store = MetricsStore(apiStats: nil)
        var s = try render(store, [df])
        #expect(s.value("docker_disk_usage_size_bytes", ["category": "images"]) == 1000)
        fake.set("/system/df", .error(status: 500, message: "boom"))
        s = try render(store, [df])
        #expect(s.value("docker_disk_usage_size_bytes", ["category": "images"]) == 1000)
        #expect(s.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 0)
    }

    @Test func processCollectorReadsItsOwnFigures() throws {
        let figures = try ProcessCollector(interval: .seconds(1)).read()
        #expect(figures.residentBytes > 1_000_000)
        #expect(figures.openFDs >= 3)
        #expect(figures.threads >= 1)
        #expect(figures.startTimeSeconds > 1_600_000_000)
    }

    @Test func everyExportedFamilyIsInTheCatalog() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let c = client(fake)
        let host = HostStatus()
        let collectors: [any Collector] = [
            DaemonCollector(client: c, host: host, interval: .seconds(1), timeout: .seconds(1), infoInterval: .seconds(60), logger: logger),
            DiskCollector(client: c, host: host, interval: .seconds(1), statfsTimeout: .seconds(1), path: "/tmp", hostPrefix: ""),
            SystemDFCollector(client: c, host: host, interval: .seconds(1), timeout: .seconds(1)),
            ProcessCollector(interval: .seconds(1)),
        ]
        let samples = try render(MetricsStore(apiStats: c.stats), collectors)
        let known = Set(
            MetricCatalog.all.flatMap { d -> [String] in
                d.type == .histogram ? [d.name + "_bucket", d.name + "_sum", d.name + "_count"] : [d.exportedName]
            })
        let exported = Set(samples.map(\.name))
        #expect(exported.subtracting(known).isEmpty, "not in the catalog: \(exported.subtracting(known))")
        #expect(exported.count > 25)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// The store renders incrementally (per-family fragments, per-family gzip pieces): the bodies
/// must still be exactly what a whole render gives, and the gzip body a valid gzip of it.
@Suite("Incremental rendering in the metrics store")
struct IncrementalRenderTests {
    func status(_ name: String, _ families: [MetricFamily]) -> CollectorStatus {
        CollectorStatus(
            name: name, families: families, success: true, error: nil, duration: .milliseconds(1), lastSuccess: nil,
            lastRound: Date(timeIntervalSince1970: 1_700_000_000), runs: 1, failures: 0)
    }

    func gunzip(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).gz").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runCommand("/bin/gzip", ["-dc", path])
        #expect(result.status == 0, "gzip -dc: \(result.error)")
        return result.output
    }

    @Test(arguments: [ExpositionFormat.text, .openMetrics])
    func bodiesEqualAWholeRenderAcrossPublishes(format: ExpositionFormat) throws {
        let store = MetricsStore(apiStats: nil)
        let many = MetricFamily.gauge("docker_container_state", help: "State.", (0..<500).map { ([Label("name", "c\($0)")], Double($0 % 7)) })
        for round in 0..<4 {
            let small = MetricFamily.gauge("docker_daemon_up", help: "Up.", value: Double(round % 2))
            store.publish(status("containers", [many]))
            store.publish(status("daemon", [small]))
            let plain = store.render(format: format, gzip: false)
            #expect(!plain.gzipped)
            let whole = ExpositionRenderer.render(store.families(statuses: store.statuses, counts: .init(), reload: store.reloadStatus, http: store.httpCounts), format: format)
            #expect(plain.body == whole, "round \(round)")
            let zipped = store.render(format: format, gzip: true)
            #expect(zipped.gzipped)
            #expect(zipped.body.count < plain.body.count / 3)
            #expect(try gunzip(zipped.body) == String(decoding: whole, as: UTF8.self), "round \(round)")
            #expect(String(decoding: plain.body, as: UTF8.self).contains("docker_daemon_up \(round % 2)"))
        }
    }

    /// Gauges and counters render to the same sample lines in both formats (only HELP and TYPE
    /// differ): after a text and an OpenMetrics scrape the store keeps one array of them; a
    /// histogram's `le` is written differently and stays apart. All four bodies stay correct.
    @Test func theTwoFormatsShareTheSampleLinesTheyHaveInCommon() throws {
        let store = MetricsStore(apiStats: nil)
        let many = MetricFamily.gauge("docker_container_state", help: "State.", (0..<300).map { ([Label("name", "c\($0)")], Double($0 % 7)) })
        let counter = MetricFamily.counter("docker_container_restarts", help: "Restarts.", value: 3)
        var h = Histogram(upperBounds: [0.5, 1, 10])
        h.observe(0.7)
        let histogram = MetricFamily.histogram("docker_watchdog_scrape_seconds", help: "Scrapes.", [([], h)])
        store.publish(status("containers", [many, counter, histogram]))
        for (format, gzip) in [(ExpositionFormat.text, false), (.openMetrics, false), (.text, true), (.openMetrics, true)] {
            let body = store.render(format: format, gzip: gzip)
            let whole = ExpositionRenderer.render(store.families(statuses: store.statuses, counts: .init(), reload: store.reloadStatus, http: store.httpCounts), format: format)
            #expect((gzip ? Array(try gunzip(body.body).utf8) : body.body) == whole, "\(format) gzip \(gzip)")
        }
        func base(_ bytes: [UInt8]?) -> UnsafeRawPointer? { bytes?.withUnsafeBytes { $0.baseAddress } }
        for name in ["docker_container_state", "docker_container_restarts"] {
            let text = store.keptSamples(name, openMetrics: false), om = store.keptSamples(name, openMetrics: true)
            #expect(text != nil && text == om, "\(name)")
            #expect(base(text) == base(om), "\(name): one array for both formats")
        }
        let textHistogram = store.keptSamples("docker_watchdog_scrape_seconds", openMetrics: false)
        let omHistogram = store.keptSamples("docker_watchdog_scrape_seconds", openMetrics: true)
        #expect(textHistogram != nil && omHistogram != nil && textHistogram != omHistogram)
    }
}

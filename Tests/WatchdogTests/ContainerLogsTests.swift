import DockerEngine
import Exposition
import Foundation
import Testing
import WatchdogTestSupport
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Sampling
@testable import Web

/// Container logs: measured from the files, and truncated by the opt-in `container_logs` step.
@Suite("Container logs (real files, fake host)")
struct ContainerLogsTests {
    static func inspect(_ id: String, name: String, driver: String, logPath: String, maxSize: String? = nil) throws -> ContainerInspect {
        let options = maxSize.map { #"{"max-size":"\#($0)"}"# } ?? "{}"
        return try ContainerInspect.decode(
            Data(
                """
                {"Id":"\(id)","Name":"/\(name)","State":{"Status":"running"},"Config":{"Image":"busybox","Labels":{"com.docker.compose.project":"shop"}},
                 "LogPath":"\(logPath)","HostConfig":{"LogConfig":{"Type":"\(driver)","Config":\(options)}}}
                """.utf8))
    }

    @Test func logSizesComeFromTheFilesAndRotationsAndUnlimitedOnesAreFlagged() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("wd-logs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Sizes in whole 4 KiB blocks: the collector counts allocated bytes (what the disk holds).
        func write(_ path: String, _ bytes: Int) throws {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(repeating: 0x61, count: bytes).write(to: URL(fileURLWithPath: path))
        }
        let chatty = "\(root)/containers/aaa/aaa-json.log"
        try write(chatty, 8192)
        try write(chatty + ".1", 4096)
        try write(chatty + ".2.gz", 4096)
        try write("\(root)/containers/aaa/config.v2.json", 99_999)  // not a log
        let capped = "\(root)/containers/bbb/bbb-json.log"
        try write(capped, 4096)
        try write("\(root)/containers/ccc/local-logs/container.log", 8192)
        try write("\(root)/containers/ccc/local-logs/container.log.1.gz", 4096)

        let tracker = ContainerTracker(historySize: 10)
        tracker.applyInspect(try Self.inspect("aaa", name: "chatty", driver: "json-file", logPath: chatty))
        tracker.applyInspect(try Self.inspect("bbb", name: "capped", driver: "json-file", logPath: capped, maxSize: "10m"))
        tracker.applyInspect(try Self.inspect("ccc", name: "local", driver: "local", logPath: ""))
        tracker.applyInspect(try Self.inspect("ddd", name: "journal", driver: "journald", logPath: ""))
        let host = HostStatus()
        host.updateDaemon { $0.rootDir = root }
        let collector = LogsCollector(interval: .seconds(1), tracker: tracker, host: host, hostPrefix: "", maxSeries: 2, maxLabelValueLength: 256)
        let result = collector.collect()
        #expect(result.error == nil)
        let text = result.families.map { String(decoding: ExpositionRenderer.render([$0], format: .text), as: UTF8.self) }.joined()
        let s = try parseExposition(text)
        #expect(s.value("docker_container_log_bytes", ["name": "chatty", "image": "busybox", "compose_project": "shop"]) == 16384)
        #expect(s.value("docker_container_log_unbounded", ["name": "chatty", "image": "busybox", "compose_project": "shop"]) == 1)
        #expect(s.value("docker_container_log_bytes", ["name": "local", "image": "busybox", "compose_project": "shop"]) == 12288)
        // max_series 2: the smallest (capped, 4 KiB) has no series of its own, but counts in the totals.
        #expect(s.value("docker_container_log_bytes", ["name": "capped", "image": "busybox", "compose_project": "shop"]) == nil)
        #expect(s.value("docker_container_logs_bytes", ["driver": "json-file"]) == 20480)
        #expect(s.value("docker_container_logs_bytes", ["driver": "local"]) == 12288)
        #expect(s.value("docker_container_logs_unbounded") == 1)
        #expect(s.value("docker_container_logs_measured", ["driver": "json-file"]) == 2)
        // Behind a host prefix (the watchdog in a container with the host at /host) the same files are found.
        let prefixed = LogsCollector(
            interval: .seconds(1), tracker: tracker, host: host, hostPrefix: "/nonexistent-prefix", maxSeries: 2, maxLabelValueLength: 256)
        #expect(prefixed.measure()?.isEmpty == true)
        let failures = try parseExposition(
            prefixed.collect().families.map { String(decoding: ExpositionRenderer.render([$0], format: .text), as: UTF8.self) }.joined())
        #expect((failures.value("docker_watchdog_log_stat_failures_total") ?? 0) >= 3)
    }

    @Test func theLogsStepTruncatesOnlyOptedInJSONLogsAboveTheSizeLargestFirstAndStopsAtTheTarget() throws {
        let clock = FakeClock()
        let host = FakeHost()
        host.size = 2000
        let optIn = ["docker-watchdog.truncate-logs": "true"]
        host.containers = [
            .init(id: "a", name: "api", imageID: "i", state: "running", size: 0, labels: optIn, finished: clock.now, logPath: "/l/a", logBytes: 500),
            .init(id: "b", name: "batch", imageID: "i", state: "running", size: 0, labels: optIn, finished: clock.now, logPath: "/l/b", logBytes: 800),
            .init(id: "c", name: "cron", imageID: "i", state: "running", size: 0, labels: optIn, finished: clock.now, logPath: "/l/c", logBytes: 50),
            .init(
                id: "p", name: "payments", imageID: "i", state: "running", size: 0,
                labels: optIn.merging(["docker-watchdog.protect": "true"]) { a, _ in a }, finished: clock.now, logPath: "/l/p", logBytes: 300),
            .init(id: "q", name: "quiet", imageID: "i", state: "running", size: 0, finished: clock.now, logPath: "/l/q", logBytes: 250),
        ]
        // 1900 of 2000 used; the target (30%) needs 500 bytes.
        host.images = [.init(id: "i", tags: ["app:1"], created: 0, size: 0)]
        let path = PolicyTestSupport.auditPath()
        let ledger = ActionLedger(audit: AuditLog(path: path), logger: PolicyTestSupport.logger)
        let disk = DiskRemediation(
            settings: .init(
                thresholds: DiskThresholds(actBelowRatio: 0.10, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.30, targetInodesRatio: 0.05),
                steps: [.containerLogs], logsTruncateAbove: 100),
            docker: host, measure: { host.stats() }, ledger: ledger, clock: clock.policyClock, logFiles: host)
        disk.evaluate()
        #expect(host.calls == ["truncate /l/b"], "the largest opted-in log alone reaches the target")
        #expect(host.containers.first { $0.id == "p" }?.logBytes == 300)
        #expect(host.containers.first { $0.id == "q" }?.logBytes == 250)
        let plan = disk.plan
        #expect(plan.contains { $0.hasPrefix("container_logs: batch ~800 bytes") })
        #expect(plan.firstIndex { $0.hasPrefix("container_logs: batch") }! < plan.firstIndex { $0.hasPrefix("container_logs: api") }!)
        #expect(plan.contains { $0.contains("payments: carries docker-watchdog.protect=true") })
        #expect(plan.contains { $0.contains("quiet: not opted in") })
        #expect(plan.contains { $0 == "container_logs: skipped json-file logs it may not touch: 600 bytes in 3 container(s)" })
        let finished = PolicyTestSupport.auditLines(path).filter { $0["phase"] as? String == "finished" }
        #expect(finished.map { $0["targets"] as? [String] } == [["batch"]])
        #expect(finished.first?["bytesReclaimed"] as? Int == 800)
    }
}

@Suite("What fills the Docker disk")
struct DiskBreakdownTests {
    static func usage(_ name: String, _ bytes: Int64) -> (name: String, usage: DiskUsageCategory) {
        (name, DiskUsageCategory(totalCount: 1, activeCount: 1, sizeBytes: bytes, reclaimableBytes: 0))
    }

    @Test func categoriesLogsAndOtherAddUpToTheUsedBytes() {
        let host = HostStatus()
        #expect(host.diskBreakdown().categories.isEmpty)  // nothing measured yet
        host.updateDisk { $0 = HostStatus.Disk(path: "/d", sizeBytes: 10_000, availableBytes: 3_000, freeBytes: 3_500) }
        host.updateUsage { u in
            u.categories = [Self.usage("images", 2_000), Self.usage("containers", 500), Self.usage("volumes", 300), Self.usage("build_cache", 200)]
            u.logsBytes = 1_000
            u.largestLogs = [("chatty", 900), ("quiet", 100)]
        }
        let (parts, overlap) = host.diskBreakdown()
        #expect(parts.map(\.name) == ["images", "containers", "volumes", "build_cache", "logs", "other"])
        let other: Int64 = 2_500  // used (size - free = 6,500) minus the 4,000 accounted
        #expect(parts.last?.bytes == other)
        #expect(parts.reduce(0) { $0 + $1.bytes } == 6_500 && overlap == 0)
        // Overlapping categories: other is 0, never negative, and the overlap is reported.
        host.updateUsage { $0.categories = [Self.usage("images", 7_000)] }
        let over = host.diskBreakdown()
        #expect(over.categories.last?.bytes == 0 && over.overlap == 1_500)

        host.updateUsage { $0.categories = [Self.usage("images", 2_000)] }
        let html = LandingPage.render(telemetryPath: "/metrics", host: host, statuses: [:], liveness: [])
        #expect(html.contains("<h2>What fills the Docker disk</h2>"))
        #expect(html.contains("title=\"logs ") && html.contains("<h3>Largest container logs</h3>") && html.contains("<td>chatty</td>"))
    }
}

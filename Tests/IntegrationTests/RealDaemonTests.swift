import Foundation
import Testing
import WatchdogTestSupport

/// The watchdog binary against the real private dockerd.
@Suite("Real daemon", .enabled(if: TestBed.mainAvailable, "needs the private dockerd (scripts/test.sh)"))
struct RealDaemonTests {
    func docker(_ host: String, _ args: [String]) throws -> String {
        let r = try runCommand(TestBed.dockerCLI, ["-H", host] + args)
        guard r.status == 0 else { throw TestBedMissing(description: "docker \(args.joined(separator: " ")) failed: \(r.error)") }
        return r.output
    }

    @Test func metricsShowTheRealDaemonDiskAndUsage() throws {
        let host = try TestBed.requireMain()
        // A workload so that every category has something: a stopped container with a written layer.
        let name = "wd-it-df-\(UUID().uuidString.prefix(8))"
        _ = try docker(host, ["run", "--network", "none", "--name", name, "busybox:latest", "sh", "-c", "echo data > /written"])
        defer { _ = try? docker(host, ["rm", "-f", name]) }

        let watchdog = try WatchdogProcess(arguments: [
            "--docker.host", host, "--collector.daemon.interval", "1s", "--collector.disk.interval", "1s",
            "--collector.system-df.interval", "2s",
        ])
        defer { watchdog.stop() }
        let samples = try watchdog.waitFor("daemon, system_df and disk samples", timeout: 60) {
            $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 1
                && $0.value("docker_root_filesystem_size_bytes") != nil
                && $0.value("docker_daemon_up") == 1 && $0.first { $0.name == "docker_daemon_info" } != nil
        }
        let info = try #require(samples.first { $0.name == "docker_daemon_info" })
        let rootDir = try #require(info.labels["root_dir"])
        #expect(info.labels["storage_driver"]?.isEmpty == false)
        #expect(info.labels["server_version"]?.hasPrefix("20.10") == true || info.labels["server_version"]?.isEmpty == false)

        // Disk figures against df on the same filesystem, within 1%.
        let df = try runCommand("/bin/df", ["-B1", "--output=size,avail", rootDir])
        let numbers = df.output.split(separator: "\n").last!.split(separator: " ").compactMap { Double($0) }
        #expect(numbers.count == 2)
        let size = try #require(samples.value("docker_root_filesystem_size_bytes", ["path": rootDir]))
        let avail = try #require(samples.value("docker_root_filesystem_available_bytes", ["path": rootDir]))
        #expect(abs(size - numbers[0]) / numbers[0] < 0.01, "size \(size) vs df \(numbers[0])")
        #expect(abs(avail - numbers[1]) / numbers[0] < 0.01, "avail \(avail) vs df \(numbers[1])")

        // Per-category figures against `docker system df` of the same daemon. Other suites change the
        // daemon's objects at the same time, so compare a sample taken inside a window in which the
        // CLI's view did not change (the CLI read before and after the sample are equal).
        var mismatches: [String] = []
        var compared = false
        for _ in 0..<8 where !compared {
            let before = try docker(host, ["system", "df", "--format", "{{json .}}"])
            let start = Date().timeIntervalSince1970
            let fresh = try watchdog.waitFor("a system_df sample after the CLI read", timeout: 30) {
                ($0.value("docker_watchdog_collector_last_success_timestamp_seconds", ["collector": "system_df"]) ?? 0) > start
            }
            let after = try docker(host, ["system", "df", "--format", "{{json .}}"])
            guard before == after else { continue }
            compared = true
            mismatches = try Self.differences(fresh, cli: before)
        }
        #expect(compared, "docker system df never held still across one sample")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "; "))")
        #expect(samples.value("docker_disk_usage_objects", ["category": "containers"]).map { $0 >= 1 } == true)
    }

    /// What differs between the watchdog's `system df` figures and the CLI's rows (sizes at the CLI's rounding).
    static func differences(_ samples: [ParsedSample], cli: String) throws -> [String] {
        let rows = try cli.split(separator: "\n").map { line -> [String: Any] in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        }
        let categoryOf = ["Images": "images", "Containers": "containers", "Local Volumes": "volumes", "Build Cache": "build_cache"]
        var out: [String] = rows.count == 4 ? [] : ["\(rows.count) CLI rows"]
        for row in rows {
            let type = try #require(row["Type"] as? String)
            let category = try #require(categoryOf[type])
            let labels = ["category": category]
            let count = samples.value("docker_disk_usage_objects", labels)
            let active = samples.value("docker_disk_usage_active_objects", labels)
            if count != Double("\(row["TotalCount"]!)") { out.append("\(type) count: ours \(count ?? -1), CLI \(row["TotalCount"]!)") }
            if active != Double("\(row["Active"]!)") { out.append("\(type) active: ours \(active ?? -1), CLI \(row["Active"]!)") }
            let cliSize = try HumanSize.parse(row["Size"] as! String)
            let cliReclaimable = try HumanSize.parse((row["Reclaimable"] as! String).split(separator: " ").first.map(String.init) ?? "")
            let ours = samples.value("docker_disk_usage_size_bytes", labels) ?? -1
            let oursReclaimable = samples.value("docker_disk_usage_reclaimable_bytes", labels) ?? -1
            if !HumanSize.sameWithinRounding(ours, cliSize) { out.append("\(type) size: ours \(ours), CLI \(row["Size"]!)") }
            if !HumanSize.sameWithinRounding(oursReclaimable, cliReclaimable) {
                out.append("\(type) reclaimable: ours \(oursReclaimable), CLI \(row["Reclaimable"]!)")
            }
        }
        return out
    }

    @Test func promtoolAcceptsTheWholeRealOutput() throws {
        let host = try TestBed.requireMain()
        let watchdog = try WatchdogProcess(arguments: ["--docker.host", host, "--collector.system-df.interval", "2s"])
        defer { watchdog.stop() }
        try watchdog.waitFor("all collectors") { s in
            ["daemon", "disk", "system_df", "process"].allSatisfy { s.value("docker_watchdog_collector_success", ["collector": $0]) == 1 }
        }
        let text = String(decoding: try watchdog.get("/metrics").body, as: UTF8.self)
        let check = try runCommand("/usr/bin/promtool", ["check", "metrics"], stdin: text)
        #expect(check.status == 0, "promtool check metrics (text): \(check.output) \(check.error)")

        // The two formats come from two scrapes; other suites add and remove containers meanwhile, so
        // a pair whose sample counts differ is read again (a real mismatch persists and fails).
        var lastFailure: Error?
        for _ in 0..<5 {
            let text = String(decoding: try watchdog.get("/metrics").body, as: UTF8.self)
            let om = try watchdog.get("/metrics", headers: [("Accept", "application/openmetrics-text;version=1.0.0")])
            #expect(om.headers["content-type"]?.hasPrefix("application/openmetrics-text") == true)
            let omText = String(decoding: om.body, as: UTF8.self)
            #expect(omText.hasSuffix("# EOF\n"))
            do {
                try OpenMetricsCheck.validate(omText, against: text)
                lastFailure = nil
                break
            } catch {
                lastFailure = error
            }
        }
        if let lastFailure { throw lastFailure }
    }

    @Test func landingPageSummarisesTheRealHost() throws {
        let host = try TestBed.requireMain()
        let watchdog = try WatchdogProcess(arguments: ["--docker.host", host])
        defer { watchdog.stop() }
        try watchdog.waitFor("daemon up") { $0.value("docker_daemon_up") == 1 && $0.first { $0.name == "docker_daemon_info" } != nil }
        let html = String(decoding: try watchdog.get("/").body, as: UTF8.self)
        #expect(html.contains("Server version"))
        #expect(html.contains("live-restore is off"))  // the test daemon runs without live-restore
        #expect(try watchdog.get("/healthz").status == 200)
    }
}

/// Reads the human sizes `docker system df` prints (go-units HumanSize: decimal units, 4 significant digits).
enum HumanSize {
    struct Bad: Error { let text: String }

    static func parse(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15), ("B", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count)) else { throw Bad(text: text) }
            return n * factor
        }
        throw Bad(text: text)
    }

    /// True when `bytes` prints as the CLI's figure at 4 significant digits (half a unit of the last digit).
    static func sameWithinRounding(_ bytes: Double, _ cli: Double) -> Bool {
        if cli == 0 { return bytes == 0 }
        return abs(bytes - cli) <= cli * 0.0005 + 1
    }
}

/// Checks an OpenMetrics body for the rules that differ from the text format, and that it carries
/// the same samples as the text body (promtool 2.42's `check metrics` reads the text format only).
enum OpenMetricsCheck {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func validate(_ om: String, against text: String) throws {
        let lines = om.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "", lines.dropLast().last == "# EOF" else { throw Failure(description: "no # EOF at the end") }
        var typed: [String: String] = [:]
        for line in lines where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4 else { throw Failure(description: "bad TYPE line \(line)") }
            guard typed[String(parts[2])] == nil else { throw Failure(description: "two TYPE lines for \(parts[2])") }
            typed[String(parts[2])] = String(parts[3])
            if parts[3] == "counter" && parts[2].hasSuffix("_total") { throw Failure(description: "counter family named _total: \(line)") }
        }
        let omSamples = try parseExposition(lines.dropLast(2).joined(separator: "\n"))
        let textSamples = try parseExposition(text)
        guard omSamples.count == textSamples.count else {
            throw Failure(description: "OpenMetrics has \(omSamples.count) samples, text \(textSamples.count)")
        }
        for s in omSamples {
            let family = typed.keys.filter { s.name.hasPrefix($0) }.max { $0.count < $1.count }
            guard family != nil else { throw Failure(description: "sample \(s.name) has no TYPE") }
        }
    }
}

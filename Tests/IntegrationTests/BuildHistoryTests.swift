import Foundation
import Testing
import WatchdogTestSupport

/// The build_history collector against a real engine of the suite's own (started and stopped by
/// the test; `WATCHDOG_TEST_BUILD_HISTORY_DAEMON` names it, default `buildhistory`).
///
/// Docker 23 and later (docker26, docker28, docker28-containerd): a Dockerfile of four steps built
/// fresh, fully cached, with the file of its middle step changed, once failing, and once canceled
/// (the client interrupted during a step), with `docker buildx build --progress=plain`; the
/// collector's counters must equal BuildKit's own progress exactly (cached steps = vertices shown
/// `CACHED`, executed steps = vertices shown `DONE`, `ERROR` or `CANCELED`: every vertex BuildKit
/// completed and did not take from the cache, the failing or canceled one included), and the summed durations must
/// be within 10% of `docker buildx history ls --format json`.
///
/// Engines without the history (Debian 12's 20.10: gRPC UNIMPLEMENTED; Podman: no /grpc): the
/// collector succeeds, reports `docker_build_history_available 0` and method `usage_count`, and
/// exports no build counters.
@Suite("Build history on a real engine", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct BuildHistoryTests {
    static let daemonName = ProcessInfo.processInfo.environment["WATCHDOG_TEST_BUILD_HISTORY_DAEMON"] ?? "buildhistory"
    static let engine = PrivateDaemon.engineUnderTest
    static var hasHistory: Bool { ["docker26", "docker28", "docker28-containerd"].contains(engine) }

    /// BuildKit's plain progress of one build: its CACHED, DONE, ERROR and CANCELED vertices.
    ///
    /// Counted per vertex (`#N`), by the last state printed for it: the plain printer prints a
    /// vertex again when more of its status arrives after it was shown done (under load, the
    /// build context's `#4 ... DONE` appears twice in one build), while the history record counts
    /// each vertex once.
    struct Progress: CustomStringConvertible {
        var cached = 0
        var done = 0
        var errors = 0
        var canceled = 0
        /// State lines of a vertex already shown in that state or another (printed again, not counted).
        var repeated = 0
        var executed: Int { done + errors + canceled }
        var description: String { "\(cached) CACHED, \(done) DONE, \(errors) ERROR, \(canceled) CANCELED vertices (\(repeated) repeated lines)" }

        init(parsing text: String) {
            let line = try! NSRegularExpression(pattern: #"^#(\d+) (CACHED|DONE|ERROR|CANCELED)\b"#)
            var finalState: [String: String] = [:]
            for l in text.split(separator: "\n").map(String.init) {
                guard let m = line.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)),
                    let vertex = Range(m.range(at: 1), in: l), let state = Range(m.range(at: 2), in: l)
                else { continue }
                if finalState.updateValue(String(l[state]), forKey: String(l[vertex])) != nil { repeated += 1 }
            }
            for state in finalState.values {
                switch state {
                case "CACHED": cached += 1
                case "DONE": done += 1
                case "CANCELED": canceled += 1
                default: errors += 1
                }
            }
        }
    }

    static func makeContext() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-bh-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        FROM busybox:latest
        RUN echo one > /one
        COPY a.txt /a.txt
        RUN cat /a.txt /one > /b
        RUN echo four > /four

        """.write(to: dir.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try """
        FROM busybox:latest
        RUN echo one > /one
        RUN false

        """.write(to: dir.appendingPathComponent("Dockerfile.fail"), atomically: true, encoding: .utf8)
        try """
        FROM busybox:latest
        RUN echo one > /one
        RUN sleep 60

        """.write(to: dir.appendingPathComponent("Dockerfile.cancel"), atomically: true, encoding: .utf8)
        try "a\n".write(to: dir.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    /// A build interrupted (SIGINT to the client) once its `RUN sleep` step runs; BuildKit records
    /// it with gRPC code CANCELED.
    func canceledBuild(_ daemon: PrivateDaemon, _ context: URL) throws -> Progress {
        let script = #"""
            "$CLI" -H "$HOST" buildx build --progress=plain --network none -f "$CTX/Dockerfile.cancel" "$CTX" >"$CTX/out" 2>&1 &
            p=$!
            for i in $(seq 600); do grep -q 'RUN sleep 60$' "$CTX/out" && break; sleep 0.1; done
            sleep 1
            kill -INT "$p"
            wait "$p"
            cat "$CTX/out"
            """#
        var environment = ["CLI": daemon.cli, "HOST": daemon.host, "CTX": context.path]
        if let config = daemon.dockerConfig { environment["DOCKER_CONFIG"] = config }
        let r = try runCommand("/bin/sh", ["-c", script], environment: environment)
        return Progress(parsing: r.output)
    }

    /// One `docker buildx build`; returns its progress and whether it succeeded.
    func build(_ daemon: PrivateDaemon, _ context: URL, dockerfile: String = "Dockerfile") throws -> (Progress, Bool) {
        var environment: [String: String] = [:]
        if let config = daemon.dockerConfig { environment["DOCKER_CONFIG"] = config }
        let r = try runCommand(
            daemon.cli,
            ["-H", daemon.host, "buildx", "build", "--progress=plain", "--network", "none", "-f", context.appendingPathComponent(dockerfile).path, context.path],
            environment: environment)
        return (Progress(parsing: r.error + "\n" + r.output), r.status == 0)
    }

    func watchdog(_ daemon: PrivateDaemon) throws -> WatchdogProcess {
        try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.build-history.interval", "500ms", "--collector.daemon.interval", "1s",
            "--collector.system-df.interval", "1h", "--collector.build-cache.interval", "1h", "--collector.containers.enabled=false",
        ])
    }

    /// Waits for two more successful build_history rounds, so one started after the last build.
    func settle(_ w: WatchdogProcess) throws -> [ParsedSample] {
        let runs = { (s: [ParsedSample]) in s.value("docker_watchdog_collector_runs_total", ["collector": "build_history"]) ?? 0 }
        let start = runs(try w.samples())
        return try w.waitFor("2 more build_history rounds", timeout: 30) { s in
            runs(s) >= start + 2 && s.value("docker_watchdog_collector_success", ["collector": "build_history"]) == 1
        }
    }

    @Test func countersEqualBuildKitsLinesAndDurationsMatchTheHistory() throws {
        let daemon = try PrivateDaemon(name: Self.daemonName)
        defer { daemon.stop() }
        let context = try Self.makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let w = try watchdog(daemon)
        defer { w.stop() }
        let first = try settle(w)

        guard Self.hasHistory else {
            // The fallback: no history, the UsageCount method named, no build counters.
            #expect(first.value("docker_build_history_available") == 0)
            #expect(first.value("docker_build_cache_hit_rate_method_info", ["method": "usage_count"]) == 1)
            #expect(!first.contains { $0.name.hasPrefix("docker_builds_finished") || $0.name.hasPrefix("docker_build_steps") })
            return
        }
        #expect(first.value("docker_build_history_available") == 1)
        #expect(first.value("docker_build_cache_hit_rate_method_info", ["method": "build_history"]) == 1)
        #expect(first.value("docker_builds_finished_total", ["result": "success"]) == 0)

        var expectedCached = 0
        var expectedExecuted = 0
        // Fresh, fully cached, the middle step's file changed, failing, canceled.
        for step in ["fresh", "cached", "changed", "failing", "canceled"] {
            if step == "changed" { try "b\n".write(to: context.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8) }
            let progress: Progress
            if step == "canceled" {
                progress = try canceledBuild(daemon, context)
                #expect(progress.canceled == 1, "\(progress)")
            } else {
                let (output, succeeded) = try build(daemon, context, dockerfile: step == "failing" ? "Dockerfile.fail" : "Dockerfile")
                progress = output
                #expect(succeeded == (step != "failing"), "\(step): \(progress)")
            }
            if step == "cached" { #expect(progress.cached >= 4, "a full rebuild prints CACHED for FROM and every step: \(progress)") }
            if step == "failing" { #expect(progress.errors == 1, "\(progress)") }
            expectedCached += progress.cached
            expectedExecuted += progress.executed
            if progress.repeated > 0 { print("BuildHistoryTests: \(step) build: \(progress)") }

            let s = try settle(w)
            #expect(s.value("docker_build_steps_total", ["result": "cached"]) == Double(expectedCached), "after \(step): \(progress)")
            #expect(s.value("docker_build_steps_total", ["result": "executed"]) == Double(expectedExecuted), "after \(step): \(progress)")
        }

        let s = try settle(w)
        #expect(s.value("docker_builds_finished_total", ["result": "success"]) == 3)
        #expect(s.value("docker_builds_finished_total", ["result": "failure"]) == 1)
        #expect(s.value("docker_builds_finished_total", ["result": "canceled"]) == 1)
        #expect(s.value("docker_build_duration_seconds_count") == 5)
        #expect(s.value("docker_build_history_records") == 5)

        // Durations against docker buildx history ls (created_at to completed_at of each record).
        let listed = try daemon.docker(["buildx", "history", "ls", "--format", "json"])
        var total = 0.0
        var newest = 0.0
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in listed.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            // RFC 3339 with nanoseconds: the formatter takes at most milliseconds.
            func date(_ key: String) -> Double? {
                guard let text = object[key] as? String else { return nil }
                let trimmed = text.replacingOccurrences(of: #"(\.\d{3})\d*Z"#, with: "$1Z", options: .regularExpression)
                return parser.date(from: trimmed)?.timeIntervalSince1970
            }
            guard let created = date("created_at"), let completed = date("completed_at") else { continue }
            total += completed - created
            newest = max(newest, completed)
        }
        let summed = s.value("docker_build_duration_seconds_sum") ?? -1
        #expect(abs(summed - total) <= 0.1 * total + 0.01, "watchdog \(summed) s, buildx history ls \(total) s")
        #expect(abs((s.value("docker_build_last_completed_timestamp_seconds") ?? 0) - newest) < 0.01)
    }
}

import Foundation
import Locking
import Testing
import WatchdogTestSupport

/// One workload on the engine of this run (`WATCHDOG_TEST_ENGINE`; `scripts/test.sh` runs this
/// suite once per engine: debian12, docker26, docker28, docker28-containerd, podman4), and every
/// value the watchdog exports compared with the engine's own answers. What differs per engine is
/// written down here as expectations (`EngineTraits`), not skipped.
@Suite("Engine matrix", .serialized, .enabled(if: TestBed.mainAvailable, "needs the private engines (scripts/test.sh)"))
struct EngineMatrixTests {
    static let run = ["run", "-d", "--network", "none", "--stop-timeout", "1"]
    static let health = ["--health-interval", "1s", "--health-retries", "1", "--health-timeout", "2s"]

    /// What this engine does differently, as the engine documents it or as it was seen.
    struct EngineTraits {
        let engine: String
        var isPodman: Bool { engine.hasPrefix("podman") }
        /// Podman runs health checks from systemd timers, absent here: `PrivateDaemon` runs them
        /// once a second.
        /// Podman builds with buildah, not BuildKit.
        var buildsWithBuildKit: Bool { !isPodman && engine != "debian12" }
    }

    /// The engine's own answer to `GET path`, through its socket.
    static func engineJSON(_ daemon: PrivateDaemon, _ path: String) throws -> Any {
        let socket = String(daemon.host.dropFirst("unix://".count))
        let r = try runCommand("/usr/bin/curl", ["-sS", "--unix-socket", socket, "http://engine\(path)"])
        guard r.status == 0 else { throw TestBedMissing(description: "curl \(path): \(r.error)") }
        return try JSONSerialization.jsonObject(with: Data(r.output.utf8))
    }

    static let stateCodes = ["created": 0, "running": 1, "paused": 2, "restarting": 3, "removing": 4, "exited": 5, "dead": 6]
    static let healthCodes = ["none": 0, "starting": 1, "healthy": 2, "unhealthy": 3]

    @Test func everyValueAndCountEqualsTheEnginesOwnView() throws {
        let traits = EngineTraits(engine: PrivateDaemon.engineUnderTest)
        let daemon = try PrivateDaemon(name: "mx-\(traits.engine)")
        defer { daemon.stop() }
        let start = Int(Date().timeIntervalSince1970) - 1
        let w = try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.daemon.interval", "1s",
            "--collector.system-df.interval", "2s", "--collector.build-cache.interval", "2s",
        ])
        defer { w.stop() }
        try w.waitFor("events stream up") { $0.value("docker_watchdog_events_stream_up") == 1 }

        // The workload: healthy, unhealthy, no health check, exited, OOM-killed, restarting, a
        // two-container compose stack on a named volume, an image with three tags.
        try daemon.docker(["volume", "create", "mx-data"])
        try daemon.docker(Self.run + ["--name", "mx-healthy", "--health-cmd", "true"] + Self.health + ["busybox:latest", "sleep", "600"])
        try daemon.docker(Self.run + ["--name", "mx-unhealthy", "--health-cmd", "false"] + Self.health + ["busybox:latest", "sleep", "600"])
        try daemon.docker(Self.run + ["--name", "mx-plain", "busybox:latest", "sleep", "600"])
        try daemon.docker(Self.run + ["--name", "mx-exited", "busybox:latest", "sh", "-c", "exit 3"])
        try daemon.docker(
            Self.run + [
                "--name", "mx-oom", "--memory", "16m", "--memory-swap", "16m", "busybox:latest", "sh", "-c",
                "x=$(head -c 200000000 /dev/zero | tr '\\0' a)",
            ])
        try daemon.docker(Self.run + ["--name", "mx-restarter", "--restart", "on-failure:2", "busybox:latest", "sh", "-c", "sleep 1; exit 1"])
        try daemon.docker(
            Self.run + [
                "--name", "mx-stack-web", "--label", "com.docker.compose.project=mxstack", "--label", "com.docker.compose.service=web",
                "--health-cmd", "true",
            ] + Self.health + ["busybox:latest", "sleep", "600"])
        try daemon.docker(
            Self.run + [
                "--name", "mx-stack-db", "--label", "com.docker.compose.project=mxstack", "--label", "com.docker.compose.service=db",
                "-v", "mx-data:/data", "busybox:latest", "sleep", "600",
            ])
        for tag in ["mx/multi:one", "mx/multi:two", "mx/multi:three"] { try daemon.docker(["tag", "busybox:latest", tag]) }

        if traits.buildsWithBuildKit {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mx-build-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try "FROM busybox:latest\nRUN echo one > /one\nRUN echo two > /two\n".write(
                to: dir.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
            for i in 1...2 {
                try daemon.docker(["buildx", "build", "--network", "none", "--load", "-t", "mx/built:\(i)", dir.path])
            }
        }

        // Settled: the restarter gave up, the OOM-killed one exited, the health checks decided.
        let awaited: [(String, String, Double)] = [
            ("docker_container_state", "mx-restarter", 5), ("docker_container_policy_restarts", "mx-restarter", 2),
            ("docker_container_state", "mx-oom", 5), ("docker_container_health_status", "mx-healthy", 2),
            ("docker_container_health_status", "mx-unhealthy", 3), ("docker_container_health_status", "mx-stack-web", 2),
        ]
        try w.waitForSeries("workload settled (\(traits.engine))", timeout: 90, awaited) { name in
            (try? daemon.docker(["inspect", "--format", "{{json .State}} restarts={{.RestartCount}}", name])) ?? "?"
        }
        Thread.sleep(forTimeInterval: 2.5)  // one more containers round and df sample after the last change
        let s = try w.samples()

        // Per container: the engine's inspect against the series.
        let list = try #require(Self.engineJSON(daemon, "/containers/json?all=1") as? [[String: Any]])
        var byState: [String: Int] = [:]
        var byHealth: [String: Int] = [:]
        for entry in list {
            let id = try #require(entry["Id"] as? String)
            let inspect = try #require(Self.engineJSON(daemon, "/containers/\(id)/json") as? [String: Any])
            let name = String((inspect["Name"] as? String ?? "").drop { $0 == "/" })
            let state = try #require(inspect["State"] as? [String: Any])
            let status = state["Status"] as? String ?? ""
            let healthObject = state["Health"] as? [String: Any]
            let health = (healthObject?["Status"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "none"
            byState[status, default: 0] += 1
            byHealth[health, default: 0] += 1
            let labels = ["name": name]
            #expect(s.value("docker_container_state", labels) == Double(Self.stateCodes[status] ?? -1), "\(traits.engine) \(name) state \(status)")
            #expect(s.value("docker_container_health_status", labels) == Double(Self.healthCodes[health] ?? -1), "\(traits.engine) \(name) health \(health)")
            #expect(s.value("docker_container_policy_restarts", labels) == Double(inspect["RestartCount"] as? Int ?? -1), "\(traits.engine) \(name) restarts")
            #expect(s.value("docker_container_oom_killed", labels) == ((state["OOMKilled"] as? Bool ?? false) ? 1 : 0), "\(traits.engine) \(name) OOMKilled")
            if status == "exited" {
                #expect(s.value("docker_container_last_exit_code", labels) == Double(state["ExitCode"] as? Int ?? -1), "\(traits.engine) \(name) exit code")
            }
            if health == "unhealthy" {
                // Still probed on Docker while the test reads: the streak may have moved on a little.
                let streak = Double(healthObject?["FailingStreak"] as? Int ?? -1)
                let exported = s.value("docker_container_health_failing_streak", labels) ?? -100
                #expect(exported >= 1 && abs(exported - streak) <= 3, "\(traits.engine) \(name) streak \(exported) vs \(streak)")
            }
        }
        for (state, code) in Self.stateCodes where byState[state] != nil || code <= 1 {
            #expect(s.value("docker_containers", ["state": state]) == Double(byState[state] ?? 0), "\(traits.engine) containers \(state)")
        }
        for health in ["none", "healthy", "unhealthy"] {
            #expect(s.value("docker_containers_health", ["health": health]) == Double(byHealth[health] ?? 0), "\(traits.engine) health \(health)")
        }
        #expect(s.value("docker_compose_stack_containers", ["compose_project": "mxstack"]) == 2)
        #expect(s.value("docker_compose_stack_services", ["compose_project": "mxstack"]) == 2)
        #expect(s.value("docker_compose_stack_healthy", ["compose_project": "mxstack"]) == 1)

        // Health transitions: the real ones (starting -> healthy twice, starting -> unhealthy once),
        // nothing invented (Podman's list and events say nothing about health).
        #expect(s.value("docker_container_health_transitions_total", ["status": "healthy"]) == 2, "\(traits.engine)")
        #expect(s.value("docker_container_health_transitions_total", ["status": "unhealthy"]) == 1, "\(traits.engine)")
        let history = try #require(
            (try JSONSerialization.jsonObject(with: Data(w.get("/api/v1/history").body)) as? [String: Any])?["transitions"] as? [[String: Any]])
        let decisive = history.filter { ["healthy", "unhealthy"].contains($0["to"] as? String ?? "") }
        #expect(decisive.count == 3, "\(traits.engine): \(decisive)")
        #expect(!history.contains { $0["to"] as? String == "none" }, "\(traits.engine): a flip to none: \(history)")

        // Deaths and restarts: the engine's own events since the start (read for 3 s: Podman 4.3
        // ends an `until` query after its first event).
        let events = try runCommand(
            "/usr/bin/curl",
            ["-sS", "--max-time", "3", "--unix-socket", String(daemon.host.dropFirst("unix://".count)), "http://engine/events?since=\(start)"])
        var deaths = 0
        var restarts = 0
        var died = Set<String>()
        for line in events.output.split(separator: "\n") {
            guard let e = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], e["Type"] as? String == "container"
            else { continue }
            let action = e["Action"] as? String ?? ""
            let id = (e["Actor"] as? [String: Any])?["ID"] as? String ?? ""
            if action == "die" || action == "died" {
                deaths += 1
                died.insert(id)
            } else if action == "start", died.contains(id) {
                restarts += 1
            }
        }
        #expect(deaths >= 5, "\(traits.engine): the workload's deaths are in the engine's events (\(deaths))")
        let exportedDeaths = s.filter { $0.name == "docker_container_deaths_total" }.reduce(0) { $0 + $1.value }
        #expect(Int(exportedDeaths) == deaths, "\(traits.engine): deaths \(exportedDeaths) vs the engine's \(deaths) die events")
        #expect(s.value("docker_container_restarts_total") == Double(restarts), "\(traits.engine): restarts vs the engine's \(restarts)")

        // Docker's own counts of images, containers and volumes (/system/df).
        let df = try #require(Self.engineJSON(daemon, "/system/df") as? [String: Any])
        #expect(s.value("docker_disk_usage_objects", ["category": "images"]) == Double((df["Images"] as? [Any])?.count ?? -1))
        #expect(s.value("docker_disk_usage_objects", ["category": "containers"]) == Double((df["Containers"] as? [Any])?.count ?? -1))
        #expect(s.value("docker_disk_usage_objects", ["category": "volumes"]) == Double((df["Volumes"] as? [Any])?.count ?? -1))

        // The engine named, nothing negative, no API error in normal operation.
        #expect(s.contains { $0.name == "docker_daemon_info" && $0.labels["engine"] == (traits.isPodman ? "podman" : "docker") })
        let negative = s.filter { $0.value < 0 }.map { "\($0.name)\($0.labels)" }
        #expect(negative.isEmpty, "\(traits.engine): negative samples \(negative)")
        let errors = s.filter { $0.name == "docker_watchdog_docker_api_errors_total" && $0.value > 0 }.map { "\($0.labels)=\($0.value)" }
        #expect(errors.isEmpty, "\(traits.engine): API errors \(errors)")
    }

    /// Autoheal on this engine: the opted-in unhealthy container is restarted after
    /// min_unhealthy while its probes keep running (driven by the test on Podman); the one not
    /// opted in is left alone.
    @Test func autohealRestartsTheOptedInUnhealthyContainer() throws {
        let traits = EngineTraits(engine: PrivateDaemon.engineUnderTest)
        let daemon = try PrivateDaemon(name: "mxh-\(traits.engine)")
        defer { daemon.stop() }
        try daemon.docker(
            Self.run + ["--name", "mx-heal", "--label", "docker-watchdog.autoheal=true", "--health-cmd", "false"] + Self.health
                + ["busybox:latest", "sleep", "600"])
        try daemon.docker(Self.run + ["--name", "mx-leave", "--health-cmd", "false"] + Self.health + ["busybox:latest", "sleep", "600"])
        func startedAt(_ name: String) throws -> String {
            let inspect = try #require(Self.engineJSON(daemon, "/containers/\(name)/json") as? [String: Any])
            return (inspect["State"] as? [String: Any])?["StartedAt"] as? String ?? ""
        }
        let healStarted = try startedAt("mx-heal")
        let leaveStarted = try startedAt("mx-leave")
        let w = try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--remediation.interval", "1s",
            "--remediation.autoheal.enabled=true", "--remediation.autoheal.min-unhealthy", "3s",
            "--remediation.autoheal.backoff", "1h",
        ])
        defer { w.stop() }
        let restarted = try w.waitFor("mx-heal restarted", timeout: 60) {
            ($0.value("docker_watchdog_remediation_actions_total", ["policy": "autoheal", "action": "restart_container"]) ?? 0) >= 1
        }
        _ = restarted
        #expect(try startedAt("mx-heal") != healStarted, "\(traits.engine): the engine shows no restart of mx-heal")
        #expect(try startedAt("mx-leave") == leaveStarted, "\(traits.engine): mx-leave was restarted")
        let actions = w.auditRecords().filter { $0["phase"] as? String == "finished" }
        #expect(actions.count == 1 && (actions.first?["targets"] as? [String] ?? []).contains { $0.contains("mx-heal") }, "\(traits.engine): \(actions)")
    }
}

import Foundation
import Testing
import WatchdogTestSupport

/// Container state and health against real daemons of the suite's own (so the counts compared in
/// other suites are never disturbed). Busybox containers, `--network none`, `--stop-timeout 1`.
@Suite("Containers on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct ContainerTests {
    static let run = ["run", "-d", "--network", "none", "--stop-timeout", "1"]

    func watchdog(_ daemon: PrivateDaemon, _ extra: [String] = []) throws -> WatchdogProcess {
        try WatchdogProcess(
            arguments: [
                "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.daemon.interval", "1s",
                "--collector.system-df.interval", "1h",
            ] + extra)
    }

    func history(_ w: WatchdogProcess) throws -> [[String: Any]] {
        let body = try w.get("/api/v1/history").body
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return json?["transitions"] as? [[String: Any]] ?? []
    }

    @Test func stateHealthStreakAndStacksOfFourContainers() throws {
        let daemon = try PrivateDaemon(name: "ct-health")
        defer { daemon.stop() }
        let health = ["--health-interval", "1s", "--health-retries", "1", "--health-timeout", "1s"]
        try daemon.docker(
            Self.run + [
                "--name", "passing", "--label", "com.docker.compose.project=good",
                "--label", "com.docker.compose.service=web", "--health-cmd", "true",
            ] + health + ["busybox:latest", "sleep", "600"])
        try daemon.docker(
            Self.run + [
                "--name", "plain", "--label", "com.docker.compose.project=good",
                "--label", "com.docker.compose.service=worker", "busybox:latest", "sleep", "600",
            ])
        try daemon.docker(
            Self.run + [
                "--name", "failing", "--label", "com.docker.compose.project=bad",
                "--label", "com.docker.compose.service=db", "--health-cmd", "false",
            ] + health + ["busybox:latest", "sleep", "600"])
        // Healthy while /tmp/ok exists; the command removes it after 6 s.
        try daemon.docker(
            Self.run + [
                "--name", "flipping", "--label", "com.docker.compose.project=bad",
                "--label", "com.docker.compose.service=api", "--health-cmd", "test -f /tmp/ok",
            ] + health
                + ["busybox:latest", "sh", "-c", "touch /tmp/ok; sleep 6; rm /tmp/ok; exec sleep 600"])
        let w = try watchdog(daemon)
        defer { w.stop() }
        let healthy = try w.waitFor("flipping healthy, failing unhealthy") { s in
            s.value("docker_container_health_status", ["name": "flipping"]) == 2
                && s.value("docker_container_health_status", ["name": "failing"]) == 3
                && s.value("docker_container_health_status", ["name": "passing"]) == 2
        }
        #expect(healthy.value("docker_container_health_status", ["name": "plain"]) == 0)
        #expect(healthy.value("docker_container_state", ["name": "plain"]) == 1)
        #expect(healthy.value("docker_container_health_status", ["name": "passing", "compose_project": "good", "compose_service": "web"]) == 2)
        #expect(healthy.value("docker_compose_stack_healthy", ["compose_project": "good"]) == 1)
        #expect(healthy.value("docker_compose_stack_healthy", ["compose_project": "bad"]) == 0)
        #expect(healthy.value("docker_compose_stack_containers", ["compose_project": "good"]) == 2)
        #expect(healthy.value("docker_compose_stack_services", ["compose_project": "bad"]) == 2)

        // The failing streak climbs with every probe (1 s apart), seen within a probe plus a sampling interval.
        let streak = try w.waitFor("failing streak >= 3") { ($0.value("docker_container_health_failing_streak", ["name": "failing"]) ?? 0) >= 3 }
        #expect(streak.value("docker_container_health_failing_streak", ["name": "passing"]) == 0)

        let before = try w.samples().value("docker_container_health_transitions_total", ["status": "unhealthy"]) ?? 0
        let flipped = try w.waitFor("flipping unhealthy", timeout: 30) { $0.value("docker_container_health_status", ["name": "flipping"]) == 3 }
        #expect(flipped.value("docker_container_health_transitions_total", ["status": "unhealthy"]) == before + 1)
        #expect(flipped.value("docker_containers_health", ["health": "unhealthy"]) == 2)
        #expect(flipped.value("docker_compose_stack_healthy_containers", ["compose_project": "good"]) == 1)
        // Counted once, however many rounds pass.
        Thread.sleep(forTimeInterval: 3)
        #expect(try w.samples().value("docker_container_health_transitions_total", ["status": "unhealthy"]) == before + 1)

        let flips = try history(w).filter { $0["container"] as? String == "flipping" }
        let seen = flips.map { "\($0["from"]!)->\($0["to"]!)" }
        if daemon.isPodman {
            // Podman's list never states the health: a container whose first check ran before the
            // watchdog's first inspect is first seen healthy, and no starting->healthy is invented.
            #expect(seen == ["starting->healthy", "healthy->unhealthy"] || seen == ["healthy->unhealthy"], "\(seen)")
        } else {
            #expect(seen == ["starting->healthy", "healthy->unhealthy"])
        }
        #expect(flips.last?["stack"] as? String == "bad")
        #expect(flips.last?["exitCode"] as? Int == 1)
        let page = String(decoding: try w.get("/").body, as: UTF8.self)
        #expect(page.contains("flipping"))
        let text = String(decoding: try w.get("/metrics").body, as: UTF8.self)
        let check = try runCommand("/usr/bin/promtool", ["check", "metrics"], stdin: text)
        #expect(check.status == 0, "promtool: \(check.output) \(check.error)")
    }

    @Test func oomKillAndRestartCount() throws {
        let daemon = try PrivateDaemon(name: "ct-oom")
        defer { daemon.stop() }
        let w = try watchdog(daemon)
        defer { w.stop() }
        try w.waitFor("events stream up") { $0.value("docker_watchdog_events_stream_up") == 1 }
        try daemon.docker(
            Self.run + [
                "--name", "hog", "--memory", "16m", "--memory-swap", "16m", "busybox:latest",
                "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)",
            ])
        try daemon.docker(Self.run + ["--name", "crasher", "--restart", "on-failure:3", "busybox:latest", "sh", "-c", "exit 1"])
        // Podman 4.3 on cgroup v1 (these machines) reports no OOM kill: no `oom` event and
        // OOMKilled false (an engine limit); the kill shows as exit code 137 only.
        let oomReported = !daemon.isPodman
        let awaited: [(String, String, Double)] = [
            ("docker_container_oom_killed", "hog", oomReported ? 1 : 0), ("docker_container_state", "hog", 5),
            ("docker_container_policy_restarts", "crasher", 3), ("docker_container_state", "crasher", 5),
        ]
        let s = try w.waitForSeries("OOM kill and three restarts", timeout: 120, awaited) { name in
            (try? daemon.docker(["inspect", "--format", "{{json .State}} restarts={{.RestartCount}}", name])) ?? "?"
        }
        #expect((s.value("docker_container_oom_kills_total") ?? 0) >= (oomReported ? 1 : 0))
        #expect(s.value("docker_container_last_exit_code", ["name": "hog"]) == 137)
        #expect(s.value("docker_container_last_exit_code", ["name": "crasher"]) == 1)
        #expect((s.value("docker_container_deaths_total", ["exit_class": "error"]) ?? 0) >= 4)
        #expect((s.value("docker_container_deaths_total", ["exit_class": "sigkill"]) ?? 0) >= 1)
        #expect((s.value("docker_container_restarts_total") ?? 0) >= 3)
    }

    @Test func daemonRestartLosesNoTransition() throws {
        let daemon = try PrivateDaemon(name: "ct-restart")
        defer { daemon.stop() }
        // Healthy on its first run; after any restart it deletes its marker and turns unhealthy.
        try daemon.docker(
            Self.run + [
                "--name", "phoenix", "--restart", "always", "--health-cmd", "test -f /ok",
                "--health-interval", "1s", "--health-retries", "1", "busybox:latest", "sh", "-c",
                "if [ -f /ran-before ]; then rm -f /ok; else touch /ran-before /ok; fi; exec sleep 600",
            ])
        let w = try watchdog(daemon)
        defer { w.stop() }
        let up = try w.waitFor("phoenix healthy") { $0.value("docker_container_health_status", ["name": "phoenix"]) == 2 }
        let unhealthyBefore = up.value("docker_container_health_transitions_total", ["status": "unhealthy"]) ?? 0
        let startedBefore = try #require(up.value("docker_container_start_time_seconds", ["name": "phoenix"]))

        try daemon.restart()
        if daemon.isPodman {
            // Restarting Podman's API service leaves its containers running: the stream
            // reconnects, phoenix was not restarted, and no transition is invented or lost.
            let after = try w.waitFor("reconnected", timeout: 60) { s in
                (s.value("docker_watchdog_events_stream_reconnects_total") ?? 0) >= 1 && s.value("docker_watchdog_events_stream_up") == 1
            }
            Thread.sleep(forTimeInterval: 3)
            let later = try w.samples()
            #expect(later.value("docker_container_health_status", ["name": "phoenix"]) == 2)
            #expect(later.value("docker_container_health_transitions_total", ["status": "unhealthy"]) == unhealthyBefore)
            #expect(later.value("docker_container_start_time_seconds", ["name": "phoenix"]) == startedBefore)
            #expect(after.value("docker_container_restarts_total") == up.value("docker_container_restarts_total"))
            return
        }
        let after = try w.waitFor("reconnected and phoenix unhealthy", timeout: 60) { s in
            (s.value("docker_watchdog_events_stream_reconnects_total") ?? 0) >= 1
                && s.value("docker_watchdog_events_stream_up") == 1
                && s.value("docker_container_health_status", ["name": "phoenix"]) == 3
        }
        let transitions = try history(w)
        let toUnhealthy = transitions.filter { $0["container"] as? String == "phoenix" && $0["to"] as? String == "unhealthy" }
        // The counter moved, and by exactly the transitions the history recorded: nothing lost, nothing
        // counted twice (a probe failing during the daemon's shutdown is a real transition too).
        let counted = (after.value("docker_container_health_transitions_total", ["status": "unhealthy"]) ?? 0) - unhealthyBefore
        #expect(counted >= 1)
        #expect(counted == Double(toUnhealthy.count), "history: \(transitions)")
        #expect((after.value("docker_container_start_time_seconds", ["name": "phoenix"]) ?? 0) > startedBefore)
        #expect((after.value("docker_container_restarts_total") ?? 0) >= 1)
    }

    @Test func apiCallsPerIntervalDoNotGrowWithContainerCount() throws {
        let daemon = try PrivateDaemon(name: "ct-scale")
        defer { daemon.stop() }
        let count = Int(ProcessInfo.processInfo.environment["WATCHDOG_TEST_SCALE_CONTAINERS"] ?? "") ?? 200
        // Create and start in parallel batches: the CLI is the slow part.
        let script = "seq 1 \(count) | xargs -P 8 -I{} /usr/bin/docker -H \(daemon.host) run -d --network none --stop-timeout 1 --name c{} busybox:latest sleep 3600 >/dev/null"
        let created = try runCommand("/bin/sh", ["-c", script])
        #expect(created.status == 0, "\(created.error)")
        let w = try watchdog(daemon, ["--collector.containers.resync-interval", "1h"])
        defer { w.stop() }
        try w.waitFor("all containers inspected", timeout: 120) { s in
            s.value("docker_containers", ["state": "running"]) == Double(count)
                && s.first { $0.name == "docker_container_start_time_seconds" } != nil
                && s.filter { $0.name == "docker_container_start_time_seconds" }.count == count
        }
        func containerCalls(_ s: [ParsedSample]) -> Double {
            s.filter { $0.name == "docker_watchdog_docker_api_requests_total" && ["container_inspect", "containers_list"].contains($0.labels["endpoint"] ?? "") }
                .reduce(0) { $0 + $1.value }
        }
        let start = try w.samples()
        let runsBefore = start.value("docker_watchdog_collector_runs_total", ["collector": "containers"]) ?? 0
        Thread.sleep(forTimeInterval: 8)
        let end = try w.samples()
        let rounds = (end.value("docker_watchdog_collector_runs_total", ["collector": "containers"]) ?? 0) - runsBefore
        #expect(rounds >= 5)
        // Steady state: no per-container calls at all (no events, resync far away).
        #expect(containerCalls(end) - containerCalls(start) == 0, "container API calls over \(rounds) rounds with \(count) containers")
        #expect(end.value("docker_watchdog_container_series_dropped") == 0)
    }
}

import Foundation
import Testing
import WatchdogTestSupport

/// kill -9 of the watchdog in the middle of a real container restart, and restarts of the watchdog
/// inside autoheal's backoff: the audit log carries what one process knew to the next.
@Suite("Remediation memory on a real daemon", .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct RestartMemoryTests {
    func docker(_ host: String, _ args: [String]) throws -> String {
        let r = try runCommand(TestBed.dockerCLI, ["-H", host] + args)
        guard r.status == 0 else { throw TestBedMissing(description: "docker \(args.joined(separator: " ")) failed: \(r.error)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func records(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func wait(_ what: String, timeout: TimeInterval, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw WaitFailure(description: "timed out after \(timeout) s waiting for \(what)")
    }

    @Test func killedMidRestartTheNextProcessMarksItInterruptedAndKeepsTheBackoff() throws {
        let host = try TestBed.requireMain()
        let tag = UUID().uuidString.prefix(8).lowercased()
        let name = "wd-mem-\(tag)"
        let label = "wd-mem-\(tag)=heal"
        // `sleep` as PID 1 ignores SIGTERM: each restart waits out the 6 s stop timeout, a window in
        // which the watchdog is killed.
        _ = try docker(
            host,
            [
                "run", "-d", "--network", "none", "--name", name, "--label", label, "--stop-timeout", "6", "--health-cmd", "false",
                "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "2s", "busybox:latest", "sleep", "600",
            ])
        defer { _ = try? docker(host, ["rm", "-f", name]) }
        let firstStart = try docker(host, ["inspect", "-f", "{{.State.StartedAt}}", name])
        let audit = FileManager.default.temporaryDirectory.appendingPathComponent("wd-mem-\(tag).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: audit) }
        let arguments = [
            "--docker.host", host, "--collector.containers.interval", "1s", "--remediation.interval", "1s",
            "--remediation.autoheal.enabled=true", "--remediation.autoheal.label", label, "--remediation.autoheal.min-unhealthy", "2s",
            "--remediation.autoheal.backoff", "10m", "--remediation.autoheal.max-restarts", "3", "--remediation.audit-log", audit,
        ]
        func phases() -> [String] {
            Self.records(audit).filter { $0["action"] as? String == "restart_container" }.compactMap { $0["phase"] as? String }
        }

        // The first process starts the restart and is killed while Docker is still stopping the container.
        let first = try WatchdogProcess(arguments: arguments)
        try Self.wait("the restart to start", timeout: 60) { phases().contains("started") }
        kill(first.pid, SIGKILL)
        first.process.waitUntilExit()
        #expect(!phases().contains("finished"), "the restart finished before the kill: \(phases())")

        // The next process marks it interrupted, once.
        var current = try WatchdogProcess(arguments: arguments)
        try current.waitFor("the interrupted action counted", timeout: 20) {
            $0.value("docker_watchdog_remediation_interrupted_actions_total", ["policy": "autoheal", "action": "restart_container"]) == 1
        }
        let interrupted = Self.records(audit).filter { $0["phase"] as? String == "interrupted" }
        let started = Self.records(audit).filter { $0["phase"] as? String == "started" }
        #expect(interrupted.count == 1 && interrupted.first?["actionID"] as? String == started.first?["actionID"] as? String)
        #expect(interrupted.first?["targets"] as? [String] == [name])

        // Docker finishes the restart it was asked for; the container turns unhealthy again.
        try Self.wait("Docker to finish the restart", timeout: 30) { try docker(host, ["inspect", "-f", "{{.State.StartedAt}}", name]) != firstStart }
        let restartedAt = try docker(host, ["inspect", "-f", "{{.State.StartedAt}}", name])

        // Six kill -9 / start cycles inside the 10 min backoff, each process living past min_unhealthy.
        for _ in 0..<6 {
            kill(current.pid, SIGKILL)
            current.process.waitUntilExit()
            current = try WatchdogProcess(arguments: arguments)
            try current.waitFor("the container seen unhealthy", timeout: 20) {
                $0.value("docker_container_health_status", ["name": name]) == 3
            }
            Thread.sleep(forTimeInterval: 3)
        }
        let plan = String(decoding: try current.get("/api/v1/plan").body, as: UTF8.self)
        current.stop()
        #expect(phases().filter { $0 == "started" }.count == 1, "restarts started across seven processes: \(phases())")
        #expect(try docker(host, ["inspect", "-f", "{{.State.StartedAt}}", name]) == restartedAt, "the container was restarted again inside the backoff")
        #expect(plan.contains("backoff after 1 restart"), "plan: \(plan)")
    }
}

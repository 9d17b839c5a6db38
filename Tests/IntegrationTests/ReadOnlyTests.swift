import DockerEngine
import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport

/// `--docker.read-only`: least privilege. The client refuses every non-GET request before it is
/// sent, every remediation policy is off, and enabling one explicitly next to it is a config error.
@Suite("Read-only mode")
struct ReadOnlyTests {
    @Test func aReadOnlyClientSendsNothingButGets() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/containers/json", .json("[]"))
        let client = DockerClient(
            endpoint: .unixSocket(path: fake.socketPath), requestTimeout: .seconds(5),
            pinnedVersion: APIVersion("1.41"), readOnly: true)
        _ = try client.listContainers()
        let changes: [(String, () throws -> Void)] = [
            ("build cache prune", { _ = try client.pruneBuildCache(keepStorage: 0) }),
            ("image prune", { _ = try client.pruneDanglingImages(protectLabel: nil) }),
            ("container prune", { _ = try client.pruneStoppedContainers(olderThan: .zero, protectLabel: nil) }),
            ("image remove", { _ = try client.removeImage("sha256:abc") }),
            ("volume remove", { try client.removeVolume("data") }),
            ("container restart", { try client.restartContainer("abc") }),
            ("container remove", { try client.removeContainer("abc") }),
        ]
        for (what, change) in changes {
            do {
                try change()
                Issue.record("\(what) was not refused")
            } catch let error as DockerError {
                guard case .refused = error else {
                    Issue.record("\(what): \(error), expected refused")
                    continue
                }
            }
        }
        // BuildKit's build history needs POST /grpc: not sent, reported as unavailable.
        guard case .unavailable(let reason) = try client.buildHistory() else {
            Issue.record("a read-only client read the build history")
            return
        }
        #expect(reason.contains("docker.read_only"))
        let methods = fake.requests.map(\.method)
        #expect(methods.allSatisfy { $0 == "GET" }, "\(fake.requests.map { "\($0.method) \($0.path)" })")
        #expect(methods.count == 1)
    }

    @Test func enablingAPolicyNextToReadOnlyExitsTwo() throws {
        let r = try WatchdogProcess.runToExit(["--docker.read-only", "--remediation.autoheal.enabled=true"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("remediation.autoheal.enabled"), "\(r.stderr)")
        #expect(r.stderr.contains("docker.read_only"), "\(r.stderr)")
        let check = try WatchdogProcess.runToExit(["--docker.read-only", "--config.check"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    /// Against the real daemon: the read-only watchdog reports everything, and its remediation
    /// (disk on by default, autoheal of a failing labelled container) is off and does nothing.
    @Test(.enabled(if: TestBed.mainAvailable)) func readOnlyWatchdogReportsButNeverActsOnTheRealDaemon() throws {
        let host = try TestBed.requireMain()
        let env = ["DOCKER_HOST": host]
        let name = "ro-heal-\(UInt32.random(in: 0..<UInt32.max))"
        let created = try runCommand(
            TestBed.dockerCLI,
            [
                "run", "-d", "--network", "none", "--name", name, "--label", "docker-watchdog.autoheal=true",
                "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1", "busybox:latest", "sleep", "300",
            ], environment: env)
        #expect(created.status == 0, "\(created.error)")
        defer { _ = try? runCommand(TestBed.dockerCLI, ["rm", "-f", name], environment: env) }
        let startedAt = try runCommand(TestBed.dockerCLI, ["inspect", "-f", "{{.State.StartedAt}}", name], environment: env).output

        // Autoheal is on by default and the container opts in: without read-only it would be
        // restarted within about two seconds.
        let watchdog = try WatchdogProcess(arguments: [
            "--docker.host", host, "--docker.read-only", "--remediation.disk.enabled=false",
            "--remediation.interval", "1s", "--remediation.autoheal.min-unhealthy", "1s", "--collector.containers.interval", "1s",
        ])
        defer { watchdog.stop() }
        let samples = try watchdog.waitFor("the failing container reported unhealthy", timeout: 30) { s in
            s.contains { $0.name == "docker_container_health_status" && $0.labels["name"] == name && $0.value == 3 }
        }
        #expect(samples.first { $0.name == "docker_daemon_up" }?.value == 1)
        for policy in ["disk", "daemon", "autoheal"] {
            #expect(samples.first { $0.name == "docker_watchdog_remediation_enabled" && $0.labels["policy"] == policy }?.value == 0, "\(policy)")
        }
        Thread.sleep(forTimeInterval: 4)  // several remediation rounds with the container unhealthy
        let after = try runCommand(TestBed.dockerCLI, ["inspect", "-f", "{{.State.StartedAt}}", name], environment: env).output
        #expect(after == startedAt, "the container was restarted")
        #expect(watchdog.auditRecords().isEmpty)
        #expect(watchdog.log.contains("read_only=true") || watchdog.log.contains("\"read_only\":\"true\""), "\(watchdog.log.prefix(2000))")
    }
}

import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport

/// What the watchdog asks the engine while it starts.
@Suite("Start-up (fake engine, real binary)")
struct StartupTests {
    /// Every sampling thread starts at once and each needs the API version: they wait for one
    /// `/version` answer, and the daemon collector reuses it instead of asking again.
    @Test func startUpNegotiatesTheAPIVersionOnce() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/containers/json", .json("[]"))
        fake.set("/events", .stream(lines: [], thenClose: false))
        let w = try WatchdogProcess(arguments: [
            "--docker.host", fake.dockerHost, "--collector.disk.path", "/tmp", "--collector.containers.enabled=true",
            "--collector.build-cache.enabled=true", "--collector.system-df.interval", "1s",
        ])
        defer { w.stop() }
        try w.waitFor("every Docker collector's first round") { s in
            ["daemon", "system_df", "containers", "build_cache"].allSatisfy {
                s.value("docker_watchdog_collector_success", ["collector": $0]) == 1
            }
        }
        let versions = fake.requests.filter { $0.path == "/version" }.count
        #expect(versions == 1, "\(versions) /version requests at start-up: \(fake.requests.prefix(20).map(\.path))")
        #expect(fake.requests.contains { $0.path == "/info" })
    }
}

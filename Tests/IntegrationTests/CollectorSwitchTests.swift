import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport

/// `--no-collector.NAME` leaves the collector out entirely: no rounds, no families, no
/// bookkeeping series; the others run as before.
@Suite("Collector switches (binary, fake engine)", .serialized)
struct CollectorSwitchBinaryTests {
    static func arguments(_ host: String) -> [String] {
        [
            "--docker.host", host, "--collector.daemon.interval", "200ms", "--collector.disk.path", "/tmp",
            "--collector.disk.interval", "300ms", "--collector.system-df.interval", "300ms",
            "--collector.process.interval", "300ms", "--no-collector.containers", "--collector.build-cache.enabled=false",
        ]
    }

    @Test func disabledCollectorsExportNothing() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let on = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        let both = try on.waitFor("system_df and process rounds") {
            $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 1
                && $0.value("docker_watchdog_collector_success", ["collector": "process"]) == 1
        }
        on.stop()
        #expect(both.contains { $0.name == "docker_disk_usage_size_bytes" })

        let off = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost) + ["--no-collector.system-df", "--collector.process.enabled=false"])
        defer { off.stop() }
        _ = try off.waitFor("daemon and disk rounds") {
            $0.value("docker_daemon_up") == 1 && $0.value("docker_watchdog_collector_success", ["collector": "disk"]) == 1
        }
        // A few more rounds of the others, then nothing of the two switched off.
        Thread.sleep(forTimeInterval: 1)
        let samples = try off.samples()
        let collectors = Set(samples.filter { $0.name == "docker_watchdog_collector_runs_total" }.compactMap { $0.labels["collector"] })
        #expect(collectors == ["daemon", "disk", "build_history", "remediation"])
        #expect(!samples.contains { $0.name.hasPrefix("docker_disk_usage_") })
        #expect(!samples.contains { $0.name.hasPrefix("docker_watchdog_process_") || $0.name.hasPrefix("process_") })
        #expect(!samples.contains { $0.name.hasPrefix("docker_container") })
    }
}

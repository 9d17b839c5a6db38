import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport

/// SIGHUP reloads the configuration without interrupting scrapes; SIGTERM stops within a bound
/// even when every Docker call hangs.
@Suite("Signals: reload and shutdown")
struct SignalTests {
    func value(_ samples: [ParsedSample], _ name: String) -> Double? { samples.first { $0.name == name }?.value }

    @Test func sighupReloadsKeepsServingAndReportsBadFilesAndPendingRestarts() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("watchdog.yaml").path
        try "collector:\n  daemon:\n    interval: 1s\n".write(toFile: config, atomically: true, encoding: .utf8)

        let watchdog = try WatchdogProcess(arguments: ["--docker.host", fake.dockerHost, "--config.file", config])
        defer { watchdog.stop() }
        var s = try watchdog.samples()
        #expect(value(s, "docker_watchdog_config_last_reload_successful") == 1)
        #expect(value(s, "docker_watchdog_config_restart_required") == 0)
        let firstLoad = try #require(value(s, "docker_watchdog_config_last_reload_success_timestamp_seconds"))

        // A broken file: the reload fails, the watchdog keeps its configuration and keeps serving.
        try "collector:\n  daemon:\n    interval: -1s\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(watchdog.pid, SIGHUP)
        s = try watchdog.waitFor("the failed reload", timeout: 10) { value($0, "docker_watchdog_config_last_reload_successful") == 0 }
        #expect(value(s, "docker_watchdog_config_last_reload_success_timestamp_seconds") == firstLoad)
        #expect(watchdog.log.contains("configuration reload failed"), "\(watchdog.log.suffix(1500))")
        #expect(watchdog.log.contains("collector.daemon.interval"), "\(watchdog.log.suffix(1500))")
        #expect(watchdog.process.isRunning)

        // A valid change: reloaded, and the key that applies after a restart is named.
        Thread.sleep(forTimeInterval: 1.1)  // a later success timestamp
        try "collector:\n  daemon:\n    interval: 2s\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(watchdog.pid, SIGHUP)
        s = try watchdog.waitFor("the successful reload", timeout: 10) { value($0, "docker_watchdog_config_last_reload_successful") == 1 }
        #expect(value(s, "docker_watchdog_config_restart_required") == 1)
        #expect((value(s, "docker_watchdog_config_last_reload_success_timestamp_seconds") ?? 0) > firstLoad)
        #expect(watchdog.log.contains("restart_required_for=collector.daemon.interval"), "\(watchdog.log.suffix(1500))")

        // Back to what runs: nothing pending.
        try "collector:\n  daemon:\n    interval: 1s\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(watchdog.pid, SIGHUP)
        s = try watchdog.waitFor("the reload back", timeout: 10) { value($0, "docker_watchdog_config_restart_required") == 0 }
        #expect(value(s, "docker_daemon_up") == 1)
    }

    @Test func sigtermStopsWithinTheBoundWhileEveryDockerCallHangs() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let watchdog = try WatchdogProcess(arguments: [
            "--docker.host", fake.dockerHost, "--docker.request-timeout", "60s", "--docker.connect-timeout", "1s",
            "--collector.daemon.timeout", "30s", "--collector.system-df.timeout", "60s",
        ])
        defer { watchdog.stop() }
        _ = try watchdog.samples()
        for path in ["/_ping", "/version", "/info", "/system/df", "/containers/json", "/events"] { fake.set(path, .hang) }
        Thread.sleep(forTimeInterval: 3)  // rounds are now stuck inside Docker calls
        let start = Date()
        kill(watchdog.pid, SIGTERM)
        while watchdog.process.isRunning && Date().timeIntervalSince(start) < 20 { Thread.sleep(forTimeInterval: 0.05) }
        let took = Date().timeIntervalSince(start)
        #expect(!watchdog.process.isRunning, "still running \(took) s after SIGTERM")
        #expect(took < 9.5, "took \(took) s")
        if !watchdog.process.isRunning {
            #expect(watchdog.process.terminationStatus == 0)
            #expect(watchdog.log.contains("docker-watchdog stopped"), "\(watchdog.log.suffix(1500))")
        }
    }
}

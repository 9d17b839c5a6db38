import Foundation
import Testing
import WatchdogTestSupport

/// The binary's handling of bad configuration: exit status 2 and a message naming the key.
@Suite("Command line and configuration")
struct CommandLineTests {
    func withConfig(_ yaml: String, _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wd-config-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test func malformedYAMLExitsTwoNamingTheFile() throws {
        try withConfig("web:\n  listen_address: [unclosed\n") { path in
            let r = try WatchdogProcess.runToExit(["--config.file", path])
            #expect(r.status == 2)
            #expect(r.stderr.contains(path) || r.stderr.contains("config.file"), "\(r.stderr)")
        }
    }

    @Test func unknownKeyExitsTwoNamingKeyAndLine() throws {
        try withConfig("web:\n  listen_address: \":9734\"\ncollector:\n  daemon:\n    intervall: 5s\n") { path in
            let r = try WatchdogProcess.runToExit(["--config.file", path])
            #expect(r.status == 2)
            #expect(r.stderr.contains("intervall"), "\(r.stderr)")
            #expect(r.stderr.contains(":5"), "line number missing: \(r.stderr)")
        }
    }

    @Test func negativeIntervalExitsTwoNamingTheKey() throws {
        try withConfig("collector:\n  daemon:\n    interval: -5s\n") { path in
            let r = try WatchdogProcess.runToExit(["--config.file", path])
            #expect(r.status == 2)
            #expect(r.stderr.contains("collector.daemon.interval"), "\(r.stderr)")
        }
        let flag = try WatchdogProcess.runToExit(["--collector.daemon.interval", "-1s"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("collector.daemon.interval"))
    }

    @Test func configCheckValidatesAndExits() throws {
        try withConfig("web:\n  listen_address: \"127.0.0.1:9999\"\ncollector:\n  system_df:\n    interval: 10m\n") { path in
            let ok = try WatchdogProcess.runToExit(["--config.file", path, "--config.check", "--collector.disk.interval", "7s"])
            #expect(ok.status == 0, "\(ok.stderr)")
            // It prints the effective settings of every layer as YAML that loads to the same settings.
            #expect(ok.stdout.hasPrefix("# docker-watchdog: configuration OK"))
            #expect(ok.stdout.contains("listen_address: \"127.0.0.1:9999\"") || ok.stdout.contains("listen_address: 127.0.0.1:9999"), "\(ok.stdout)")
            #expect(ok.stdout.contains("interval: 7s") && ok.stdout.contains("interval: 10m"), "\(ok.stdout)")
            try withConfig(ok.stdout) { effective in
                let again = try WatchdogProcess.runToExit(["--config.file", effective, "--config.check"])
                #expect(again.status == 0, "\(again.stderr)")
                #expect(again.stdout.split(separator: "\n").dropFirst() == ok.stdout.split(separator: "\n").dropFirst())
            }
        }
        try withConfig("web:\n  max_connections: 0\n") { path in
            let bad = try WatchdogProcess.runToExit(["--config.file", path, "--config.check"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("web.max_connections"))
        }
    }

    @Test func unknownFlagAndHelp() throws {
        let bad = try WatchdogProcess.runToExit(["--web.listen-adress", ":1"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--web.listen-adress"))
        let help = try WatchdogProcess.runToExit(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--web.telemetry-path"))
    }

    /// The reason must reach stderr even though the logger writes through a queue.
    @Test func aPortInUseFailsToStartAndSaysWhy() throws {
        let first = try WatchdogProcess(arguments: ["--docker.host", "unix:///nonexistent.sock"])
        defer { first.stop() }
        for _ in 0..<3 {
            let r = try WatchdogProcess.runToExit(["--web.listen-address", "127.0.0.1:\(first.port)", "--docker.host", "unix:///nonexistent.sock"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("cannot start"), "stderr: \(r.stderr)")
        }
    }

    @Test func unbindableAddressFailsToStart() throws {
        let r = try WatchdogProcess.runToExit(["--web.listen-address", "203.0.113.1:9734", "--docker.host", "unix:///nonexistent.sock"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot"))
    }
}

import Foundation
import Testing
import WatchdogTestSupport

/// Container logs on a real daemon: sizes from the json-file logs dockerd writes, the unbounded
/// flag from the driver's options, and the opt-in truncation step on a small loop filesystem.
@Suite("Container logs on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct ContainerLogsIntegrationTests {
    func available(_ path: String) throws -> (avail: Double, size: Double) {
        let df = try runCommand("/bin/df", ["-B1", "--output=size,avail", path])
        let n = df.output.split(separator: "\n").last!.split(separator: " ").compactMap { Double($0) }
        return (n[1], n[0])
    }

    func fileSize(_ path: String) -> Double {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.doubleValue ?? -1
    }

    @Test func logSizesMatchTheFilesAndTheOptInStepTruncatesOnlyWhatItMay() throws {
        let daemon = try PrivateDaemon(name: "logs", loopfsMB: 300)
        defer { daemon.stop() }
        // ~10 MB of output in 33-byte lines: about three times that as json-file lines on disk.
        let chatter = ["sh", "-c", "yes 0123456789abcdef0123456789abcdef | head -c 10000000; sleep 3600"]
        let run = ["run", "-d", "--network", "none", "--stop-timeout", "1"]
        try daemon.docker(run + ["--name", "chatty", "--label", "docker-watchdog.truncate-logs=true", "busybox:latest"] + chatter)
        try daemon.docker(
            run + [
                "--name", "guarded", "--label", "docker-watchdog.truncate-logs=true", "--label", "docker-watchdog.protect=true",
                "busybox:latest",
            ] + chatter)
        try daemon.docker(run + ["--name", "capped", "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "busybox:latest"] + chatter)
        func logPath(_ name: String) throws -> String {
            try daemon.docker(["inspect", "-f", "{{.LogPath}}", name]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let chattyLog = try logPath("chatty")
        let guardedLog = try logPath("guarded")
        // Until every container has written all of its output.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && (fileSize(chattyLog) < 25e6 || fileSize(guardedLog) < 25e6) { Thread.sleep(forTimeInterval: 0.5) }
        Thread.sleep(forTimeInterval: 1)
        let chattyBytes = fileSize(chattyLog)
        let guardedBytes = fileSize(guardedLog)
        let cappedDir = (try logPath("capped") as NSString).deletingLastPathComponent
        let cappedBytes = try FileManager.default.contentsOfDirectory(atPath: cappedDir).filter { $0.contains("-json.log") }
            .reduce(0.0) { $0 + fileSize(cappedDir + "/" + $1) }
        #expect(chattyBytes > 25e6 && cappedBytes < 3e6, "chatty \(chattyBytes), capped \(cappedBytes)")

        // Thresholds relative to what the logs left: truncating the chatty log alone reaches the target.
        let root = daemon.dataRoot
        let before = try available(root)
        let ratio = before.avail / before.size
        let w = try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.logs.interval", "1s",
            "--collector.disk.interval", "1s", "--remediation.interval", "1s", "--remediation.disk.enabled=true",
            "--remediation.disk.act-below-ratio", String(format: "%.4f", ratio + 0.05),
            "--remediation.disk.target-ratio", String(format: "%.4f", ratio + chattyBytes / before.size * 0.5),
            "--remediation.disk.act-below-bytes", "0", "--remediation.disk.steps", "container_logs",
            "--remediation.disk.logs-truncate-above", "1MiB", "--remediation.dry-run=true", "--remediation.disk.cooldown", "1h",
        ])
        defer { w.stop() }
        let s = try w.waitFor("log sizes of the three containers", timeout: 60) { s in
            ["chatty", "guarded", "capped"].allSatisfy { name in s.contains { $0.name == "docker_container_log_bytes" && $0.labels["name"] == name } }
        }
        func logBytes(_ s: [ParsedSample], _ name: String) -> Double? {
            s.first { $0.name == "docker_container_log_bytes" && $0.labels["name"] == name }?.value
        }
        func unbounded(_ name: String) -> Double? {
            s.first { $0.name == "docker_container_log_unbounded" && $0.labels["name"] == name }?.value
        }
        #expect(logBytes(s, "chatty") == chattyBytes, "chatty: exported \(logBytes(s, "chatty") ?? -1), file \(chattyBytes)")
        #expect(abs((logBytes(s, "capped") ?? -1) - cappedBytes) < 1, "capped: exported \(logBytes(s, "capped") ?? -1), files \(cappedBytes)")
        #expect(unbounded("chatty") == 1 && unbounded("guarded") == 1 && unbounded("capped") == 0)
        #expect(s.value("docker_container_logs_unbounded") == 2)
        #expect(abs((s.value("docker_container_logs_bytes", ["driver": "json-file"]) ?? 0) - (chattyBytes + guardedBytes + cappedBytes)) < 1)

        // The Docker filesystem accounted: Docker's categories, the logs, and "other" add up to df's used bytes.
        let accounted = try w.waitFor("the disk breakdown with the logs", timeout: 60) { s in
            let logs = s.first { $0.name == "docker_disk_accounted_bytes" && $0.labels["category"] == "logs" }?.value ?? -1
            return abs(logs - (chattyBytes + guardedBytes + cappedBytes)) < 1
        }
        let parts = accounted.filter { $0.name == "docker_disk_accounted_bytes" }
        #expect(Set(parts.compactMap { $0.labels["category"] }) == ["images", "containers", "volumes", "build_cache", "logs", "other"])
        let df = try runCommand("/bin/df", ["-B1", "--output=used", root]).output.split(separator: "\n").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? -1
        let sum = parts.reduce(0) { $0 + $1.value }
        #expect(abs(sum - df) <= df * 0.02, "categories add up to \(sum), df says \(df) used")

        // The dry run plans the chatty log only; the guarded one is named with its reason.
        try w.waitFor("a dry-run plan", timeout: 60) {
            ($0.value("docker_watchdog_remediation_dry_run_actions_total", ["policy": "disk", "action": "container_logs"]) ?? 0) >= 1
        }
        let plan = String(decoding: try w.get("/api/v1/plan").body, as: UTF8.self)
        #expect(plan.contains("container_logs: chatty") && plan.contains("guarded: carries docker-watchdog.protect=true"), "\(plan)")
        #expect(fileSize(chattyLog) == chattyBytes, "the dry run changed the log")
        w.stop()

        // For real.
        let real = try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.disk.interval", "1s",
            "--remediation.interval", "1s", "--remediation.disk.enabled=true",
            "--remediation.disk.act-below-ratio", String(format: "%.4f", ratio + 0.05),
            "--remediation.disk.target-ratio", String(format: "%.4f", ratio + chattyBytes / before.size * 0.5),
            "--remediation.disk.act-below-bytes", "0", "--remediation.disk.steps", "container_logs",
            "--remediation.disk.logs-truncate-above", "1MiB",
        ])
        defer { real.stop() }
        try real.waitFor("the log truncated", timeout: 60) {
            ($0.value("docker_watchdog_remediation_actions_total", ["policy": "disk", "action": "container_logs"]) ?? 0) >= 1
        }
        #expect(fileSize(chattyLog) < 1e6, "chatty's log is \(fileSize(chattyLog)) bytes after the truncation")
        #expect(fileSize(guardedLog) == guardedBytes, "the protected container's log was touched")
        let finished = real.auditRecords().filter { $0["phase"] as? String == "finished" }
        #expect(finished.map { $0["targets"] as? [String] } == [["chatty"]])
        let reclaimed = (finished.first?["bytesReclaimed"] as? NSNumber)?.doubleValue ?? 0
        #expect(abs(reclaimed - chattyBytes) < chattyBytes * 0.05, "audit says \(reclaimed), the log was \(chattyBytes)")
        // The container keeps running and Docker keeps serving its (now empty) log.
        #expect(try daemon.docker(["inspect", "-f", "{{.State.Running}}", "chatty"]).hasPrefix("true"))
        let logs = try runCommand(PrivateDaemon.dockerCLI, ["-H", daemon.host, "logs", "--tail", "1", "chatty"])
        #expect(logs.status == 0, "docker logs after the truncation: \(logs.error)")
    }
}

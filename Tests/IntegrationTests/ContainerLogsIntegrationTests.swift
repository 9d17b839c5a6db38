import Foundation
import Testing
import WatchdogTestSupport

/// Container logs on a real daemon: sizes from the json-file logs dockerd writes, the unbounded
/// flag from the driver's options, every filesystem holding Docker data accounted for, and the
/// opt-in truncation step. The containers' directory is a loop filesystem of its own, as on hosts
/// that mount it separately: a 200 MB log fills it while the data root's is fine, and the ladder
/// must heal it with the steps that free space there, never by removing images.
///
/// Podman writes `k8s-file` logs (the json-file driver does not apply there).
@Suite(
    "Container logs on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"),
    .enabled(if: !PrivateDaemon.engineUnderTest.hasPrefix("podman"), "Podman writes k8s-file logs, not json-file"))
struct ContainerLogsIntegrationTests {
    func df(_ path: String) throws -> (avail: Double, size: Double, used: Double) {
        let df = try runCommand("/bin/df", ["-B1", "--output=size,avail,used", path])
        let n = df.output.split(separator: "\n").last!.split(separator: " ").compactMap { Double($0) }
        return (n[1], n[0], n[2])
    }

    func fileSize(_ path: String) -> Double {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.doubleValue ?? -1
    }

    /// What the file takes on disk (du): a released log keeps its size and takes nothing.
    func allocated(_ path: String) throws -> Double {
        Double(try runCommand("/usr/bin/du", ["-B1", path]).output.split(separator: "\t").first ?? "") ?? -1
    }

    /// `megabytes` of output in 1,000-byte lines (about 8% more as json-file lines on disk).
    func chatter(_ megabytes: Int) -> [String] {
        ["sh", "-c", "s=$(printf '%0999d' 0); yes $s | head -c \(megabytes * 1_000_000); sleep 3600"]
    }

    @Test func a200MBLogIsMeasuredAccountedOnItsOwnFilesystemAndTruncatedOnlyWhenOptedIn() throws {
        let daemon = try PrivateDaemon(name: "logs", loopfsMB: PrivateDaemon.engineUnderTest == "docker28-containerd" ? 400 : 300, logsLoopfsMB: 400)
        defer { daemon.stop() }
        let run = ["run", "-d", "--network", "none", "--stop-timeout", "1"]
        try daemon.docker(run + ["--name", "chatty", "--label", "docker-watchdog.truncate-logs=true", "busybox:latest"] + chatter(190))
        try daemon.docker(
            run + [
                "--name", "guarded", "--label", "docker-watchdog.truncate-logs=true", "--label", "docker-watchdog.protect=true",
                "busybox:latest",
            ] + chatter(20))
        try daemon.docker(run + ["--name", "capped", "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "busybox:latest"] + chatter(10))
        // An unused image and a dangling one: the ladder may remove them, but not to make room for
        // logs, which are on another filesystem.
        try daemon.docker(["create", "--network", "none", "--name", "scratch", "busybox:latest", "true"])
        try daemon.docker(["commit", "--change", "LABEL n=1", "scratch", "spare:1"])
        try daemon.docker(["commit", "--change", "LABEL n=2", "scratch", "spare:2"])
        try daemon.docker(["tag", "spare:2", "spare:1"])  // the first spare:1 is now dangling
        try daemon.docker(["rm", "scratch"])
        func logPath(_ name: String) throws -> String {
            try daemon.docker(["inspect", "-f", "{{.LogPath}}", name]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let imagesBefore = try daemon.docker(["images", "-q"]).split(separator: "\n").count
        let chattyLog = try logPath("chatty")
        let guardedLog = try logPath("guarded")
        // Until every container has written all of its output.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && (fileSize(chattyLog) < 200e6 || fileSize(guardedLog) < 21e6) { Thread.sleep(forTimeInterval: 0.5) }
        Thread.sleep(forTimeInterval: 1)
        let chattyBytes = fileSize(chattyLog)
        let guardedBytes = fileSize(guardedLog)
        let cappedDir = (try logPath("capped") as NSString).deletingLastPathComponent
        let cappedBytes = try FileManager.default.contentsOfDirectory(atPath: cappedDir).filter { $0.contains("-json.log") }
            .reduce(0.0) { $0 + fileSize(cappedDir + "/" + $1) }
        #expect(chattyBytes > 200e6 && cappedBytes < 3e6, "chatty \(chattyBytes), capped \(cappedBytes)")

        // Thresholds relative to the logs' filesystem: truncating the chatty log alone reaches the
        // target there; the data root's filesystem is far above it.
        let root = daemon.dataRoot
        let logsDir = root + "/containers"
        let logsFS = try df(logsDir)
        let act = String(format: "%.4f", logsFS.avail / logsFS.size + 0.05)
        let target = String(format: "%.4f", (logsFS.avail + chattyBytes * 0.5) / logsFS.size)
        #expect(try df(root).avail / df(root).size > (logsFS.avail + chattyBytes * 0.5) / logsFS.size + 0.05, "the data root's filesystem is low too")
        let common = [
            "--docker.host", daemon.host, "--collector.containers.interval", "1s", "--collector.logs.interval", "1s",
            "--collector.disk.interval", "1s", "--collector.system-df.interval", "2s", "--remediation.interval", "1s",
            "--remediation.disk.enabled=true", "--remediation.disk.act-below-ratio", act, "--remediation.disk.target-ratio", target,
            "--remediation.disk.act-below-bytes", "0", "--remediation.disk.min-age", "1s",
            "--remediation.disk.steps", "build_cache,dangling_images,container_logs,stopped_containers,unused_images",
            "--remediation.disk.logs-truncate-above", "1MiB",
        ]

        // 1. Nobody opted in: sizes, the accounting, and a ladder that removes nothing else instead.
        do {
            let w = try WatchdogProcess(arguments: common + ["--remediation.disk.logs-label", "example.com/none=1", "--remediation.disk.cooldown", "1h"])
            defer { w.stop() }
            let s = try w.waitFor("log sizes of the three containers", timeout: 60) { s in
                ["chatty", "guarded", "capped"].allSatisfy { name in s.contains { $0.name == "docker_container_log_bytes" && $0.labels["name"] == name } }
            }
            func logBytes(_ name: String) -> Double? {
                s.first { $0.name == "docker_container_log_bytes" && $0.labels["name"] == name }?.value
            }
            func unbounded(_ name: String) -> Double? {
                s.first { $0.name == "docker_container_log_unbounded" && $0.labels["name"] == name }?.value
            }
            let live = fileSize(chattyLog)
            #expect(abs((logBytes("chatty") ?? -1) - live) <= live * 0.01, "chatty: exported \(logBytes("chatty") ?? -1), file \(live)")
            // Allocated bytes: within a 4 KiB block per file of the files' sizes.
            #expect(abs((logBytes("capped") ?? -1) - cappedBytes) <= 8192, "capped: exported \(logBytes("capped") ?? -1), files \(cappedBytes)")
            #expect(unbounded("chatty") == 1 && unbounded("guarded") == 1 && unbounded("capped") == 0)
            #expect(s.value("docker_container_logs_unbounded") == 2)

            // Two filesystems, each with what lives there; the categories add up to df's used bytes.
            let logFiles = fileSize(chattyLog) + guardedBytes + cappedBytes
            let both = try w.waitFor("both filesystems accounted, the logs as their files", timeout: 60) { s in
                s.contains {
                    $0.name == "docker_disk_accounted_bytes" && $0.labels["path"] == logsDir && $0.labels["category"] == "logs"
                        && abs($0.value - logFiles) <= logFiles * 0.01
                }
                    && s.contains { $0.name == "docker_disk_accounted_bytes" && $0.labels["path"] == root && $0.labels["category"] == "images" }
            }
            let holds = Dictionary(
                both.filter { $0.name == "docker_data_filesystem_size_bytes" }.map { ($0.labels["path"] ?? "", $0.labels["holds"] ?? "") },
                uniquingKeysWith: { a, _ in a })
            // With the containerd store the image store is containerd's root: the daemon's own, on
            // the data root's filesystem here, so its content is counted there.
            #expect(holds == [root: "data_root,image_store", logsDir: "logs"], "\(holds)")
            for (path, expected) in [
                (root, Set(["images", "containers", "volumes", "build_cache", "tmp", "other"])), (logsDir, Set(["logs", "other"])),
            ] {
                let parts = both.filter { $0.name == "docker_disk_accounted_bytes" && $0.labels["path"] == path }
                #expect(Set(parts.compactMap { $0.labels["category"] }) == expected, "\(path): \(parts)")
                let used = try df(path).used
                let sum = parts.reduce(0) { $0 + $1.value }
                let named = parts.map { "\($0.labels["category"] ?? "?")=\(Int($0.value))" }.joined(separator: " ")
                print("disk accounted on \(PrivateDaemon.engineUnderTest), \(path): \(named); df used \(Int(used))")
                #expect(abs(sum - used) <= max(used * 0.02, 1_048_576), "\(path): categories add up to \(sum), df says \(used) used")
                // "other" is what nothing else explains: little on a filesystem only Docker uses
                // (filesystem metadata, the containers' config files).
                let other = parts.first { $0.labels["category"] == "other" }?.value ?? -1
                #expect(other >= 0 && other <= used * 0.02 + 4_194_304, "\(path): other is \(other) of \(used) used: \(named)")
            }
            let logs = both.first { $0.name == "docker_disk_accounted_bytes" && $0.labels["path"] == logsDir && $0.labels["category"] == "logs" }?.value ?? 0
            #expect(abs(logs - (fileSize(chattyLog) + guardedBytes + cappedBytes)) <= logs * 0.01, "logs \(logs)")

            // Only the logs' filesystem is below the mark; the ladder ran there, removed nothing
            // (no log opted in) and said how many bytes logs hold that it may not touch.
            let after = try w.waitFor("an episode on the logs' filesystem", timeout: 60) {
                $0.value("docker_watchdog_remediation_last_episode_result", ["result": "steps_exhausted"]) == 1
            }
            #expect(after.value("docker_watchdog_disk_filesystem_pressure", ["path": logsDir]) == 1)
            #expect(after.value("docker_watchdog_disk_filesystem_pressure", ["path": root]) == 0)
            let body = Data(try w.get("/api/v1/plan").body)
            let policies = try JSONSerialization.jsonObject(with: body) as? [[String: Any]] ?? []
            let plan = policies.first { $0["policy"] as? String == "disk" }?["plan"] as? [String] ?? []
            #expect(plan.contains { $0.contains("json-file logs it may not touch: ") && $0.hasSuffix("in 3 container(s)") }, "\(plan)")
            #expect(plan.contains("unused_images: frees nothing on \(logsDir) (it holds logs)"), "\(plan)")
            #expect(w.auditRecords().isEmpty, "\(w.auditRecords())")
        }
        #expect(try daemon.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]).contains("spare:1"))

        // 2. Opted in: the chatty log is truncated, the protected one is not, and no image goes.
        let real = try WatchdogProcess(arguments: common)
        defer { real.stop() }
        let healed = try real.waitFor("the logs' filesystem healed", timeout: 60) {
            $0.value("docker_watchdog_remediation_last_episode_result", ["result": "reached_target"]) == 1
        }
        #expect(healed.value("docker_watchdog_disk_filesystem_pressure", ["path": logsDir]) == 0)
        // Released, not cut: the blocks are free, the size dockerd's writer and readers rely on is kept.
        let released = try allocated(chattyLog)
        #expect(released < 1e6, "chatty's log takes \(released) bytes after the release")
        #expect(fileSize(chattyLog) >= chattyBytes, "chatty's log was cut: dockerd's reader would spin on it")
        #expect(fileSize(guardedLog) == guardedBytes, "the protected container's log was touched")
        let finished = real.auditRecords().filter { $0["phase"] as? String == "finished" }
        #expect(finished.map { $0["targets"] as? [String] } == [["chatty"]])
        let reclaimed = (finished.first?["bytesReclaimed"] as? NSNumber)?.doubleValue ?? 0
        #expect(abs(reclaimed - chattyBytes) < chattyBytes * 0.05, "audit says \(reclaimed), the log was \(chattyBytes)")
        let images = try daemon.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        #expect(images.contains("spare:1") && images.contains("spare:2"), "an image was removed for a log: \(images)")
        #expect(try daemon.docker(["images", "-q"]).split(separator: "\n").count == imagesBefore, "an image was removed for a log")
        // The container keeps running, and dockerd still answers for its log at once (a log cut to
        // zero makes Docker 23+ spin on `docker logs --tail` until the container restarts).
        #expect(try daemon.docker(["inspect", "-f", "{{.State.Running}}", "chatty"]).hasPrefix("true"))
        let started = Date()
        let tail = try runCommand(
            "/usr/bin/timeout", ["20", daemon.cli, "-H", daemon.host, "logs", "--tail", "1", "chatty"],
            environment: daemon.dockerConfig.map { ["DOCKER_CONFIG": $0] } ?? [:])
        #expect(tail.status == 0 && Date().timeIntervalSince(started) < 10, "docker logs --tail 1 after the release: \(tail.status) \(tail.error)")
    }
}

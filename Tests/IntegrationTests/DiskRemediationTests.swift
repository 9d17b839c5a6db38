import Foundation
import Testing
import WatchdogTestSupport

/// Disk self-healing on a real daemon whose data root is a small loop-mounted filesystem.
@Suite("Disk remediation on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct DiskRemediationIntegrationTests {
    /// Builds an image whose one layer is `megabytes` of random data.
    func build(_ daemon: PrivateDaemon, tag: String, megabytes: Int, seed: String, label: String? = nil) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-build-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var dockerfile = "FROM busybox:latest\nRUN echo \(seed) > /seed && dd if=/dev/urandom of=/blob bs=1M count=\(megabytes) 2>/dev/null\n"
        if let label { dockerfile += "LABEL \(label)\n" }
        try dockerfile.write(to: dir.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        // Podman builds with buildah (its Docker API has no BuildKit).
        try daemon.docker(["build", "--network", "none", "-q", "-t", tag, dir.path], environment: ["DOCKER_BUILDKIT": daemon.isPodman ? "0" : "1"])
    }

    func available(_ path: String) throws -> (avail: Double, size: Double) {
        let df = try runCommand("/bin/df", ["-B1", "--output=size,avail", path])
        let n = df.output.split(separator: "\n").last!.split(separator: " ").compactMap { Double($0) }
        return (n[1], n[0])
    }

    func inventory(_ daemon: PrivateDaemon) throws -> String {
        try daemon.docker(["images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]).split(separator: "\n").sorted().joined(separator: "\n")
            + "\n" + daemon.docker(["ps", "-a", "--format", "{{.Names}} {{.State}}"]).split(separator: "\n").sorted().joined(separator: "\n")
            + "\n" + daemon.docker(["volume", "ls", "-q"]).split(separator: "\n").sorted().joined(separator: "\n")
    }

    @Test func fillsUpAndHealsWithinTheSafetyRulesAndDryRunChangesNothing() throws {
        // The containerd image store keeps each layer twice (compressed content and snapshot).
        let daemon = try PrivateDaemon(name: "rm-disk", loopfsMB: PrivateDaemon.engineUnderTest == "docker28-containerd" ? 800 : 400)
        defer { daemon.stop() }
        // What must survive: a protected image, an image in use by a running container, that
        // container, and a named volume with data.
        try build(daemon, tag: "keepme:1", megabytes: 30, seed: "p", label: "docker-watchdog.protect=true")
        try build(daemon, tag: "inuse:1", megabytes: 30, seed: "u")
        try daemon.docker(["run", "-d", "--network", "none", "--stop-timeout", "1", "--name", "server", "inuse:1", "sleep", "3600"])
        try daemon.docker(["volume", "create", "pgdata"])
        try daemon.docker([
            "run", "--rm", "--network", "none", "-v", "pgdata:/data", "busybox:latest", "sh", "-c",
            "dd if=/dev/urandom of=/data/file bs=1M count=5 2>/dev/null",
        ])
        // What may go: unused images, a dangling one (the tag moved), a stopped container, build cache.
        try build(daemon, tag: "old:1", megabytes: 40, seed: "o1")
        try build(daemon, tag: "old:1", megabytes: 40, seed: "o2")  // the first old:1 is now dangling
        try build(daemon, tag: "unused:1", megabytes: 40, seed: "n")
        // Three tags: Docker refuses to delete it by ID without force (409, Podman 500).
        for tag in ["unused:2", "unused:3"] { try daemon.docker(["tag", "unused:1", tag]) }
        try daemon.docker([
            "run", "--network", "none", "--name", "finished", "busybox:latest", "sh", "-c",
            "dd if=/dev/urandom of=/junk bs=1M count=20 2>/dev/null",
        ])
        // Older than the minimum age below; then a dangling image younger than it (the tag moved
        // away from a build made just now), which no step may remove.
        let minAge = 20.0
        Thread.sleep(forTimeInterval: minAge + 1)
        try build(daemon, tag: "fresh:1", megabytes: 5, seed: "f1")
        let youngDangling = try daemon.docker(["inspect", "-f", "{{.Id}}", "fresh:1"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try build(daemon, tag: "fresh:1", megabytes: 5, seed: "f2")

        let root = daemon.dataRoot
        let before = try available(root)
        let ratio = before.avail / before.size
        // Thresholds relative to what the build left, so the test does not depend on filesystem overhead.
        let act = String(format: "%.3f", ratio + 0.05)
        let target = String(format: "%.3f", ratio + 0.30)
        let common = [
            "--docker.host", daemon.host, "--collector.disk.interval", "1s", "--remediation.interval", "1s",
            "--remediation.disk.enabled=true", "--remediation.disk.act-below-ratio", act,
            "--remediation.disk.target-ratio", target, "--remediation.disk.act-below-bytes", "0",
            "--remediation.disk.steps", "build_cache,dangling_images,stopped_containers,unused_images",
            "--remediation.disk.min-age", "\(Int(minAge))s", "--collector.containers.interval", "1s",
            // The base image of the test's later runs; users keep base images the same way.
            "--remediation.keep-pattern", "^busybox:",
        ]

        // 1. Dry run: plans, reports, changes nothing.
        let inventoryBefore = try inventory(daemon)
        var dryPlan: [String] = []
        do {
            let dry = try WatchdogProcess(arguments: common + ["--remediation.dry-run=true", "--remediation.disk.cooldown", "1h"])
            defer { dry.stop() }
            try dry.waitFor("a dry-run plan", timeout: 60) {
                ($0.value("docker_watchdog_remediation_dry_run_actions_total", ["policy": "disk", "action": "unused_images"]) ?? 0) >= 1
            }
            let records = dry.auditRecords()
            #expect(!records.isEmpty && records.allSatisfy { $0["dryRun"] as? Bool == true && $0["phase"] as? String == "planned" })
            dryPlan = records.compactMap { ($0["targets"] as? [String])?.first }
            let plan = String(decoding: try dry.get("/api/v1/plan").body, as: UTF8.self)
            #expect(plan.contains("unused_images") && plan.contains("unused:1"), "\(plan)")
            // Named only as skipped, with the rule that keeps them.
            #expect(plan.contains("keepme:1: carries docker-watchdog.protect=true") && plan.contains("inuse:1: used by a container"), "\(plan)")
            #expect(!plan.contains("unused_images: keepme") && !plan.contains("unused_images: inuse"), "\(plan)")
        }
        #expect(try inventory(daemon) == inventoryBefore)
        #expect(abs(try available(root).avail - before.avail) < before.size * 0.01)

        // 2. For real. Healing starts in the first round, before the disk collector's first sample.
        let started = Date()
        let w = try WatchdogProcess(arguments: common)
        defer { w.stop() }
        let healed = try w.waitFor("free space back above the target", timeout: 120) { s in
            s.value("docker_watchdog_disk_pressure") == 0
                && (s.value("docker_watchdog_remediation_actions_total", ["policy": "disk", "action": "build_cache"]) ?? 0) >= 1
        }
        let after = try available(root)
        let firstAction = try #require(w.auditRecords().first { $0["phase"] as? String == "started" })
        let firstAt = try #require((firstAction["time"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(firstAt.timeIntervalSince(started) < 3, "the first action began \(firstAt.timeIntervalSince(started)) s after the start")
        // The run removes the dry run's plan, in its order, up to the target.
        let done = w.auditRecords().filter { $0["phase"] as? String == "finished" }.compactMap { ($0["targets"] as? [String])?.first }
        #expect(Array(dryPlan.prefix(done.count)) == done, "dry run planned \(dryPlan), the run did \(done)")
        // No more than needed: freed / needed, as the episode reports and as df shows.
        let needed = try #require(healed.value("docker_watchdog_remediation_last_episode_needed_bytes"))
        let freed = after.avail - before.avail
        print("disk ladder on \(PrivateDaemon.engineUnderTest): needed \(Int(needed)) bytes, freed \(Int(freed)) (\(String(format: "%.2f", freed / needed))x)")
        #expect(freed / needed <= 1.6, "freed \(freed) for \(needed) needed")
        #expect(healed.value("docker_watchdog_remediation_last_episode_result", ["result": "reached_target"]) == 1)
        // The young dangling image is still there.
        #expect(try daemon.docker(["images", "-q", "--no-trunc"]).contains(youngDangling), "the dangling image younger than min_age was removed")
        #expect(after.avail / after.size >= ratio + 0.30 - 0.01, "available \(after.avail / after.size), target \(target)")

        // Survivors.
        let images = try daemon.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        // No failed action: the three-tag image goes tag by tag, then by ID, never with force.
        let failures = healed.filter { $0.name == "docker_watchdog_remediation_failures_total" && $0.labels["policy"] == "disk" }
        #expect(failures.allSatisfy { $0.value == 0 }, "\(PrivateDaemon.engineUnderTest): failed disk actions \(failures)")
        #expect(images.contains("keepme:1"))
        #expect(images.contains("inuse:1"))
        #expect(try daemon.docker(["inspect", "-f", "{{.State.Running}}", "server"]).hasPrefix("true"))
        let data = try daemon.docker(["run", "--rm", "--network", "none", "-v", "pgdata:/data", "busybox:latest", "sh", "-c", "wc -c < /data/file"])
        #expect(data.trimmingCharacters(in: .whitespacesAndNewlines) == String(5 * 1024 * 1024))

        // Every removal is in the audit log, before and after; the bytes add up to the free-space change.
        let records = w.auditRecords()
        let finished = records.filter { $0["phase"] as? String == "finished" }
        #expect(!finished.isEmpty)
        for record in finished {
            let id = record["actionID"] as? String
            #expect(records.contains { $0["actionID"] as? String == id && $0["phase"] as? String == "planned" })
        }
        let reclaimed = finished.compactMap { $0["bytesReclaimed"] as? Double ?? ($0["bytesReclaimed"] as? Int).map(Double.init) }.reduce(0, +)
        let gained = after.avail - before.avail
        #expect(abs(reclaimed - gained) <= max(gained * 0.15, 8 * 1024 * 1024), "audit says \(reclaimed), df says \(gained)")
        let metric = healed.filter { $0.name == "docker_watchdog_remediation_reclaimed_bytes_total" }.reduce(0) { $0 + $1.value }
        #expect(abs(metric - reclaimed) <= 1, "metric \(metric) vs audit \(reclaimed)")
        #expect(!finished.contains { ($0["targets"] as? [String])?.contains { $0.contains("keepme") || $0.contains("inuse") || $0 == "server" } == true })
    }
}

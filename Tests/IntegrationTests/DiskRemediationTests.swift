import Foundation
import Testing
import WatchdogTestSupport

/// Disk self-healing on a real daemon whose data root is a small loop-mounted filesystem: a mixed
/// host of the test's own, healed by the ladder and, on an identical copy, by
/// `docker system prune -af`, every removal checked against the rules object by object.
@Suite("Disk remediation on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct DiskRemediationIntegrationTests {
    static let minAge = 20.0
    static let protect = "docker-watchdog.protect=true"
    /// The containerd image store keeps each layer twice (compressed content and snapshot).
    static var layerCopies: Int { PrivateDaemon.engineUnderTest == "docker28-containerd" ? 2 : 1 }

    /// Builds an image whose one layer is `megabytes` of random data (`cacheMount`: plus that many
    /// megabytes written to a BuildKit cache mount, which only the build cache holds).
    func build(_ daemon: PrivateDaemon, tag: String, megabytes: Int, seed: String, label: String? = nil, cacheMount: Int = 0) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-build-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var dockerfile = "FROM busybox:latest\nRUN echo \(seed) > /seed && dd if=/dev/urandom of=/blob bs=1M count=\(megabytes) 2>/dev/null\n"
        if cacheMount > 0 {
            dockerfile += "RUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/\(seed) bs=1M count=\(cacheMount) 2>/dev/null\n"
        }
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

    /// The mixed host: what must survive and what may go, older than the minimum age; then a
    /// dangling image younger than it (``buildYoungDangling``).
    func buildMixedHost(_ d: PrivateDaemon) throws {
        let mb = 5
        let run = ["run", "--network", "none"]
        // Must survive: a protected image, container and volume; an image in use by a running
        // container; a container its restart policy brings back and its image; named volumes.
        try build(d, tag: "keepme:1", megabytes: mb, seed: "p", label: Self.protect)
        try build(d, tag: "inuse:1", megabytes: mb, seed: "u")
        try d.docker(run + ["-d", "--stop-timeout", "1", "--name", "server", "inuse:1", "sleep", "3600"])
        try build(d, tag: "svcimg:1", megabytes: mb, seed: "s")
        try d.docker(["create", "--network", "none", "--restart", "unless-stopped", "--name", "svc", "svcimg:1", "sleep", "3600"])
        try d.docker(
            run + ["--label", Self.protect, "--name", "guarded", "busybox:latest", "sh", "-c", "dd if=/dev/urandom of=/junk bs=1M count=\(mb) 2>/dev/null"])
        for (volume, label) in [("vault", [Self.protect]), ("pgdata", [])] {
            try d.docker(["volume", "create"] + label.flatMap { ["--label", $0] } + [volume])
            try d.docker(run + ["--rm", "-v", "\(volume):/data", "busybox:latest", "sh", "-c", "dd if=/dev/urandom of=/data/file bs=1M count=\(mb) 2>/dev/null"])
        }
        // May go: build cache (a cache mount), dangling images, stopped containers, an image used
        // only by a stopped container, unused images with one, two and three tags, an anonymous volume.
        // Built first, so the least recently built or tagged (the unused-images step's order).
        try build(d, tag: "lib:1", megabytes: mb, seed: "l")
        try d.docker(["tag", "lib:1", "lib:2"])
        // Three tags: Docker refuses to delete it by ID without force (409, Podman 500).
        try build(d, tag: "tool:1", megabytes: mb, seed: "t")
        for tag in ["tool:2", "tool:3"] { try d.docker(["tag", "tool:1", tag]) }
        try build(d, tag: "cachey:1", megabytes: 1, seed: "c", cacheMount: d.isPodman ? 0 : 3 * mb)
        try build(d, tag: "old:1", megabytes: mb, seed: "o1")
        try build(d, tag: "old:2", megabytes: mb, seed: "o2")
        try moveTag(d, from: "old:2", to: "old:1")  // the first old:1 is now dangling
        try build(d, tag: "jobimg:1", megabytes: mb, seed: "j")
        try d.docker(run + ["--name", "job", "jobimg:1", "true"])
        try d.docker(run + ["--name", "finished", "busybox:latest", "sh", "-c", "dd if=/dev/urandom of=/junk bs=1M count=\(mb) 2>/dev/null"])
        try d.docker(run + ["--name", "anonjob", "-v", "/data", "busybox:latest", "sh", "-c", "dd if=/dev/urandom of=/data/f bs=1M count=\(mb) 2>/dev/null"])
        try d.docker(["rm", "anonjob"])  // its anonymous volume stays, unused
        for (n, app) in ["app", "web", "api", "cli", "db"].enumerated() { try build(d, tag: "\(app):1", megabytes: mb, seed: "a\(n)") }
    }

    func buildYoungDangling(_ d: PrivateDaemon) throws -> String {
        try build(d, tag: "fresh:1", megabytes: 2, seed: "f1")
        let id = try d.docker(["inspect", "-f", "{{.Id}}", "fresh:1"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try build(d, tag: "fresh:2", megabytes: 2, seed: "f2")
        try moveTag(d, from: "fresh:2", to: "fresh:1")
        return id
    }

    /// Moves tag `to` onto the image `from` names, then drops `from`: the image `to` named before
    /// is left dangling. (A build that reuses a tag leaves no dangling image with the containerd
    /// image store and buildx; `docker tag` over an existing tag does, on every engine.)
    func moveTag(_ d: PrivateDaemon, from: String, to: String) throws {
        try d.docker(["tag", from, to])
        try d.docker(["rmi", from])
    }

    @Test func aMixedHostIsHealedObjectByObjectWhereDockerSystemPruneBreaksTheRules() throws {
        let loopfs = 400 * Self.layerCopies
        let daemon = try PrivateDaemon(name: "rm-disk", loopfsMB: loopfs)
        defer { daemon.stop() }
        let copy = try PrivateDaemon(name: "rm-copy", loopfsMB: loopfs)
        defer { copy.stop() }
        try buildMixedHost(daemon)
        try buildMixedHost(copy)
        Thread.sleep(forTimeInterval: Self.minAge + 1)
        let youngDangling = try buildYoungDangling(daemon)
        _ = try buildYoungDangling(copy)

        // Thresholds relative to what the build left, so the test does not depend on filesystem
        // overhead: a target 60 MB (per layer copy) above the free space now.
        let root = daemon.dataRoot
        let before = try available(root)
        let targetRatio = (before.avail + Double(60 * Self.layerCopies << 20)) / before.size
        let common = [
            "--docker.host", daemon.host, "--collector.disk.interval", "1s", "--remediation.interval", "1s",
            "--remediation.disk.enabled=true", "--remediation.disk.act-below-ratio", String(format: "%.4f", targetRatio - 0.02),
            "--remediation.disk.target-ratio", String(format: "%.4f", targetRatio), "--remediation.disk.act-below-bytes", "0",
            "--remediation.disk.steps", "build_cache,dangling_images,container_logs,stopped_containers,unused_images,volumes",
            "--remediation.disk.min-age", "\(Int(Self.minAge))s", "--collector.containers.interval", "1s",
            // The base image of the test's runs; users keep base images the same way.
            "--remediation.keep-pattern", "^busybox:",
        ]
        let inventoryBefore = try HostInventory(daemon)

        // 1. Dry run: the plan, with estimates, changes nothing.
        var dryPlan: [String] = []
        do {
            let dry = try WatchdogProcess(arguments: common + ["--remediation.dry-run=true", "--remediation.disk.cooldown", "1h"])
            defer { dry.stop() }
            try dry.waitFor("a dry-run plan", timeout: 60) {
                ($0.value("docker_watchdog_remediation_dry_run_actions_total", ["policy": "disk", "action": "volumes"]) ?? 0) >= 1
            }
            let records = dry.auditRecords()
            #expect(!records.isEmpty && records.allSatisfy { $0["dryRun"] as? Bool == true && $0["phase"] as? String == "planned" })
            dryPlan = records.compactMap { ($0["targets"] as? [String])?.first }
            let plan = String(decoding: try dry.get("/api/v1/plan").body, as: UTF8.self)
            // Podman qualifies the names (docker.io/library/tool:1).
            #expect(plan.range(of: #"unused_images: [^"]*tool:"#, options: .regularExpression) != nil && plan.contains("volumes: "), "\(plan)")
            // Estimates for every kind of object, from the engine's size fields.
            // (The build-cache line may lack one: on 20.10 its /system/df is a full walk that can
            // time out on a busy host, and the step then prunes down to what the target needs unsized.)
            let objectLines = plan.replacingOccurrences(of: #"build_cache: [^"]*\(size unknown\)"#, with: "", options: .regularExpression)
            #expect(plan.contains("stopped_containers: finished ~") && !objectLines.contains("size unknown"), "\(plan)")
            // The image whose only container the plan removes first is listed after it, as a cascade.
            #expect(plan.contains("jobimg:1") && plan.contains("once the stopped containers planned before it are removed"), "\(plan)")
            // Named only as skipped, with the rule that keeps them.
            #expect(plan.contains("keepme:1: carries \(Self.protect)") && plan.contains("inuse:1: used by a container"), "\(plan)")
            #expect(plan.contains("svc: restart policy unless-stopped") && plan.contains("pgdata: a named volume"), "\(plan)")
            #expect(!plan.contains("unused_images: keepme") && !plan.contains("unused_images: inuse"), "\(plan)")
        }
        #expect(try HostInventory(daemon) == inventoryBefore)
        #expect(abs(try available(root).avail - before.avail) < before.size * 0.01)

        // 2. For real. Healing starts in the first round, before the disk collector's first
        // sample: the audit log is watched from before the start.
        let auditPath = FileManager.default.temporaryDirectory.appendingPathComponent("wd-audit-\(UUID().uuidString).jsonl").path
        let started = Date()
        let firstAction = AuditWatcher(path: auditPath)
        let w = try WatchdogProcess(arguments: common + ["--remediation.audit-log", auditPath])
        defer { w.stop() }
        let healed = try w.waitFor("free space back above the target", timeout: 180) { s in
            s.value("docker_watchdog_disk_pressure") == 0
                && s.value("docker_watchdog_remediation_last_episode_result", ["result": "reached_target"]) == 1
        }
        let after = try available(root)
        let latency = try #require(firstAction.firstSeen).timeIntervalSince(started)
        print("disk ladder on \(PrivateDaemon.engineUnderTest): the first action was planned \(String(format: "%.2f", latency)) s after the start")
        // Podman's /info (the Docker root, asked before the first measurement) alone takes over a
        // second: it walks its storage.
        #expect(latency < (daemon.isPodman ? 3.0 : 1.0), "the first action was planned \(latency) s after the start")
        let records = try auditRecords(auditPath)
        // The run removes the dry run's plan, in its order, up to the target.
        let finished = records.filter { $0["phase"] as? String == "finished" }
        let done = finished.compactMap { ($0["targets"] as? [String])?.first }
        #expect(Array(dryPlan.prefix(done.count)) == done, "dry run planned \(dryPlan), the run did \(done)")
        for record in finished {
            print("  \(record["action"] ?? "?") \((record["targets"] as? [String])?.first ?? "?"): estimated \(record["estimatedBytes"] ?? "-"), freed \(record["bytesReclaimed"] ?? "-")")
        }
        // No more than needed: freed / needed, as the episode reports and as df shows.
        let needed = try #require(healed.value("docker_watchdog_remediation_last_episode_needed_bytes"))
        let freed = after.avail - before.avail
        #expect(freed / needed <= 1.15, "freed \(freed) for \(needed) needed")
        #expect(after.avail / after.size >= targetRatio - 0.001, "available \(after.avail / after.size), target \(targetRatio)")
        // Every removal checked against every rule, object by object: 0 violations.
        let inventoryAfter = try HostInventory(daemon)
        let violations = inventoryBefore.violations(removedBy: inventoryAfter, at: started, minAge: Self.minAge)
        #expect(violations.isEmpty, "\(violations)")
        #expect(try daemon.docker(["images", "-q", "--no-trunc"]).contains(youngDangling), "the dangling image younger than min_age was removed")
        #expect(!inventoryAfter.images.contains { $0.tags.contains { $0.hasSuffix("tool:1") } }, "the three-tag image is still there")
        // No failed action: the three-tag image goes tag by tag, then by ID, never with force.
        let failures = healed.filter { $0.name == "docker_watchdog_remediation_failures_total" && $0.labels["policy"] == "disk" }
        #expect(failures.allSatisfy { $0.value == 0 }, "\(PrivateDaemon.engineUnderTest): failed disk actions \(failures)")
        #expect(try daemon.docker(["inspect", "-f", "{{.State.Running}}", "server"]).hasPrefix("true"))
        let data = try daemon.docker(["run", "--rm", "--network", "none", "-v", "pgdata:/data", "busybox:latest", "sh", "-c", "wc -c < /data/file"])
        #expect(data.trimmingCharacters(in: .whitespacesAndNewlines) == String(5 * 1024 * 1024))

        // Every removal is in the audit log, before and after; the bytes add up to the free-space change.
        for record in finished {
            let id = record["actionID"] as? String
            #expect(records.contains { $0["actionID"] as? String == id && $0["phase"] as? String == "planned" })
        }
        let reclaimed = finished.compactMap { ($0["bytesReclaimed"] as? NSNumber)?.doubleValue }.reduce(0, +)
        #expect(abs(reclaimed - freed) <= freed * 0.02, "audit says \(reclaimed), df says \(freed)")
        let metric = healed.filter { $0.name == "docker_watchdog_remediation_reclaimed_bytes_total" }.reduce(0) { $0 + $1.value }
        #expect(abs(metric - reclaimed) <= 1, "metric \(metric) vs audit \(reclaimed)")

        // 3. The blunt fix on the identical copy: what it frees and which rules it breaks.
        let copyBefore = try available(copy.dataRoot)
        let copyNeeded = targetRatio * copyBefore.size - copyBefore.avail
        let copyInventory = try HostInventory(copy)
        let pruneStarted = Date()
        if copy.isPodman {
            // The Docker 28 CLI's prune filters are refused by Podman's compat API (dangling twice):
            // Podman's own client does the same prune.
            let pruned = try runCommand("/usr/bin/podman", ["--url", copy.host, "system", "prune", "-af"])
            #expect(pruned.status == 0, "podman system prune -af: \(pruned.error)")
        } else {
            try copy.docker(["system", "prune", "-af"])
        }
        let copyFreed = try available(copy.dataRoot).avail - copyBefore.avail
        let pruneViolations = copyInventory.violations(removedBy: try HostInventory(copy), at: pruneStarted, minAge: Self.minAge)
        print(
            "disk ladder on \(PrivateDaemon.engineUnderTest): watchdog freed \(String(format: "%.2f", freed / needed))x the bytes needed, \(violations.count) rule(s) broken;"
                + " docker system prune -af freed \(String(format: "%.2f", copyFreed / copyNeeded))x, \(pruneViolations.count) rule(s) broken: \(pruneViolations.joined(separator: "; "))"
        )
        // The checker sees what the blunt prune breaks (protected, young, restart policy, keep pattern).
        #expect(pruneViolations.count >= 4, "\(pruneViolations)")
    }

    func auditRecords(_ path: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// Polls a file from a thread of its own and notes when it first has content.
final class AuditWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Date?
    private var stopped = false

    init(path: String) {
        Thread.detachNewThread { [self] in
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, lock.withLock({ !stopped && seen == nil }) {
                if let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue, size > 0 {
                    lock.withLock { seen = Date() }
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    var firstSeen: Date? { lock.withLock { seen } }
    deinit { lock.withLock { stopped = true } }
}

/// Images, containers and volumes of an engine with what the safety rules look at, from `docker inspect`.
struct HostInventory: Equatable {
    struct Image: Equatable {
        var id: String, tags: [String], since: Date, labels: [String: String]
    }
    struct Container: Equatable {
        var id: String, name: String, image: String, state: String, finished: Date?, restart: String, labels: [String: String], volumes: [String]
    }
    struct Volume: Equatable {
        var name: String, labels: [String: String]
    }
    var images: [Image] = []
    var containers: [Container] = []
    var volumes: [Volume] = []

    init(_ d: PrivateDaemon) throws {
        func inspect(_ kind: [String], _ ids: String) throws -> [[String: Any]] {
            let list = ids.split(separator: "\n").map(String.init)
            if list.isEmpty { return [] }
            let json = try d.docker(kind + ["inspect"] + list)
            return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
        }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        func date(_ value: Any?) -> Date? {
            guard let s = value as? String, !s.hasPrefix("0001-") else { return nil }
            // Docker writes nanoseconds; the formatter takes milliseconds at most.
            let trimmed = s.replacingOccurrences(of: #"(\.\d{3})\d+"#, with: "$1", options: .regularExpression)
            return iso.date(from: trimmed) ?? plain.date(from: trimmed)
        }
        for i in try inspect(["image"], d.docker(["images", "-a", "-q", "--no-trunc"])) {
            let id = i["Id"] as? String ?? ""
            if images.contains(where: { $0.id == id }) { continue }
            let created = date(i["Created"]) ?? .distantPast
            let tagged = date((i["Metadata"] as? [String: Any])?["LastTagTime"]) ?? created
            let labels = (i["Config"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
            images.append(Image(id: id, tags: i["RepoTags"] as? [String] ?? [], since: max(created, tagged), labels: labels))
        }
        for c in try inspect(["container"], d.docker(["ps", "-a", "-q", "--no-trunc"])) {
            let state = c["State"] as? [String: Any] ?? [:]
            let host = c["HostConfig"] as? [String: Any] ?? [:]
            let mounts = (c["Mounts"] as? [[String: Any]] ?? []).compactMap { $0["Name"] as? String }
            containers.append(
                Container(
                    id: c["Id"] as? String ?? "", name: String((c["Name"] as? String ?? "").drop { $0 == "/" }), image: c["Image"] as? String ?? "",
                    state: state["Status"] as? String ?? "", finished: date(state["FinishedAt"]),
                    restart: (host["RestartPolicy"] as? [String: Any])?["Name"] as? String ?? "",
                    labels: (c["Config"] as? [String: Any])?["Labels"] as? [String: String] ?? [:], volumes: mounts))
        }
        for v in try inspect(["volume"], d.docker(["volume", "ls", "-q"])) {
            volumes.append(Volume(name: v["Name"] as? String ?? "", labels: v["Labels"] as? [String: String] ?? [:]))
        }
        images.sort { $0.id < $1.id }
        containers.sort { $0.id < $1.id }
        volumes.sort { $0.name < $1.name }
    }

    /// Every object of this inventory missing from `after` that a rule protects, with the rule:
    /// protection label, keep pattern (`busybox:`), in use by a container still there, younger than
    /// `minAge` at `at`, a restart policy that brings it back, a named volume.
    func violations(removedBy after: HostInventory, at: Date, minAge: Double) -> [String] {
        let protect = DiskRemediationIntegrationTests.protect.split(separator: "=").map(String.init)
        func isProtected(_ labels: [String: String]) -> Bool { labels[protect[0]] == protect[1] }
        var out: [String] = []
        let survivors = after.containers
        for image in images where !after.images.contains(where: { $0.id == image.id }) {
            let name = image.tags.first ?? String(image.id.prefix(19))
            if isProtected(image.labels) { out.append("image \(name): protected") }
            if image.tags.contains(where: { $0.hasPrefix("busybox:") || $0.hasPrefix("docker.io/library/busybox:") }) { out.append("image \(name): keep pattern") }
            if survivors.contains(where: { $0.image == image.id }) { out.append("image \(name): in use") }
            if at.timeIntervalSince(image.since) < minAge { out.append("image \(name): younger than min_age") }
        }
        for c in containers where !after.containers.contains(where: { $0.id == c.id }) {
            if isProtected(c.labels) { out.append("container \(c.name): protected") }
            if c.state == "running" { out.append("container \(c.name): running") }
            if ["always", "unless-stopped"].contains(c.restart) { out.append("container \(c.name): restart policy \(c.restart)") }
            if let finished = c.finished, at.timeIntervalSince(finished) < minAge { out.append("container \(c.name): exited less than min_age ago") }
        }
        for v in volumes where !after.volumes.contains(where: { $0.name == v.name }) {
            if isProtected(v.labels) { out.append("volume \(v.name): protected") }
            let anonymous = v.labels["com.docker.volume.anonymous"] != nil || (v.name.count == 64 && v.name.allSatisfy(\.isHexDigit))
            if !anonymous { out.append("volume \(v.name): named") }
            if survivors.contains(where: { $0.volumes.contains(v.name) }) { out.append("volume \(v.name): in use") }
        }
        return out
    }
}

import Foundation
import Testing
import WatchdogTestSupport

/// Build-cache size and hit/miss counters against a real dockerd 20.10 of the suite's own
/// (`buildcache`, started and stopped by each test), with real BuildKit builds
/// (`DOCKER_BUILDKIT=1 /usr/bin/docker build --network none`, FROM the imported busybox image).
///
/// The counters are compared with what the builds printed: for every build, the hits of
/// `record_type="regular", origin="build"` must rise by exactly the number of RUN/COPY steps
/// printed `CACHED`, and the misses by exactly the number of RUN/COPY steps that ran. Tolerance 0:
/// in a single-stage Dockerfile every cached step's result is loaded (as the parent chain of the
/// step that follows or of the exported image) and every step that runs commits one new record.
@Suite("Build cache on a real daemon", .serialized, .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"))
struct BuildCacheTests {
    /// What the `UsageCount` method can see on this run's engine: written down per engine, as
    /// measured (issue 17 replaces the method with BuildKit's build history on engines that have it).
    struct UsageCountTraits {
        let engine: String
        /// Podman builds with buildah: no BuildKit records at all.
        var buildsWithBuildKit: Bool { !engine.hasPrefix("podman") }
        /// BuildKit 0.8 (Docker 20.10) raises `UsageCount` of every record a build loads: exact.
        var exact: Bool { engine == "debian12" }
        /// BuildKit 0.12+ (Docker 26 and 28) raises it on the build's final record only: a build
        /// that used the cache counts one hit, whatever the number of CACHED steps.
        func stepHits(cached: Int) -> Int { exact ? cached : (cached > 0 ? 1 : 0) }
        /// With the containerd image store the base image's layer is a record with an empty
        /// Description; it is counted under `base_image` like the classic store's "from local"
        /// record, so every engine counts one base miss on the first build and none as a step.
        func stepMisses(executed: Int, first: Bool) -> Int { executed }
        var baseMissesOnFirstBuild: Double { 1 }
        var baseHitsPerCachedBuild: Double { exact ? 1 : 0 }
    }
    static let traits = UsageCountTraits(engine: PrivateDaemon.engineUnderTest)
    /// `WATCHDOG_TEST_BUILD_CACHE_DAEMON` names it when runs must not share names (several worktrees).
    static let daemonName = ProcessInfo.processInfo.environment["WATCHDOG_TEST_BUILD_CACHE_DAEMON"] ?? "buildcache"
    static let stepLabels = ["record_type": "regular", "origin": "build"]
    static let baseLabels = ["record_type": "regular", "origin": "base_image"]

    /// What one build printed (`--progress plain`).
    struct BuildOutput: CustomStringConvertible {
        /// RUN/COPY/ADD steps, by vertex number.
        var steps: Set<Int> = []
        var cachedSteps: Set<Int> = []
        var log = ""
        var cached: Int { cachedSteps.intersection(steps).count }
        var executed: Int { steps.subtracting(cachedSteps).count }
        var description: String { "\(steps.count) steps, \(cached) CACHED, \(executed) executed" }

        init(parsing text: String) {
            log = text
            let step = try! NSRegularExpression(pattern: #"^#(\d+) \[(?:[^\]]* )?\d+/\d+\] (?:RUN|COPY|ADD) "#)
            let cached = try! NSRegularExpression(pattern: #"^#(\d+) CACHED\s*$"#)
            for line in text.split(separator: "\n").map(String.init) {
                let range = NSRange(line.startIndex..., in: line)
                if let m = step.firstMatch(in: line, range: range), let r = Range(m.range(at: 1), in: line), let n = Int(line[r]) {
                    steps.insert(n)
                } else if let m = cached.firstMatch(in: line, range: range), let r = Range(m.range(at: 1), in: line),
                    let n = Int(line[r])
                {
                    cachedSteps.insert(n)
                }
            }
        }
    }

    /// A build context: FROM busybox, then RUN, COPY, RUN, COPY (k = 4 steps); `last.txt` is the
    /// input of the last step only.
    static func makeContext() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-bc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        FROM busybox:latest
        RUN echo one > /one
        COPY a.txt /a.txt
        RUN cat /a.txt /one > /b
        COPY last.txt /last.txt

        """.write(to: dir.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try "a\n".write(to: dir.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try "v1\n".write(to: dir.appendingPathComponent("last.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    func build(_ daemon: PrivateDaemon, _ context: URL, tag: String, buildkit: Bool = true) throws -> BuildOutput {
        var args = ["-H", daemon.host, "build", "--network", "none", "-t", tag]
        if buildkit { args += ["--progress", "plain"] }
        // Debian's 20.10 client (its plain progress is what BuildOutput reads) for Docker; the
        // engine's own client, without BuildKit, for Podman.
        let cli = daemon.isPodman ? daemon.cli : PrivateDaemon.dockerCLI
        let r = try runCommand(cli, args + [context.path], environment: ["DOCKER_BUILDKIT": buildkit ? "1" : "0"])
        guard r.status == 0 else { throw TestBedMissing(description: "docker build failed: \(r.error)\(r.output)") }
        return BuildOutput(parsing: r.error + "\n" + r.output)
    }

    func watchdog(_ daemon: PrivateDaemon) throws -> WatchdogProcess {
        try WatchdogProcess(arguments: [
            "--docker.host", daemon.host, "--collector.build-cache.interval", "1s", "--collector.daemon.interval", "1s",
            "--collector.system-df.interval", "1h", "--collector.containers.enabled=false",
        ])
    }

    /// Waits until `rounds` more build_cache rounds have completed successfully, so that at least
    /// `rounds - 1` of them started after this call; returns the samples then.
    @discardableResult
    func settle(_ w: WatchdogProcess, rounds: Double = 3, timeout: TimeInterval = 30) throws -> [ParsedSample] {
        let runs = { (s: [ParsedSample]) in s.value("docker_watchdog_collector_runs_total", ["collector": "build_cache"]) ?? 0 }
        let start = runs(try w.samples())
        return try w.waitFor("\(Int(rounds)) more build_cache rounds", timeout: timeout) { s in
            runs(s) >= start + rounds && s.value("docker_watchdog_collector_success", ["collector": "build_cache"]) == 1
        }
    }

    func sum(_ s: [ParsedSample], _ name: String) -> Double {
        s.filter { $0.name == name }.map(\.value).reduce(0, +)
    }

    /// The Build Cache row of `docker system df` (TotalCount, Active, Size, Reclaimable).
    func systemDF(_ daemon: PrivateDaemon) throws -> (count: Double, active: Double, size: Double, reclaimable: Double) {
        let out = try daemon.docker(["system", "df", "--format", "{{json .}}"])
        for line in out.split(separator: "\n") {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard row["Type"] as? String == "Build Cache" else { continue }
            let reclaimable = (row["Reclaimable"] as? String ?? "").split(separator: " ").first.map(String.init) ?? ""
            return (
                Double("\(row["TotalCount"]!)") ?? -1, Double("\(row["Active"]!)") ?? -1,
                try HumanSize.parse(row["Size"] as? String ?? ""), try HumanSize.parse(reclaimable)
            )
        }
        throw TestBedMissing(description: "docker system df has no Build Cache row: \(out)")
    }

    func expectShapeMatchesSystemDF(_ s: [ParsedSample], _ daemon: PrivateDaemon, _ when: String) throws {
        let df = try systemDF(daemon)
        #expect(sum(s, "docker_build_cache_records") == df.count, "\(when): records vs docker system df")
        #expect(sum(s, "docker_build_cache_in_use_records") == df.active, "\(when): in use vs docker system df")
        #expect(
            HumanSize.sameWithinRounding(sum(s, "docker_build_cache_size_bytes"), df.size),
            "\(when): size \(sum(s, "docker_build_cache_size_bytes")) vs docker system df \(df.size)")
        #expect(
            HumanSize.sameWithinRounding(sum(s, "docker_build_cache_reclaimable_bytes"), df.reclaimable),
            "\(when): reclaimable vs docker system df")
        // The system_df collector's own build_cache row agrees too (same daemon, same arithmetic).
        #expect(s.value("docker_disk_usage_objects", ["category": "build_cache"]) != nil)
    }

    // MARK: - Done 1 and 2: hits and misses match CACHED lines; prune

    @Test func hitsAndMissesMatchTheCachedLinesOfThreeBuildsAndPruneEmptiesTheCache() throws {
        let daemon = try PrivateDaemon(name: Self.daemonName)
        defer { daemon.stop() }
        let context = try Self.makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let w = try watchdog(daemon)
        defer { w.stop() }
        guard Self.traits.buildsWithBuildKit else {
            try expectNoBuildKitRecords(daemon, context, w)
            return
        }

        // A fresh daemon: no BuildKit records, so no hit rate (not a rate of zero).
        var s = try settle(w, rounds: 2)
        #expect(s.value("docker_build_cache_hit_rate_available") == 0)
        #expect(s.value("docker_build_cache_hits_total", Self.stepLabels) == nil)
        #expect(sum(s, "docker_build_cache_records") == 0)

        var hits = 0.0, misses = 0.0, baseHits = 0.0
        let traits = Self.traits
        func check(_ build: BuildOutput, _ name: String, first: Bool = false) throws {
            s = try settle(w)
            let h = try #require(s.value("docker_build_cache_hits_total", Self.stepLabels), "\(name): hits exported")
            let m = try #require(s.value("docker_build_cache_misses_total", Self.stepLabels), "\(name): misses exported")
            #expect(h - hits == Double(traits.stepHits(cached: build.cached)), "\(traits.engine) \(name) (\(build)): hits rose by \(h - hits)")
            #expect(
                m - misses == Double(traits.stepMisses(executed: build.executed, first: first)),
                "\(traits.engine) \(name) (\(build)): misses rose by \(m - misses)")
            hits = h
            misses = m
        }

        let first = try build(daemon, context, tag: "wd-bc:1")
        #expect(first.steps.count == 4 && first.cached == 0, "first build: \(first)\n\(first.log)")
        try check(first, "first build", first: true)
        #expect(s.value("docker_build_cache_hit_rate_available") == 1)
        // The FROM image's layer is a record of its own, not a build step: kept apart.
        #expect(s.value("docker_build_cache_misses_total", Self.baseLabels) == traits.baseMissesOnFirstBuild)
        #expect(s.value("docker_build_cache_misses_total", ["record_type": "source.local", "origin": "build"]).map { $0 >= 1 } == true)
        baseHits = try #require(s.value("docker_build_cache_hits_total", Self.baseLabels))
        try expectShapeMatchesSystemDF(s, daemon, "after the first build")

        let second = try build(daemon, context, tag: "wd-bc:2")
        #expect(second.steps.count == 4 && second.cached == 4, "identical build: \(second)\n\(second.log)")
        try check(second, "identical build")
        #expect(try #require(s.value("docker_build_cache_hits_total", Self.baseLabels)) == baseHits + traits.baseHitsPerCachedBuild)

        try "v2\n".write(to: context.appendingPathComponent("last.txt"), atomically: true, encoding: .utf8)
        let third = try build(daemon, context, tag: "wd-bc:3")
        #expect(third.steps.count == 4 && third.cached == 3 && third.executed == 1, "last input changed: \(third)\n\(third.log)")
        try check(third, "last input changed")
        try expectShapeMatchesSystemDF(s, daemon, "after three builds")
        #expect(sum(s, "docker_build_cache_records") >= 8)
        #expect(
            s.value("docker_build_cache_most_recent_use_timestamp_seconds", ["record_type": "regular"]).map {
                abs($0 - Date().timeIntervalSince1970) < 120
            } == true)

        // Prune everything: sizes and counts fall to what docker system df says; no hit, miss or
        // re-baselined record is counted for the records that went away.
        let countersBefore = s.filter { $0.name.hasPrefix("docker_build_cache_") && $0.name.hasSuffix("_total") }
        try daemon.docker(["builder", "prune", "-af"])
        s = try settle(w)
        try expectShapeMatchesSystemDF(s, daemon, "after docker builder prune -af")
        #expect(sum(s, "docker_build_cache_records") == (try systemDF(daemon)).count)
        #expect(sum(s, "docker_build_cache_size_bytes") < 1_000)
        for before in countersBefore {
            #expect(s.value(before.name, before.labels) == before.value, "\(before.name)\(before.labels) moved after the prune")
        }
        #expect(s.value("docker_build_cache_hit_rate_available") == 1, "still measured after a prune")
    }

    // MARK: - Done 3: a daemon restart between samples

    @Test func aDaemonRestartBetweenSamplesCountsNothingSpurious() throws {
        let daemon = try PrivateDaemon(name: Self.daemonName)
        defer { daemon.stop() }
        let context = try Self.makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let w = try watchdog(daemon)
        defer { w.stop() }
        guard Self.traits.buildsWithBuildKit else {
            try expectNoBuildKitRecords(daemon, context, w)
            return
        }
        try settle(w, rounds: 1)
        _ = try build(daemon, context, tag: "wd-bc:1")
        var s = try settle(w)
        let before = s.filter { $0.name.hasPrefix("docker_build_cache_") && $0.name.hasSuffix("_total") }
        #expect(before.count == 17, "hit, miss and uncounted counters are exported: \(before.map(\.name))")

        let pidBefore = try #require(daemon.pid)
        try daemon.restart()
        #expect(daemon.pid != pidBefore, "dockerd really restarted")
        s = try w.waitFor("daemon up after the restart") { $0.value("docker_daemon_up") == 1 }
        s = try settle(w)
        for b in before {
            #expect(s.value(b.name, b.labels) == b.value, "\(b.name)\(b.labels): \(b.value) before the restart, \(s.value(b.name, b.labels) ?? -1) after")
        }

        // Counting goes on after the restart: an identical build hits every step.
        let stepsHits = try #require(s.value("docker_build_cache_hits_total", Self.stepLabels))
        let stepsMisses = try #require(s.value("docker_build_cache_misses_total", Self.stepLabels))
        let again = try build(daemon, context, tag: "wd-bc:2")
        s = try settle(w)
        #expect(again.cached == 4, "\(again)\n\(again.log)")
        #expect(s.value("docker_build_cache_hits_total", Self.stepLabels) == stepsHits + Double(Self.traits.stepHits(cached: again.cached)))
        #expect(s.value("docker_build_cache_misses_total", Self.stepLabels) == stepsMisses + Double(again.executed))
    }

    // MARK: - Done 4: legacy builder only

    @Test func legacyBuilderLeavesNoRecordsAndTheHitRateIsMarkedUnavailable() throws {
        let daemon = try PrivateDaemon(name: Self.daemonName)
        defer { daemon.stop() }
        let context = try Self.makeContext()
        defer { try? FileManager.default.removeItem(at: context) }
        let w = try watchdog(daemon)
        defer { w.stop() }
        try expectNoBuildKitRecords(daemon, context, w)
    }

    /// Two builds without BuildKit (the legacy builder, or Podman's buildah): no records, and the
    /// hit rate marked unavailable rather than shown as zero.
    func expectNoBuildKitRecords(_ daemon: PrivateDaemon, _ context: URL, _ w: WatchdogProcess) throws {
        _ = try build(daemon, context, tag: "wd-bc-legacy:1", buildkit: false)
        try "v2\n".write(to: context.appendingPathComponent("last.txt"), atomically: true, encoding: .utf8)
        _ = try build(daemon, context, tag: "wd-bc-legacy:2", buildkit: false)
        #expect(try daemon.docker(["image", "inspect", "wd-bc-legacy:2", "--format", "{{.Id}}"]).contains(where: { $0.isHexDigit }))

        let s = try settle(w)
        if !daemon.isPodman {
            #expect(try systemDF(daemon).count == 0, "the legacy builder leaves no BuildKit records")
        }
        #expect(s.value("docker_build_cache_hit_rate_available") == 0)
        for name in ["docker_build_cache_hits_total", "docker_build_cache_misses_total", "docker_build_cache_uncounted_records_total"] {
            #expect(!s.contains { $0.name == name }, "\(name) must be absent, not zero")
        }
        #expect(sum(s, "docker_build_cache_records") == 0)
        #expect(s.value("docker_build_cache_records", ["record_type": "regular"]) == 0)
    }
}

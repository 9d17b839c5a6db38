import CurlTransport
import FakeDockerEngine
import Foundation
import Testing
import WatchdogTestSupport

// The fault matrix of issue 8: for every fault, the real `docker-watchdog` binary keeps answering
// `/metrics` within 1 s throughout, reports the fault in its metrics and its log, recovers by itself
// once the fault is gone, and holds no more descriptors or threads (/proc/PID/fd, /proc/PID/task)
// after N fault cycles than after the first.
//
// | fault                          | where                                                     |
// | ------------------------------ | --------------------------------------------------------- |
// | daemon absent                  | `absentDaemonComesAndGoes` (fake engine's socket removed)  |
// | daemon hung (SIGSTOP)          | HungDaemonTests.frozenDaemonIsReportedQuicklyAndRecoveredFromWithoutLeaks (fault dockerd) |
// | daemon restarting              | HungDaemonTests.restartingDaemonIsReportedAndRecoveredFrom (fault dockerd) |
// | daemon slow                    | `slowDaemon`                                              |
// | BuildKit's /grpc hung          | `hungBuildKitGRPC` (accepts the upgrade, never answers)    |
// | daemon answering 500s          | `daemonAnswering500s`                                     |
// | malformed JSON                 | `malformedJSON`                                           |
// | truncated JSON                 | `truncatedJSON`                                           |
// | events stream cut repeatedly   | `eventsStreamCutRepeatedly`                               |
// | socket permission denied       | `socketPermissionDenied` (watchdog run as uid 65534)      |
// | statvfs hanging                | WatchdogTests/FaultUnitTests.hungStatvfsStallsNeitherTheRunnerNorTheOtherCollectors (unit: no FUSE here) |
// | audit log disk full, read-only | `auditLogDiskFullThenReadOnly` (a 64 KiB tmpfs)           |
// | clock jumps                    | WatchdogTests/FaultUnitTests (unit: the host clock is not ours to set): sampling waits, remediation cool-downs, backoffs and windows are monotonic; a wall step neither stretches nor cuts them |

/// Drives one watchdog through fault cycles, timing every scrape.
final class FaultDrill {
    let watchdog: WatchdogProcess
    private(set) var scrapes = 0
    private(set) var slowest = 0.0

    init(_ watchdog: WatchdogProcess) { self.watchdog = watchdog }

    /// One `/metrics` scrape; it must answer 200 within 1 s whatever the fault.
    func scrape() throws -> [ParsedSample] {
        let start = ContinuousClock.now
        let response: TransportResponse
        do {
            response = try watchdog.get("/metrics", timeout: .seconds(3))
        } catch {
            throw DrillFailure(description: "/metrics failed: \(error) (watchdog running: \(watchdog.process.isRunning)); log tail:\n\(watchdog.log.suffix(6000))")
        }
        let took = seconds(ContinuousClock.now - start)
        scrapes += 1
        slowest = max(slowest, took)
        #expect(response.status == 200)
        #expect(took < 1.0, "/metrics took \(took) s")
        return try parseExposition(String(decoding: response.body, as: UTF8.self))
    }

    /// Scrapes every 100 ms until `condition` holds.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 15, _ condition: ([ParsedSample]) -> Bool) throws -> [ParsedSample] {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let s = try scrape()
            if condition(s) { return s }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw DrillFailure(description: "timed out waiting for \(what); log tail:\n\(watchdog.log.suffix(3000))")
    }

    /// Waits until the log written since `mark` contains every one of `needles`.
    func expectLog(since mark: Int, _ needles: [String], timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var text = ""
        while ContinuousClock.now < deadline {
            text = String(watchdog.log.dropFirst(mark))
            if needles.allSatisfy({ text.contains($0) }) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("log since the fault lacks \(needles.filter { !text.contains($0) }); it was:\n\(text.suffix(3000))", sourceLocation: sourceLocation)
    }

    /// Descriptors and threads at a steady state: the smallest of several readings over `settle`
    /// seconds, so a connection or helper thread that is about to go away is not counted.
    func steadyFootprint(settle: Double = 1.5) throws -> (fds: Int, threads: Int) {
        var best = (fds: Int.max, threads: Int.max)
        let deadline = ContinuousClock.now + .milliseconds(Int(settle * 1000))
        repeat {
            _ = try scrape()
            let f = watchdog.footprint()
            best = (min(best.fds, f.fds), min(best.threads, f.threads))
            Thread.sleep(forTimeInterval: 0.15)
        } while ContinuousClock.now < deadline
        return best
    }

    /// Runs `cycles` fault cycles: inject, see it in the metrics and the log, remove, see recovery,
    /// read the footprint. A leak grows with every cycle, while a resource made once, lazily, in
    /// some cycle does not: threads may not grow in the last cycle, descriptors not in each of the
    /// last two nor by more than one overall.
    func cycles(
        _ cycles: Int, inject: () throws -> Void, faulted: @escaping ([ParsedSample]) -> Bool, log: [String],
        remove: () throws -> Void, healthy: @escaping ([ParsedSample]) -> Bool, faultTimeout: Double = 15,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try waitFor("healthy before the first fault", healthy)
        var footprints: [(fds: Int, threads: Int)] = []
        for cycle in 1...cycles {
            let mark = watchdog.log.count
            try inject()
            try waitFor("fault reported (cycle \(cycle))", timeout: faultTimeout, faulted)
            expectLog(since: mark, log, sourceLocation: sourceLocation)
            try remove()
            try waitFor("recovery (cycle \(cycle))", timeout: 30, healthy)
            footprints.append(try steadyFootprint())
        }
        let first = footprints[max(0, footprints.count - 2)]
        var last = footprints[footprints.count - 1]
        if last.fds > first.fds || last.threads > first.threads {
            // A connection or thread in flight at the reading (a reconnect, a slow round on a loaded
            // machine) is not a leak: a leak is still there after a longer look.
            last = try steadyFootprint(settle: 8)
            footprints.append(last)
        }
        // A leak grows with every cycle; a connection a client makes lazily, once, appears in one
        // cycle and stays (CI saw 21, 21, 22 after three daemon restarts, then 22 again). So the
        // descriptors may not grow in each of the last two cycles, nor by more than one overall.
        let beforeFirst = footprints.count >= 3 ? footprints[footprints.count - 3].fds : first.fds
        let grewTwice = last.fds > first.fds && first.fds > beforeFirst
        #expect(
            !grewTwice && last.fds <= footprints[0].fds + 1 && (footprints.count >= 3 || last.fds <= first.fds),
            "descriptors grew over \(cycles) cycles: \(footprints); open now: \(watchdog.descriptorTargets())",
            sourceLocation: sourceLocation)
        #expect(last.threads <= first.threads, "threads grew over \(cycles) cycles: \(footprints)", sourceLocation: sourceLocation)
        #expect(watchdog.process.isRunning)
        #expect(try watchdog.get("/healthz").status == 200, sourceLocation: sourceLocation)
    }
}

struct DrillFailure: Error, CustomStringConvertible {
    let description: String
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

extension [ParsedSample] {
    /// Sum of a family's samples over every label set (nil if absent).
    func total(_ name: String) -> Double? {
        let values = filter { $0.name == name }.map(\.value)
        return values.isEmpty ? nil : values.reduce(0, +)
    }

    /// Every collector's last round succeeded. A footprint read before a collector's first round
    /// after an outage misses the connection that round opens again (its failed round closed the
    /// old one), so the next reading looks like a leak of one descriptor; readings taken when this
    /// holds compare like with like.
    var everyCollectorSucceeded: Bool {
        let rounds = filter { $0.name == "docker_watchdog_collector_success" }
        return !rounds.isEmpty && rounds.allSatisfy { $0.value == 1 }
    }

    /// Sum of a family's samples with the given `kind` label.
    func total(_ name: String, kind: String) -> Double {
        filter { $0.name == name && $0.labels["kind"] == kind }.map(\.value).reduce(0, +)
    }
}

@Suite("Fault matrix (fake engine, real binary)", .serialized)
struct FaultMatrixTests {
    /// Fast cadences so each fault shows within a second, and short deadlines.
    static func arguments(_ host: String, containers: Bool = false) -> [String] {
        [
            "--docker.host", host, "--collector.daemon.interval", "200ms", "--collector.daemon.timeout", "300ms",
            "--docker.request-timeout", "1s", "--docker.connect-timeout", "500ms", "--collector.disk.path", "/tmp",
            "--collector.disk.interval", "500ms", "--collector.system-df.interval", "300ms", "--collector.system-df.timeout", "1s",
            "--collector.containers.enabled=\(containers)", "--collector.build-cache.enabled=false",
        ]
    }

    static let allGood: @Sendable ([ParsedSample]) -> Bool = {
        $0.value("docker_daemon_up") == 1 && $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 1
    }

    /// Counts failures since the fault began, so every cycle must produce its own.
    final class Baseline: @unchecked Sendable {
        var value = 0.0
    }

    @Test func slowDaemon() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().value("docker_daemon_probe_failures_total", ["reason": "timeout"]) ?? 0
                fake.setLatency(.milliseconds(1500))  // past the 300 ms probe and 1 s request deadlines
            },
            faulted: {
                $0.value("docker_daemon_up") == 0 && ($0.value("docker_daemon_probe_failures_total", ["reason": "timeout"]) ?? 0) > before.value
                    && $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 0
            },
            log: ["collector round failed", "collector=daemon", "Timeout was reached"],
            remove: { fake.setLatency(.zero) },
            healthy: Self.allGood)
    }

    /// BuildKit's control service hangs: `POST /grpc` is accepted and never answered. The
    /// build_history collector fails each round at its own deadline; /metrics answers within 1 s
    /// throughout and the other collectors keep completing rounds.
    @Test func hungBuildKitGRPC() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/grpc", .hang)
        let w = try WatchdogProcess(
            arguments: Self.arguments(fake.dockerHost) + [
                "--collector.build-history.interval", "500ms", "--collector.build-history.timeout", "1s",
            ])
        defer { w.stop() }
        let drill = FaultDrill(w)
        let failed = try drill.waitFor("build_history failing", timeout: 15) {
            ($0.value("docker_watchdog_collector_failures_total", ["collector": "build_history"]) ?? 0) >= 1
        }
        #expect(failed.value("docker_watchdog_collector_success", ["collector": "build_history"]) == 0)
        let runs = { (s: [ParsedSample], c: String) in s.value("docker_watchdog_collector_runs_total", ["collector": c]) ?? 0 }
        let daemonRunsBefore = runs(failed, "daemon")
        let diskRunsBefore = runs(failed, "disk")
        // Three seconds of scrapes (each must answer within 1 s) while further calls hang.
        let end = ContinuousClock.now + .seconds(3)
        var last = failed
        while ContinuousClock.now < end {
            last = try drill.scrape()
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(runs(last, "daemon") >= daemonRunsBefore + 5, "the daemon collector stalled")
        #expect(runs(last, "disk") >= diskRunsBefore + 2, "the disk collector stalled")
        #expect(Self.allGood(last))
        #expect(drill.slowest < 1.0)
        #expect((last.value("docker_watchdog_collector_failures_total", ["collector": "build_history"]) ?? 0) >= 2)

        // Once /grpc answers 404 (an engine without BuildKit), the collector succeeds and says so.
        fake.releaseHungRequests()
        fake.set("/grpc", .error(status: 404, message: "page not found"))
        let unavailable = try drill.waitFor("history unavailable", timeout: 15) {
            $0.value("docker_watchdog_collector_success", ["collector": "build_history"]) == 1
        }
        #expect(unavailable.value("docker_build_history_available") == 0)
        #expect(unavailable.value("docker_build_cache_hit_rate_method_info", ["method": "usage_count"]) == 1)
    }

    @Test func daemonAnswering500s() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().value("docker_daemon_probe_failures_total", ["reason": "http"]) ?? 0
                fake.overrideAll(.error(status: 500, message: "fault injected: server error"))
            },
            faulted: {
                $0.value("docker_daemon_up") == 0 && ($0.value("docker_daemon_probe_failures_total", ["reason": "http"]) ?? 0) > before.value
                    && $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 0
            },
            log: ["collector round failed", "fault injected: server error"],
            remove: { fake.overrideAll(nil) },
            healthy: Self.allGood)
    }

    @Test func malformedJSON() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let good = FakeDockerEngine.defaultRoutes(apiVersion: "1.41")["/system/df"]!
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().total("docker_watchdog_docker_api_errors_total", kind: "decode")
                fake.set("/system/df", .json(#"{"LayersSize": 1000, "Images": [{"Id": "sha256:a", "Size": ,]"#))
            },
            faulted: {
                $0.total("docker_watchdog_docker_api_errors_total", kind: "decode") > before.value
                    && $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 0
                    && $0.value("docker_daemon_up") == 1
            },
            log: ["collector round failed", "collector=system_df"],
            remove: { fake.set("/system/df", good) },
            healthy: Self.allGood)
    }

    @Test func truncatedJSON() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let body = #"{"LayersSize":1000,"Images":[],"Containers":[],"Volumes":[],"BuildCache":[]}"#
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().value("docker_watchdog_collector_failures_total", ["collector": "system_df"]) ?? 0
                fake.set("/system/df", .truncated(body: body, keep: 25))
            },
            faulted: {
                ($0.value("docker_watchdog_collector_failures_total", ["collector": "system_df"]) ?? 0) > before.value
                    && $0.value("docker_watchdog_collector_success", ["collector": "system_df"]) == 0
                    && ($0.total("docker_watchdog_docker_api_errors_total") ?? 0) > 0
            },
            log: ["collector round failed", "collector=system_df"],
            remove: { fake.set("/system/df", .json(body)) },
            healthy: Self.allGood)
    }

    @Test func absentDaemonComesAndGoes() throws {
        var fake = try FakeDockerEngine()
        let socket = fake.socketPath
        defer { fake.stop() }
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost))
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().value("docker_daemon_probe_failures_total", ["reason": "unreachable"]) ?? 0
                fake.stop()
                try? FileManager.default.removeItem(atPath: socket)
            },
            faulted: {
                $0.value("docker_daemon_up") == 0 && ($0.value("docker_daemon_probe_failures_total", ["reason": "unreachable"]) ?? 0) > before.value
            },
            // The connect's errno is named, not only libcurl's "Couldn't connect".
            log: ["collector round failed", "No such file or directory"],
            remove: { fake = try FakeDockerEngine(socketPath: socket) },
            healthy: Self.allGood)
    }

    @Test func eventsStreamCutRepeatedly() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/containers/json", .json("[]"))
        fake.set("/events", .stream(lines: [], thenClose: false))
        let w = try WatchdogProcess(arguments: Self.arguments(fake.dockerHost, containers: true) + ["--collector.containers.interval", "300ms"])
        defer { w.stop() }
        let drill = FaultDrill(w)
        let before = Baseline()
        // One cycle of at least four cuts in a row: reconnects back off exponentially (to 30 s) until a
        // stream has lived 30 s, so further cycles would mostly measure the backoff.
        try drill.cycles(
            1,
            inject: {
                before.value = try drill.scrape().value("docker_watchdog_events_stream_reconnects_total") ?? 0
                fake.set("/events", .stream(lines: [], thenClose: true))
                fake.releaseCurrentRequests()  // ends the open stream: the first cut
            },
            faulted: { ($0.value("docker_watchdog_events_stream_reconnects_total") ?? 0) >= before.value + 4 },
            log: ["docker events stream broke"],
            remove: { fake.set("/events", .stream(lines: [], thenClose: false)) },
            healthy: { $0.value("docker_watchdog_events_stream_up") == 1 && $0.value("docker_daemon_up") == 1 })
        // The footprint after recovery is no larger than before the cuts.
        let lists = fake.requests.filter { $0.path == "/containers/json" }.count
        #expect(lists >= 5, "each reconnect re-synchronises from a full list (\(lists) lists)")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run the watchdog as another user"))
    func socketPermissionDenied() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-perm-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fake = try FakeDockerEngine(socketPath: dir + "/docker.sock")
        defer { fake.stop() }
        func chmodSocket(_ mode: Int) throws {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: fake.socketPath)
        }
        try chmodSocket(0o666)
        // As nobody, so the socket's mode applies (root ignores it).
        let w = try WatchdogProcess(
            arguments: Self.arguments(fake.dockerHost),
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        defer { w.stop() }
        #expect(try String(contentsOfFile: "/proc/\(w.pid)/status", encoding: .utf8).contains("Uid:\t65534"))
        let drill = FaultDrill(w)
        let before = Baseline()
        try drill.cycles(
            3,
            inject: {
                before.value = try drill.scrape().value("docker_daemon_probe_failures_total", ["reason": "unreachable"]) ?? 0
                // The daemon comes back with a socket the watchdog's user may not open (as after a
                // restart with another socket group). A restart it must be: permissions are checked
                // at connect, and the watchdog's open connection would carry on.
                fake.stop()
                try? FileManager.default.removeItem(atPath: dir + "/docker.sock")
                fake = try FakeDockerEngine(socketPath: dir + "/docker.sock")
                try chmodSocket(0o600)
            },
            faulted: {
                $0.value("docker_daemon_up") == 0 && ($0.value("docker_daemon_probe_failures_total", ["reason": "unreachable"]) ?? 0) > before.value
            },
            log: ["collector round failed", "Permission denied"],
            remove: { try chmodSocket(0o666) },
            healthy: Self.allGood)
    }
}

/// The audit log on a filesystem that fills up or turns read-only: the action must not reach
/// Docker while its "planned" line cannot be written; it is counted and logged; once the log is
/// writable again the next action runs. Uses a 64 KiB tmpfs of its own (unmounted at the end).
@Suite("Fault matrix: audit log (tmpfs)", .serialized, .enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
struct AuditLogFaultTests {
    @Test func auditLogDiskFullThenReadOnly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-auditfs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", dir])
        try #require(mounted.status == 0, "mount: \(mounted.error)")
        defer {
            _ = try? runCommand("/bin/umount", [dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let audit = dir + "/audit.jsonl"
        let filler = dir + "/filler"
        func fill() throws {
            // Fill to the last block: dd stops at ENOSPC (status 1 then is expected).
            // The audit log's last page may still take a line or two: then a write comes up short.
            _ = try runCommand("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4096"])
        }
        func remount(_ mode: String) throws {
            // A write under way holds the file open for a moment (EBUSY): try again.
            var r = try runCommand("/bin/mount", ["-o", "remount,\(mode)", dir])
            for _ in 0..<20 where r.status != 0 {
                Thread.sleep(forTimeInterval: 0.05)
                r = try runCommand("/bin/mount", ["-o", "remount,\(mode)", dir])
            }
            try #require(r.status == 0, "remount \(mode): \(r.error)")
        }
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/system/df", .json(RemediationFaultTests.systemDFWithBuildCache))
        fake.set("/build/prune", .json(#"{"CachesDeleted":[],"SpaceReclaimed":0}"#))
        // Disk pressure on the real /tmp whatever its fill (act below 99.9% available); cool-down 1 s.
        let w = try WatchdogProcess(arguments: [
            "--docker.host", fake.dockerHost, "--collector.disk.path", "/tmp", "--collector.disk.interval", "500ms",
            "--remediation.interval", "500ms", "--remediation.disk.enabled=true", "--remediation.disk.act-below-ratio", "0.999",
            "--remediation.disk.target-ratio", "0.9999", "--remediation.disk.steps", "build_cache", "--remediation.disk.cooldown", "1s",
            "--collector.containers.enabled=false", "--collector.build-cache.enabled=false", "--remediation.audit-log", audit,
        ])
        defer { w.stop() }
        let drill = FaultDrill(w)
        let prunes = { fake.requests.filter { $0.path == "/build/prune" }.count }
        let failures = { (s: [ParsedSample]) in s.value("docker_watchdog_remediation_failures_total", ["policy": "disk", "action": "build_cache"]) ?? 0 }
        let actions = { (s: [ParsedSample]) in s.value("docker_watchdog_remediation_actions_total", ["policy": "disk", "action": "build_cache"]) ?? 0 }
        let faults: [(name: String, inject: () throws -> Void, remove: () throws -> Void, log: String)] = [
            // "short write" while the log's last page takes part of a line, ENOSPC once it is full.
            ("disk full", fill, { try FileManager.default.removeItem(atPath: filler) }, "cannot write audit log"),
            ("read-only", { try remount("ro") }, { try remount("rw") }, "Read-only file system"),
            ("disk full again", fill, { try FileManager.default.removeItem(atPath: filler) }, "cannot write audit log"),
        ]
        try drill.waitFor("a first action", timeout: 20) { actions($0) >= 1 }
        var footprints: [(fds: Int, threads: Int)] = []
        for fault in faults {
            let mark = w.log.count
            try fault.inject()
            // Once one write has failed the filesystem is surely full (or read-only); from then on no
            // action may reach Docker.
            let failedBefore = failures(try drill.scrape())
            try drill.waitFor("\(fault.name): a first refused action", timeout: 20) { failures($0) > failedBefore }
            let prunesBefore = prunes()
            let refused = failures(try drill.scrape())
            let s = try drill.waitFor("\(fault.name): more refused actions", timeout: 20) { failures($0) >= refused + 2 }
            #expect(prunes() == prunesBefore, "\(fault.name): a prune reached Docker without its audit line")
            #expect(s.value("docker_watchdog_collector_success", ["collector": "daemon"]) == 1)
            drill.expectLog(since: mark, ["remediation failed", fault.log])
            try fault.remove()
            let done = actions(try drill.scrape())
            try drill.waitFor("\(fault.name): an action after recovery", timeout: 20) { actions($0) > done }
            #expect(prunes() > prunesBefore)
            footprints.append(try drill.steadyFootprint())
        }
        #expect(footprints.last!.fds <= footprints.first!.fds, "descriptors grew: \(footprints)")
        #expect(footprints.last!.threads <= footprints.first!.threads, "threads grew: \(footprints)")
        // Every line that made it into the log is whole: a full disk never leaves half a record.
        let text = try String(contentsOfFile: audit, encoding: .utf8)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.allSatisfy({ $0 == "\0" }) {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not a whole record: \(line.prefix(200))")
        }
    }
}

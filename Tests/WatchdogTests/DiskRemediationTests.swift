import DockerEngine
import Exposition
import Foundation
import Logging
import Locking
import Testing
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import ResponseBodies

/// A Docker host in memory: objects with sizes on a filesystem whose free space they determine.
final class FakeHost: RemediationDocker, @unchecked Sendable {
    struct Image { var id: String; var tags: [String]; var created: Int64; var size: UInt64; var labels: [String: String] = [:] }
    struct Container {
        var id: String; var name: String; var imageID: String; var state: String; var size: UInt64; var labels: [String: String] = [:]; var restartPolicy = ""; var finished: Date
        /// json-file log: its path and bytes (counted as used space).
        var logPath = ""
        var logBytes: UInt64 = 0
        var logDriver = "json-file"
    }
    struct Volume { var name: String; var size: UInt64; var labels: [String: String] = [:]; var used = false }

    let lock = NSLock()
    var size: UInt64 = 1000
    var buildCache: UInt64 = 0
    /// Build cache in use by a running build: no prune frees it.
    var buildCacheInUse: UInt64 = 0
    var dangling: [Image] = []
    var images: [Image] = []
    var containers: [Container] = []
    var volumes: [Volume] = []
    var calls: [String] = []
    var failPrune = false

    var used: UInt64 {
        buildCache + (dangling + images).reduce(0) { $0 + $1.size } + containers.reduce(0) { $0 + $1.size + $1.logBytes } + volumes.reduce(0) { $0 + $1.size }
    }

    func stats() -> FilesystemStats {
        lock.lock(); defer { lock.unlock() }
        return FilesystemStats(sizeBytes: size, freeBytes: size - used, availableBytes: size - used, files: 100, filesFree: 90, readOnly: false)
    }

    func record(_ call: String) { lock.lock(); calls.append(call); lock.unlock() }

    struct Refused: Error {}

    func pruneBuildCache(keepStorage: Int64) throws -> RemovalResult {
        record("build_prune")
        if failPrune { throw DockerError.http(status: 500, message: "boom", path: "/build/prune") }
        lock.lock(); defer { lock.unlock() }
        buildCache = max(buildCacheInUse, min(buildCache, UInt64(max(0, keepStorage))))
        return RemovalResult(removed: ["cache"], spaceReclaimed: 0)
    }
    func buildCacheUsage() throws -> (size: Int64, reclaimable: Int64)? {
        lock.lock(); defer { lock.unlock() }
        return (Int64(buildCache), Int64(buildCache - buildCacheInUse))
    }
    func listContainers() throws -> [ContainerSummary] {
        lock.lock(); defer { lock.unlock() }
        return containers.map {
            ContainerSummary(id: $0.id, names: ["/\($0.name)"], image: $0.imageID, imageID: $0.imageID, labels: $0.labels, state: $0.state, status: "", created: 0)
        }
    }
    func inspectContainer(_ id: String) throws -> ContainerInspect {
        lock.lock(); defer { lock.unlock() }
        let c = containers.first { $0.id == id }!
        let f = ISO8601DateFormatter().string(from: c.finished)
        return try ContainerInspect.decode(
            Data(
                """
                {"Id":"\(c.id)","Name":"/\(c.name)","RestartCount":0,"State":{"Status":"\(c.state)","ExitCode":0,"FinishedAt":"\(f)"},
                 "Config":{"Image":"\(c.imageID)","Labels":{}},"LogPath":"\(c.logPath)",
                 "HostConfig":{"RestartPolicy":{"Name":"\(c.restartPolicy)"},"LogConfig":{"Type":"\(c.logDriver)","Config":{}}}}
                """.utf8))
    }
    func removeContainer(_ id: String) throws {
        record("rm \(id)")
        lock.lock(); defer { lock.unlock() }
        guard let i = containers.firstIndex(where: { $0.id == id }), containers[i].state != "running" else { throw Refused() }
        containers.remove(at: i)
    }
    func listImages() throws -> [ImageSummary] {
        lock.lock(); defer { lock.unlock() }
        return (images + dangling).map { ImageSummary(id: $0.id, repoTags: $0.tags, created: $0.created, size: Int64($0.size), labels: $0.labels) }
    }
    func removeImage(_ id: String) throws -> RemovalResult {
        record("rmi \(id)")
        lock.lock(); defer { lock.unlock() }
        guard !containers.contains(where: { $0.imageID == id }) else { throw DockerError.http(status: 409, message: "image is being used", path: "/images") }
        images.removeAll { $0.id == id }
        dangling.removeAll { $0.id == id }
        return RemovalResult(removed: [id], spaceReclaimed: 0)
    }
    func listUnusedVolumes() throws -> [VolumeSummary] {
        lock.lock(); defer { lock.unlock() }
        return volumes.filter { !$0.used }.map { VolumeSummary(name: $0.name, labels: $0.labels) }
    }
    func removeVolume(_ name: String) throws {
        record("rmv \(name)")
        lock.lock(); defer { lock.unlock() }
        volumes.removeAll { $0.name == name }
    }
    func restartContainer(_ id: String) throws { record("restart \(id)") }
    var tagTimes: [String: Date] = [:]
}

/// The fake host's json-file logs, by path.
extension FakeHost: LogFileAccess {
    func size(_ path: String) -> Int64? {
        lock.lock(); defer { lock.unlock() }
        return containers.first { $0.logPath == path }.map { Int64($0.logBytes) }
    }
    func truncate(_ path: String) throws {
        record("truncate \(path)")
        lock.lock(); defer { lock.unlock() }
        guard let i = containers.firstIndex(where: { $0.logPath == path }) else { throw Refused() }
        containers[i].logBytes = 0
    }
    func imageLastTagTime(_ id: String) throws -> Date? { lock.lock(); defer { lock.unlock() }; return tagTimes[id] }
}

/// `advance` moves the wall and the monotonic clock together (time passes); `stepWall` moves only
/// the wall clock (someone sets the date).
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    private let origin = ContinuousClock.now
    private var elapsed = Duration.zero
    var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    var instant: ContinuousClock.Instant { lock.lock(); defer { lock.unlock() }; return origin + elapsed }
    func advance(_ seconds: Double) { lock.lock(); current += seconds; elapsed += .seconds(seconds); lock.unlock() }
    func stepWall(_ seconds: Double) { lock.lock(); current += seconds; lock.unlock() }
    var policyClock: PolicyClock { PolicyClock(wall: { self.now }, monotonic: { self.instant }) }
}

@Suite("Disk remediation (fake host, fake clock)")
struct DiskRemediationTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let thresholds = DiskThresholds(actBelowRatio: 0.10, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.30, targetInodesRatio: 0.05)

    func setup(
        _ host: FakeHost, steps: [DiskStep], dryRun: Bool = false, auditPath: String? = nil, clock: FakeClock = FakeClock(),
        minAge: Duration = .seconds(3600)
    ) -> (DiskRemediation, ActionLedger, String) {
        let path = auditPath ?? FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).jsonl").path
        let ledger = ActionLedger(audit: AuditLog(path: path), logger: logger)
        let disk = DiskRemediation(
            settings: .init(dryRun: dryRun, thresholds: thresholds, steps: steps, minAge: minAge, keepPattern: "^keep/", cooldown: .seconds(600)),
            docker: host, measure: { host.stats() }, ledger: ledger, clock: clock.policyClock)
        return (disk, ledger, path)
    }

    func auditLines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func hysteresisActsBelowTheHighMarkAndStopsAtTheLowMark() {
        let fs = { (avail: UInt64) in FilesystemStats(sizeBytes: 100, freeBytes: avail, availableBytes: avail, files: 10, filesFree: 10, readOnly: false) }
        #expect(thresholds.nextState(active: false, fs(15)) == false)
        #expect(thresholds.nextState(active: false, fs(9)) == true)
        #expect(thresholds.nextState(active: true, fs(15)) == true)  // between the marks: keep going
        #expect(thresholds.nextState(active: true, fs(30)) == false)
        #expect(thresholds.bytesToTarget(fs(9)) == 21)
        let inodes = FilesystemStats(sizeBytes: 100, freeBytes: 90, availableBytes: 90, files: 100, filesFree: 2, readOnly: false)
        #expect(thresholds.pressure(inodes)?.contains("inodes") == true)
    }

    @Test func theLadderStopsAtTheFirstStepThatReachesTheTarget() {
        let host = FakeHost()
        host.buildCache = 400
        host.dangling = [.init(id: "d1", tags: [], created: 0, size: 300)]
        host.images = [.init(id: "old", tags: ["app:1"], created: 0, size: 250)]
        let (disk, ledger, path) = setup(host, steps: [.buildCache, .danglingImages, .unusedImages])
        disk.evaluate()  // used 950 of 1000: 5% available
        #expect(host.calls == ["build_prune"])
        // No more than needed: down to the 150 bytes of cache the target leaves room for.
        #expect(host.stats().availableBytes == 300)
        #expect(!disk.underPressure)
        let lines = auditLines(path)
        #expect(lines.map { $0["phase"] as? String } == ["planned", "started", "finished"])
        #expect(lines.last?["bytesReclaimed"] as? Int == 250)
        #expect(lines.last?["estimatedBytes"] as? Int == 250)
        #expect(ledger.recent.last?.action == "build_cache")
    }

    /// A filesystem of its own for the logs, below the mark while the data root's is fine: only the
    /// steps that free space there run (the log is truncated, the unused image stays), and each
    /// filesystem's pressure is reported.
    @Test func aLogsFilesystemBelowTheMarkIsHealedOnlyWithTheStepsThatFreeSpaceThere() {
        let host = FakeHost()
        let clock = FakeClock()
        host.images = [.init(id: "old", tags: ["app:1"], created: 0, size: 100)]
        host.containers = [
            .init(
                id: "c1", name: "chatty", imageID: "img", state: "running", size: 0, labels: ["docker-watchdog.truncate-logs": "true"],
                finished: clock.now, logPath: "/logs/c1-json.log", logBytes: 950)
        ]
        let logsUsed: @Sendable () -> UInt64 = { host.lock.withLock { host.containers.reduce(0) { $0 + $1.logBytes } } }
        let logsFS: @Sendable () -> FilesystemStats = { FilesystemStats(sizeBytes: 1000, freeBytes: 1000 - logsUsed(), availableBytes: 1000 - logsUsed(), files: 10, filesFree: 10, readOnly: false) }
        let rootFS: @Sendable () -> FilesystemStats? = { FilesystemStats(sizeBytes: 1000, freeBytes: 900, availableBytes: 900, files: 10, filesFree: 10, readOnly: false) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).jsonl").path
        let disk = DiskRemediation(
            settings: .init(
                thresholds: thresholds, steps: [.danglingImages, .containerLogs, .stoppedContainers, .unusedImages], minAge: .seconds(0),
                logsTruncateAbove: 10),
            docker: host, measure: rootFS, ledger: ActionLedger(audit: AuditLog(path: path), logger: logger), clock: clock.policyClock,
            logFiles: host,
            layout: {
                [WatchedFilesystem(path: nil, holds: [.dataRoot, .imageStore], name: "/var/lib/docker"), WatchedFilesystem(path: "/logs", holds: [.logs])]
            },
            measurePath: { $0 == "/logs" ? logsFS() : nil })
        disk.evaluate()
        #expect(host.calls == ["truncate /logs/c1-json.log"])
        #expect(host.images.count == 1)
        #expect(disk.pressureByPath == ["/var/lib/docker": false, "/logs": false])
        let plan = disk.plan
        #expect(plan.contains { $0.contains("dangling_images: frees nothing on /logs (it holds logs)") }, "\(plan)")
        #expect(plan.first?.contains("filesystem /logs (holds logs) is below the mark") == true, "\(plan)")
        // The same layout with the log's filesystem healthy and the data root's low: no truncation.
        host.containers[0].logBytes = 950
        let low = DiskRemediation(
            settings: .init(thresholds: thresholds, steps: [.containerLogs], minAge: .seconds(0), logsTruncateAbove: 10),
            docker: host, measure: { FilesystemStats(sizeBytes: 1000, freeBytes: 50, availableBytes: 50, files: 10, filesFree: 10, readOnly: false) },
            ledger: ActionLedger(audit: AuditLog(path: path + ".2"), logger: logger), clock: clock.policyClock, logFiles: host,
            layout: { [WatchedFilesystem(path: nil, holds: [.dataRoot, .imageStore], name: "/var/lib/docker"), WatchedFilesystem(path: "/logs", holds: [.logs])] },
            measurePath: { _ in FilesystemStats(sizeBytes: 1000, freeBytes: 900, availableBytes: 900, files: 10, filesFree: 10, readOnly: false) })
        low.evaluate()
        #expect(host.calls == ["truncate /logs/c1-json.log"], "the data root's pressure truncated a log on another filesystem")
        #expect(low.pressureByPath == ["/var/lib/docker": true, "/logs": false])
    }

    @Test func theImageStoreIsContainerdsRootWithTheContainerdStoreOnly() {
        let exists = { (p: String) in p == "/d/containerd/daemon" }
        let classic = DiskCollector.rolePaths(dataRoot: "/d", storageDriver: "overlay2", containerdRoot: "", hostPrefix: "", exists: exists)
        #expect(classic.map { "\($0.role.rawValue)=\($0.path)" } == ["logs=/d/containers", "image_store=/d"])
        let managed = DiskCollector.rolePaths(dataRoot: "/d", storageDriver: "overlayfs", containerdRoot: "", hostPrefix: "", exists: exists)
        #expect(managed.last?.path == "/d/containerd/daemon")
        let system = DiskCollector.rolePaths(dataRoot: "/h/d", storageDriver: "overlayfs", containerdRoot: "", hostPrefix: "/h", exists: { _ in false })
        #expect(system.last?.path == "/h/var/lib/containerd")
        let configured = DiskCollector.rolePaths(dataRoot: "/d", storageDriver: "overlayfs", containerdRoot: "/srv/ctd", hostPrefix: "", exists: exists)
        #expect(configured.last?.path == "/srv/ctd")
    }

    @Test func protectedInUseYoungAndKeptObjectsSurviveAndLRUGoesFirst() {
        let host = FakeHost()
        let clock = FakeClock()
        let now = Int64(clock.now.timeIntervalSince1970)
        host.images = [
            .init(id: "inuse", tags: ["db:1"], created: now - 90_000, size: 100),
            .init(id: "protected", tags: ["base:1"], created: now - 90_000, size: 100, labels: ["docker-watchdog.protect": "true"]),
            .init(id: "kept", tags: ["keep/tool:1"], created: now - 90_000, size: 100),
            .init(id: "older", tags: ["app:1"], created: now - 80_000, size: 200),
            .init(id: "newer", tags: ["app:2"], created: now - 70_000, size: 200),
            .init(id: "fresh", tags: ["app:3"], created: now + 7190, size: 100),  // built 10 s before the evaluation
        ]
        host.containers = [.init(id: "c1", name: "db", imageID: "inuse", state: "running", size: 10, finished: clock.now)]
        // "pulled" was built a day ago but pulled a minute ago: young.
        host.images.append(.init(id: "pulled", tags: ["vendor:1"], created: now - 86_400, size: 10))
        host.tagTimes["pulled"] = clock.now.addingTimeInterval(7140)
        let (disk, _, _) = setup(host, steps: [.unusedImages], clock: clock)
        clock.advance(7200)
        let candidates = (try? disk.candidates(.unusedImages)) ?? []
        #expect(candidates.map(\.id) == ["older", "newer"])
        host.size = 890
        disk.evaluate()  // used 820 of 890 (8% available): removing "older" reaches 30.3%, the target
        #expect(host.calls == ["rmi older"])
        #expect(host.images.map(\.id).contains("newer"))
    }

    @Test func stoppedContainersWithARestartPolicyOrYoungOrProtectedStay() throws {
        let host = FakeHost()
        let clock = FakeClock()
        let old = clock.now.addingTimeInterval(-7200)
        host.containers = [
            .init(id: "a", name: "old-exited", imageID: "i", state: "exited", size: 10, finished: old),
            .init(id: "b", name: "young-exited", imageID: "i", state: "exited", size: 10, finished: clock.now.addingTimeInterval(-5)),
            .init(id: "c", name: "always", imageID: "i", state: "exited", size: 10, restartPolicy: "always", finished: old),
            .init(id: "d", name: "protected", imageID: "i", state: "exited", size: 10, labels: ["docker-watchdog.protect": "true"], finished: old),
            .init(id: "e", name: "running", imageID: "i", state: "running", size: 10, finished: old),
        ]
        let (disk, _, _) = setup(host, steps: [.stoppedContainers], clock: clock)
        #expect(try disk.candidates(.stoppedContainers).map(\.name) == ["old-exited"])
    }

    @Test func namedVolumesAreNeverRemovedUnlessLabelled() throws {
        let host = FakeHost()
        let anonymous = String(repeating: "ab", count: 32)
        host.volumes = [
            .init(name: anonymous, size: 10), .init(name: "pgdata", size: 10),
            .init(name: "scratch", size: 10, labels: ["docker-watchdog.prunable": "true"]),
            .init(name: String(repeating: "cd", count: 32), size: 10, used: true),
        ]
        let (disk, _, _) = setup(host, steps: [.volumes])
        #expect(try disk.candidates(.volumes).map(\.name) == [anonymous])
        let ledger = ActionLedger(audit: AuditLog(path: "/tmp/unused-\(UUID().uuidString)"), logger: logger)
        let labelled = DiskRemediation(
            settings: .init(thresholds: thresholds, steps: [.volumes], namedVolumeLabel: "docker-watchdog.prunable=true"),
            docker: host, measure: { host.stats() }, ledger: ledger)
        #expect(try labelled.candidates(.volumes).map(\.name) == [anonymous, "scratch"])
    }

    @Test func dryRunChangesNothingAndReportsThePlanOncePerCooldown() {
        let host = FakeHost()
        host.buildCache = 500
        host.dangling = [.init(id: "d1", tags: [], created: 0, size: 450)]
        let clock = FakeClock()
        let (disk, ledger, path) = setup(host, steps: [.buildCache, .danglingImages], dryRun: true, clock: clock)
        disk.evaluate()
        disk.evaluate()
        #expect(host.calls.isEmpty)
        #expect(host.stats().availableBytes == 50)
        #expect(auditLines(path).map { $0["action"] as? String } == ["build_cache", "dangling_images"])
        #expect(auditLines(path).allSatisfy { $0["dryRun"] as? Bool == true && $0["phase"] as? String == "planned" })
        #expect(disk.plan.first == "needed: 250 bytes to reach the target")
        #expect(disk.plan.contains { $0.hasPrefix("build_cache: prune") })
        #expect(disk.plan.contains { $0.hasPrefix("dangling_images: sha256:d1") || $0.hasPrefix("dangling_images: d1 ~450 bytes") })
        #expect(ledger.recent.count == 2)
        clock.advance(601)
        disk.evaluate()
        #expect(auditLines(path).count == 4)
    }

    @Test func aFailingPruneIsCountedAndTheNextStepStillRuns() {
        let host = FakeHost()
        host.failPrune = true
        host.buildCache = 500
        host.dangling = [.init(id: "d1", tags: [], created: 0, size: 450)]
        let (disk, ledger, path) = setup(host, steps: [.buildCache, .danglingImages])
        disk.evaluate()
        #expect(host.calls == ["build_prune", "rmi d1"])
        let phases = auditLines(path).map { "\($0["action"]!):\($0["phase"]!)" }
        #expect(
            phases == [
                "build_cache:planned", "build_cache:started", "build_cache:failed",
                "dangling_images:planned", "dangling_images:started", "dangling_images:finished",
            ])
        let text = ledger.families(policies: [("disk", true, false)]).map { String(decoding: ExpositionRenderer.render([$0], format: .text), as: UTF8.self) }.joined()
        #expect(text.contains("docker_watchdog_remediation_failures_total{action=\"build_cache\",policy=\"disk\"} 1"))
    }

    @Test func anUnwritableAuditLogMeansNoAction() {
        let host = FakeHost()
        host.buildCache = 950
        let (disk, ledger, _) = setup(host, steps: [.buildCache], auditPath: "/proc/no-such-dir/audit.jsonl")
        disk.evaluate()
        #expect(host.calls.isEmpty)
        #expect(host.stats().availableBytes == 50)
        #expect(ledger.recent.last?.phase == "failed")
        #expect(ledger.recent.last?.error?.contains("audit") == true)
    }

    @Test func whenEveryStepRanAndTheTargetIsStillMissedItCoolsDownAndSaysSo() {
        let host = FakeHost()
        host.images = [.init(id: "big", tags: ["big:1"], created: 0, size: 940)]
        host.containers = [.init(id: "c", name: "c", imageID: "big", state: "running", size: 0, finished: Date())]
        (host.buildCache, host.buildCacheInUse) = (10, 10)  // in use by a build: nothing to free
        let clock = FakeClock()
        let (disk, ledger, _) = setup(host, steps: [.buildCache, .danglingImages], clock: clock)
        disk.evaluate()
        #expect(ledger.suppression("disk") != nil)
        disk.evaluate()
        #expect(host.calls == ["build_prune"])  // not again inside the cool-down; the used image is no dangling one
        #expect(ledger.suppression("disk")?.contains("cool-down") == true)
        clock.advance(601)
        disk.evaluate()
        #expect(host.calls.count == 2)
    }
}

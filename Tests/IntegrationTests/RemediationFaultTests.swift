import FakeDockerEngine
import Foundation
import MicroHTTPServer
import Locking
import Testing
import WatchdogTestSupport

/// Failing actions, against the real binary and the fake engine: nothing else happens, the failure
/// is logged, audited and counted, and the watchdog keeps serving.
@Suite("Remediation faults (fake engine)")
struct RemediationFaultTests {
    /// A `/system/df` answer with 1 MiB of unused build cache: the build_cache step acts only when
    /// there is cache to prune.
    static let systemDFWithBuildCache =
        #"{"LayersSize":1000,"Images":[],"Containers":[],"Volumes":[],"BuildCache":[{"ID":"r1","Type":"regular","Description":"RUN x","#
        + #""InUse":false,"Shared":false,"Size":1048576,"CreatedAt":"2026-01-01T00:00:00Z","LastUsedAt":"2026-01-01T00:00:00Z","#
        + #""UsageCount":1}]}"#

    /// Disk pressure on the real /tmp filesystem, whatever its fill: act below 99.9% available.
    func arguments(_ fake: FakeDockerEngine, _ extra: [String]) -> [String] {
        [
            "--docker.host", fake.dockerHost, "--collector.disk.path", "/tmp", "--collector.disk.interval", "1s",
            "--remediation.interval", "1s", "--remediation.disk.enabled=true", "--remediation.disk.act-below-ratio", "0.999",
            "--remediation.disk.target-ratio", "0.9999", "--remediation.disk.steps", "build_cache",
            "--collector.containers.enabled=false", "--collector.build-cache.enabled=false",
        ] + extra
    }

    @Test func aPruneAnswering500IsAFailedActionAndTheWebhookHearsOfIt() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/system/df", .json(Self.systemDFWithBuildCache))
        fake.set("/build/prune", .error(status: 500, message: "failed to prune build cache: boom"))
        let received = Mutex<[String]>([])
        let receiver = try HTTPServer(
            listen: .tcp(host: "127.0.0.1", port: 0),
            handler: { request in
                received.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
                return .text(200, "ok\n")
            })
        defer { receiver.stop() }
        let w = try WatchdogProcess(arguments: arguments(fake, ["--remediation.webhook-url", "http://127.0.0.1:\(receiver.port!)/hook"]))
        defer { w.stop() }
        let s = try w.waitFor("a failed build_cache action", timeout: 30) {
            ($0.value("docker_watchdog_remediation_failures_total", ["policy": "disk", "action": "build_cache"]) ?? 0) >= 1
        }
        #expect(s.value("docker_watchdog_remediation_actions_total", ["policy": "disk", "action": "build_cache"]) == nil)
        #expect(s.value("docker_watchdog_disk_pressure") == 1)
        let failed = w.auditRecords().first { $0["phase"] as? String == "failed" }
        #expect((failed?["error"] as? String)?.contains("boom") == true)
        #expect(fake.requests.contains { $0.method == "POST" && $0.path == "/build/prune" })
        #expect(try w.get("/metrics").status == 200)
        #expect(w.log.contains("remediation failed"))
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && received.withLock({ $0.isEmpty }) { Thread.sleep(forTimeInterval: 0.05) }
        #expect(received.withLock { $0.contains { $0.contains("\"phase\":\"failed\"") && $0.contains("build_cache") } })
    }

    @Test func anUnwritableAuditLogMeansTheActionNeverReachesDocker() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/system/df", .json(Self.systemDFWithBuildCache))
        fake.set("/build/prune", .json(#"{"CachesDeleted":[],"SpaceReclaimed":0}"#))
        let w = try WatchdogProcess(arguments: arguments(fake, ["--remediation.audit-log", "/proc/docker-watchdog-test/audit.jsonl"]))
        defer { w.stop() }
        try w.waitFor("a failed action", timeout: 30) {
            ($0.value("docker_watchdog_remediation_failures_total", ["policy": "disk", "action": "build_cache"]) ?? 0) >= 1
        }
        #expect(!fake.requests.contains { $0.path == "/build/prune" })
        let actions = String(decoding: try w.get("/api/v1/actions").body, as: UTF8.self)
        #expect(actions.contains("audit"), "\(actions)")
    }
}

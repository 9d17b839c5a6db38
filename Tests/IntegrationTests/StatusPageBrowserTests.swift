import Foundation
import Testing
import WatchdogTestSupport

/// The status page as a browser builds it: headless Chromium loads `/` from the watchdog and the
/// DOM it made is checked (the host, the unhealthy containers, the remediation plan).
@Suite(
    "Status page in Chromium",
    .enabled(if: TestBed.mainAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "needs dockerd and chromium"))
struct StatusPageBrowserTests {
    /// Chromium's DOM of `url`. Loopback only: every other request goes to a dead proxy, and
    /// Chromium's background networking is off.
    static func dom(_ url: String) throws -> String {
        let r = try runCommand(
            "/usr/bin/timeout",
            [
                "60", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps", "--proxy-server=127.0.0.1:9",
                "--user-data-dir=\(FileManager.default.temporaryDirectory.path)/wd-chromium-\(UUID().uuidString.prefix(8))", "--dump-dom", url,
            ])
        guard r.status == 0 else { throw TestBedMissing(description: "chromium exited \(r.status): \(r.error.suffix(500))") }
        return r.output
    }

    @Test func theDOMHoldsTheHostTheUnhealthyContainersAndThePlan() throws {
        let host = try TestBed.requireMain()
        let name = "wd-page-\(UUID().uuidString.prefix(8).lowercased())"
        let run = try runCommand(
            TestBed.dockerCLI,
            [
                "-H", host, "run", "-d", "--network", "none", "--name", name, "--health-cmd", "false", "--health-interval", "1s",
                "--health-retries", "1", "busybox:latest", "sleep", "600",
            ])
        #expect(run.status == 0, "\(run.error)")
        defer { _ = try? runCommand(TestBed.dockerCLI, ["-H", host, "rm", "-f", name]) }
        // A disk policy that always sees pressure, in a dry run: the plan has content, nothing is removed.
        let w = try WatchdogProcess(arguments: [
            "--docker.host", host, "--collector.containers.interval", "1s", "--remediation.interval", "1s",
            "--remediation.disk.enabled=true", "--remediation.dry-run=true", "--remediation.disk.act-below-ratio", "0.9999",
            "--remediation.disk.target-ratio", "0.99999", "--remediation.disk.act-below-bytes", "0",
        ])
        defer { w.stop() }
        try w.waitFor("the container unhealthy", timeout: 30) { s in
            s.contains { $0.name == "docker_container_health_status" && $0.labels["name"] == name && $0.value == 3 }
        }
        let dom = try Self.dom("http://127.0.0.1:\(w.port)/")
        #expect(dom.contains("<h1>docker-watchdog</h1>"))
        #expect(dom.contains("Server version") && dom.contains("Docker root"))
        let unhealthyRow = dom.components(separatedBy: "<th>Unhealthy</th>").dropFirst().first?.components(separatedBy: "</tr>").first ?? ""
        #expect(unhealthyRow.contains(name), "unhealthy row: \(unhealthyRow)")
        #expect(dom.contains("<h2>Remediation</h2>") && dom.contains("on, dry run") && dom.contains("<li>needed: "), "\(dom.suffix(3000))")
        #expect(dom.contains("href=\"api/v1/plan\"") && dom.contains("href=\"api/v1/actions\""))
    }
}

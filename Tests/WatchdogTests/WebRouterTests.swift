import CurlTransport
import Exposition
import Foundation
import Logging
import MicroHTTPServer
import Testing
import WatchdogTestSupport
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import Locking
@testable import ResponseBodies

/// The HTTP surface over a real libmicrohttpd server on loopback, port 0.
@Suite("HTTP surface")
struct WebRouterTests {
    final class Fixture {
        let store = MetricsStore(apiStats: nil)
        let server: HTTPServer
        let session: CurlSession
        init(alive: Bool = true) throws {
            store.publish(
                CollectorStatus(
                    name: "daemon", families: [MetricCatalog.daemonUp.family(value: 1)], success: true, error: nil,
                    duration: .milliseconds(3), lastSuccess: Date(), lastRound: Date(), runs: 1, failures: 0))
            let router = WebRouter(telemetryPath: "/metrics", store: store, host: HostStatus(), liveness: { [("daemon", alive)] })
            server = try HTTPServer(listen: .tcp(host: "127.0.0.1", port: 0), handler: { router.handle($0) })
            session = CurlSession(endpoint: .tcp(host: "127.0.0.1", port: server.port!))
        }
        func get(_ target: String, method: String = "GET", headers: [(String, String)] = []) throws -> TransportResponse {
            try session.perform(TransportRequest(method: method, target: target, headers: headers, connectTimeout: .seconds(1), totalTimeout: .seconds(5)))
        }
        deinit { server.stop() }
    }

    @Test func metricsDefaultsToText004() throws {
        let f = try Fixture()
        let r = try f.get("/metrics")
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let samples = try parseExposition(String(decoding: r.body, as: UTF8.self))
        #expect(samples.value("docker_daemon_up") == 1)
        #expect(samples.value("docker_watchdog_collector_success", ["collector": "daemon"]) == 1)
    }

    @Test func metricsServesOpenMetricsWhenAsked() throws {
        let f = try Fixture()
        let r = try f.get("/metrics", headers: [("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")])
        #expect(r.headers["content-type"]?.hasPrefix("application/openmetrics-text; version=1.0.0") == true)
        #expect(String(decoding: r.body, as: UTF8.self).hasSuffix("# EOF\n"))
    }

    @Test func metricsAreGzippedWhenAccepted() throws {
        let f = try Fixture()
        let r = try f.get("/metrics", headers: [("Accept-Encoding", "gzip")])
        #expect(r.headers["content-encoding"] == "gzip")
        #expect(Array(r.body.prefix(2)) == [0x1f, 0x8b])
        let plain = try f.get("/metrics", headers: [("Accept-Encoding", "gzip;q=0, identity")])
        #expect(plain.headers["content-encoding"] == nil)
        #expect(plain.body.count > r.body.count)
    }

    @Test func onlyGetAndHead() throws {
        let f = try Fixture()
        #expect(try f.get("/metrics", method: "POST").status == 405)
        #expect(try f.get("/metrics", method: "DELETE").status == 405)
        #expect(try f.get("/metrics", method: "POST").headers["allow"] == "GET, HEAD")
        let head = try f.get("/metrics", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(try f.get("/nope").status == 404)
    }

    @Test func landingPageAndHealth() throws {
        let f = try Fixture()
        let page = try f.get("/")
        #expect(page.status == 200)
        let html = String(decoding: page.body, as: UTF8.self)
        // Relative links: behind a reverse proxy's route prefix they still reach the watchdog.
        #expect(html.contains("docker-watchdog") && html.contains("href=\"metrics\"") && html.contains("href=\"api/v1/plan\""))
        #expect(!html.contains("href=\"/"), "an absolute link")
        #expect(try f.get("/healthz").status == 200)
        let stalled = try Fixture(alive: false)
        let health = try stalled.get("/healthz")
        #expect(health.status == 503)
        #expect(String(decoding: health.body, as: UTF8.self).contains("daemon"))
    }

    @Test func landingPageShowsRemediationPlansAndRecentActions() {
        let record = AuditRecord(
            time: Date(timeIntervalSince1970: 1_900_000_000), actionID: "1", policy: "disk", action: "unused_images", phase: "finished",
            dryRun: false, reason: "below target", targets: ["app:<1>"], removed: [], bytesReclaimed: 2_000_000, error: nil)
        let html = LandingPage.render(
            telemetryPath: "/metrics", host: HostStatus(), statuses: [:], liveness: [],
            plan: [
                .init(policy: "disk", enabled: true, dryRun: true, suppressed: "cool-down until later", plan: ["unused_images: app:1 ~5 bytes"]),
                .init(policy: "daemon", enabled: false, dryRun: false, suppressed: nil, plan: ["not evaluated yet"]),
            ],
            actions: [record])
        #expect(html.contains("<h2>Remediation</h2>"))
        #expect(html.contains("on, dry run — holding back: cool-down until later"))
        #expect(html.contains("<li>unused_images: app:1 ~5 bytes</li>"))
        #expect(html.contains("<th>daemon</th><td>off<ul></ul>"))
        #expect(html.contains("app:&lt;1&gt;") && html.contains("<td>finished ("), "\(html)")
    }

    @Test func gzipNegotiation() {
        #expect(WebRouter.acceptsGzip("gzip, deflate"))
        #expect(WebRouter.acceptsGzip("br;q=1.0, gzip;q=0.8"))
        #expect(!WebRouter.acceptsGzip("gzip;q=0"))
        #expect(!WebRouter.acceptsGzip(nil))
        #expect(!WebRouter.acceptsGzip("identity"))
    }
}

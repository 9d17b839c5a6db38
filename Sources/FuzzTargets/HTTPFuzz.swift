import Exposition
import Foundation
import MicroHTTPServer
@testable import Sampling  // CollectorStatus.init is internal; debug builds (the only ones fuzzed) enable testing
import Web
import Collectors
import WatchdogTestSupport

/// The HTTP surface, twice per input:
///
/// 1. The input read as a request (request line, headers up to a blank line, body) and handed to
///    `WebRouter.handle` directly, which exercises routing, query and header handling and the
///    `Accept`/`Accept-Encoding` negotiation with the fuzzer's coverage guidance.
/// 2. The raw bytes written to a real libmicrohttpd server on loopback, then half-closed.
///    libmicrohttpd is Debian's uninstrumented build, so this half is plain mutation testing of
///    what reaches the socket.
///
/// Properties: no trap; read-only (anything but GET/HEAD is 405 with `Allow`); `/metrics` always
/// answers 200 in one of the two exposition formats, gzip only when offered; the server answers
/// or closes a half-closed connection within 3 s; and every 32 inputs a clean scrape still gets
/// its 200 within 1 s.
public enum HTTPFuzz: FuzzTarget {
    public static let name = "http"

    public static func run(_ input: [UInt8]) throws(PropertyViolation) {
        let fixture = Fixture.shared
        if let request = parseRequest(input) {
            try check(fixture.router.handle(request), for: request)
        }
        _ = ExpositionFormat.negotiate(accept: String(decoding: input, as: UTF8.self))

        guard let connection = try? RawConnection(port: fixture.port) else {
            throw PropertyViolation("the server refused a connection")
        }
        connection.send(input)
        connection.shutdownWrite()
        // A keep-alive connection that got its answer may stay open after the half-close until the
        // server's idle timeout; once a complete response is in, 20 ms of silence ends the wait.
        var received = connection.read(timeout: .seconds(3), stop: isCompleteResponse)
        while !received.closed, isCompleteResponse(received.bytes) {
            let more = connection.read(timeout: .milliseconds(20))
            received.bytes += more.bytes
            received.closed = more.closed
            if more.bytes.isEmpty { break }
        }
        connection.close()
        guard received.closed || isCompleteResponse(received.bytes) else {
            throw PropertyViolation("a half-closed connection was neither answered nor closed within 3 s")
        }
        if let status = received.status, !(100..<600).contains(status) {
            throw PropertyViolation("status \(status) out of range")
        }
        if fixture.count() % 32 == 0 {
            try fixture.scrapeStillWorks()
        }
    }

    /// Reads the input as an HTTP/1.x request; nil when there is no request line.
    static func parseRequest(_ input: [UInt8]) -> HTTPRequest? {
        let text = String(decoding: input, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }[...]
        guard let requestLine = lines.popFirst() else { return nil }
        let words = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 2 else { return nil }
        let target = words[1]
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if pathPart.count == 2 {
            for pair in pathPart[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                query[key] = kv.count == 2 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        var headers: [String: String] = [:]
        while let line = lines.popFirst(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Array(lines.joined(separator: "\n").utf8)
        let path = String(pathPart[0]).removingPercentEncoding ?? String(pathPart[0])
        return HTTPRequest(method: String(words[0]), path: path, query: query, headers: headers, body: body)
    }

    static func check(_ response: HTTPResponse, for request: HTTPRequest) throws(PropertyViolation) {
        guard (100..<600).contains(response.status) else { throw PropertyViolation("status \(response.status)") }
        guard request.method == "GET" || request.method == "HEAD" else {
            guard response.status == 405, response.headers.contains(where: { $0.0 == "Allow" }) else {
                throw PropertyViolation("\(request.method) answered \(response.status), not 405 with Allow")
            }
            return
        }
        guard request.path == "/metrics" else { return }
        guard response.status == 200 else { throw PropertyViolation("/metrics answered \(response.status)") }
        let contentType = response.headers.first { $0.0 == "Content-Type" }?.1
        guard contentType == ExpositionFormat.textContentType || contentType == ExpositionFormat.openMetricsContentType else {
            throw PropertyViolation("/metrics content type \(contentType ?? "none")")
        }
        if response.headers.contains(where: { $0 == ("Content-Encoding", "gzip") }) {
            guard let offered = request.headers["accept-encoding"], offered.lowercased().contains("gzip") || offered.contains("*") else {
                throw PropertyViolation("gzip sent without being offered")
            }
        }
    }

    /// One server and router for the whole run (starting a server per input would measure only that).
    final class Fixture: Sendable {
        static let shared = Fixture()

        let router: WebRouter
        let server: HTTPServer
        let port: Int
        private let counter = Counter()

        init() {
            let store = MetricsStore(apiStats: nil)
            store.publish(
                CollectorStatus(
                    name: "daemon", families: [MetricCatalog.daemonUp.family(value: 1)], success: true, error: nil,
                    duration: .milliseconds(3), lastSuccess: Date(), lastRound: Date(), runs: 1, failures: 0))
            let router = WebRouter(telemetryPath: "/metrics", store: store, host: HostStatus(), liveness: { [("daemon", true)] })
            self.router = router
            do {
                server = try HTTPServer(
                    listen: .tcp(host: "127.0.0.1", port: 0),
                    options: HTTPServerOptions(connectionTimeoutSeconds: 2, maxRequestBodyBytes: 64 << 10),
                    handler: { router.handle($0) })
            } catch {
                fatalError("fuzz-http: cannot start the server: \(error)")
            }
            port = server.port!
        }

        func count() -> Int { counter.next() }

        func scrapeStillWorks() throws(PropertyViolation) {
            guard let connection = try? RawConnection(port: port) else {
                throw PropertyViolation("a clean scrape could not connect")
            }
            defer { connection.close() }
            connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let received = connection.read(timeout: .seconds(1))
            guard received.status == 200, received.text.contains("docker_daemon_up 1") else {
                throw PropertyViolation("a clean scrape after fuzz input did not get its 200 within 1 s: \(received.text.prefix(200))")
            }
        }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.withLock {
                value += 1
                return value
            }
        }
    }
}

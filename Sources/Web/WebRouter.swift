import Exposition
import FoundationEssentials
import TextFormatting
import MicroHTTPServer
import Remediation
import Containers
import Sampling

/// The watchdog's HTTP surface: `/metrics` (or the configured path), `/`, `/healthz`.
///
/// Read-only and never waits on Docker: every answer is built from the latest published sample.
public struct WebRouter: Sendable {
    public let telemetryPath: String
    let store: MetricsStore
    let host: HostStatus
    let tracker: ContainerTracker?
    let remediation: RemediationEngine?
    let liveness: @Sendable () -> [(name: String, alive: Bool)]
    /// TLS client certificates and basic auth; nil: every request is let in.
    let gate: WebSecurity?

    /// - Parameter gate: checked before every endpoint, `/healthz` included, as in the
    ///   exporter-toolkit; a refused request is counted (`docker_watchdog_http_unauthorized_requests`).
    public init(
        telemetryPath: String, store: MetricsStore, host: HostStatus, tracker: ContainerTracker? = nil,
        remediation: RemediationEngine? = nil, gate: WebSecurity? = nil,
        liveness: @escaping @Sendable () -> [(name: String, alive: Bool)]
    ) {
        self.gate = gate
        self.remediation = remediation
        self.telemetryPath = telemetryPath
        self.store = store
        self.host = host
        self.tracker = tracker
        self.liveness = liveness
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = gate?.check(request) {
            store.countUnauthorized()
            return refusal
        }
        return route(request)
    }

    private func route(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPResponse(
                status: 405, headers: [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
                body: .bytes(Array("method \(request.method) not allowed: this endpoint is read-only\n".utf8)))
        }
        switch request.path {
        case telemetryPath:
            return metrics(request)
        case "/":
            let page = LandingPage.render(
                telemetryPath: telemetryPath, host: host, statuses: store.statuses, liveness: liveness(),
                containers: tracker?.containers ?? [], history: Array((tracker?.history ?? []).suffix(10)),
                plan: remediation?.currentPlan ?? [], actions: remediation?.ledger.recent ?? [])
            return .text(200, page, contentType: "text/html; charset=utf-8")
        case "/api/v1/history":
            return history()
        case "/api/v1/actions":
            return json(remediation?.ledger.recent ?? [AuditRecord]())
        case "/api/v1/plan":
            return json(remediation?.currentPlan ?? [RemediationEngine.PlanEntry]())
        case "/healthz":
            let stuck = liveness().filter { !$0.alive }.map(\.name)
            if stuck.isEmpty { return .text(200, "ok\n") }
            return .text(503, "sampling loop stalled: \(stuck.joined(separator: ", "))\n")
        default:
            return .text(404, "not found: \(request.path)\n")
        }
    }

    /// The health-transition ring buffer as JSON, oldest first.
    func history() -> HTTPResponse {
        struct Body: Encodable {
            let enabled: Bool
            let capacity: Int
            let transitions: [HealthTransition]
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let body = Body(enabled: tracker != nil, capacity: tracker?.historySize ?? 0, transitions: tracker?.history ?? [])
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(Array(data)))
    }

    func json<T: Encodable>(_ value: T) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(Array(data)))
    }

    func metrics(_ request: HTTPRequest) -> HTTPResponse {
        let format = ExpositionFormat.negotiate(accept: request.headers["accept"])
        let gzip = Self.acceptsGzip(request.headers["accept-encoding"])
        let rendered = store.render(format: format, gzip: gzip)
        var headers = [("Content-Type", rendered.contentType), ("Vary", "Accept, Accept-Encoding")]
        if rendered.gzipped { headers.append(("Content-Encoding", "gzip")) }
        return HTTPResponse(status: 200, headers: headers, body: .segments(rendered.segments))
    }

    /// True when `Accept-Encoding` lists gzip (or `*`) without `q=0`.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingWhitespace().lowercased() }
            guard let coding = pieces.first, coding == "gzip" || coding == "*" else { continue }
            let q = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if q > 0 { return true }
        }
        return false
    }
}

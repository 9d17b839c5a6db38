import CurlTransport
import Dispatch
import FoundationEssentials
import Logging
import Locking
import Sampling

/// Posts every action record as JSON to a URL, off the remediation thread.
///
/// A dead or slow receiver must never delay healing: posts run on a queue of their own with a
/// short deadline, at most `maxPending` wait (older ones are dropped and counted in the log), and a
/// failure is logged, never retried.
public final class Webhook: Sendable {
    public let url: String
    private let endpoint: TransportEndpoint
    private let target: String
    private let timeout: Duration
    private let logger: Logger
    private let queue = DispatchQueue(label: "docker-watchdog.webhook")
    private let pending = Mutex(0)
    private let maxPending = 100

    /// Accepts `http://host:port/path`; nil for anything else (TLS receivers need a local relay).
    public init?(url: String, timeout: Duration = .seconds(5), logger: Logger) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let hostPort = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(hostPort.count)
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else { return nil }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.url = url
        self.endpoint = .tcp(host: host, port: port)
        self.target = path.isEmpty ? "/" : String(path)
        self.timeout = timeout
        self.logger = logger
    }

    public func post(_ record: AuditRecord) {
        let accepted = pending.withLock { n -> Bool in
            guard n < maxPending else { return false }
            n += 1
            return true
        }
        guard accepted else {
            logger.warning("webhook backlog full; dropping an action notification", metadata: ["url": "\(url)"])
            return
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(record)).map { Array($0) } ?? []
        queue.async { [self] in
            defer { pending.withLock { $0 -= 1 } }
            let session = CurlSession(endpoint: endpoint)
            do {
                let response = try session.perform(
                    TransportRequest(
                        method: "POST", target: target, headers: [("Content-Type", "application/json")], body: body,
                        connectTimeout: timeout, totalTimeout: timeout, maxBodyBytes: 1 << 20))
                if !(200..<300).contains(response.status) {
                    logger.warning("webhook answered an error", metadata: ["url": "\(url)", "status": "\(response.status)"])
                }
            } catch {
                logger.warning("webhook failed", metadata: ["url": "\(url)", "error": "\(error)"])
            }
        }
    }
}

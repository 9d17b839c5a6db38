import FoundationEssentials
import Locking
import Logging
import Sampling

/// What the HTTP server (libmicrohttpd) reports about connections it could not serve: failed TLS
/// handshakes (plain HTTP to the TLS port, a TLS version below the minimum, a missing client
/// certificate), malformed requests it answered with 400 and closed, and whatever else it reports.
///
/// Every message is counted (`docker_watchdog_http_server_errors_total`), but at most one line per
/// `interval` reaches the log, with the number of messages left out since: a client can cause one
/// per connection, and printing each, as libmicrohttpd does by itself, let anyone who can connect
/// flood the journal.
public final class ServerMessages: Sendable {
    private struct State {
        var lastLogged: ContinuousClock.Instant?
        var leftOut = 0
    }

    private let state = Mutex(State())
    private let interval: Duration
    private let logger: Logger
    private let count: @Sendable () -> Void
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(
        logger: Logger, interval: Duration = .seconds(10), count: @escaping @Sendable () -> Void,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.logger = logger
        self.interval = interval
        self.count = count
        self.now = now
    }

    /// One message from the server; called on its threads, so it only takes a lock and queues a log line.
    public func receive(_ text: String) {
        count()
        let at = now()
        let leftOut: Int? = state.withLock { s in
            if let last = s.lastLogged, at - last < interval {
                s.leftOut += 1
                return nil
            }
            defer { s.leftOut = 0 }
            s.lastLogged = at
            return s.leftOut
        }
        guard let leftOut else { return }
        var metadata: Logger.Metadata = ["message": "\(text)"]
        if leftOut > 0 { metadata["left_out"] = "\(leftOut)" }
        logger.warning("http server could not serve a connection", metadata: metadata)
    }
}

import CurlTransport
import FoundationEssentials
import TextFormatting
import Locking

/// Why a Docker Engine API call failed.
public enum DockerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing answers at the endpoint (no socket, refused, permission denied).
    case unreachable(String)
    /// A connect or total deadline passed; a hung daemon ends here.
    case timedOut(String)
    /// The daemon answered with an error status; `message` is Docker's own error text.
    case http(status: Int, message: String, path: String)
    /// The answer was not what the API promises (bad or truncated JSON, wrong shape).
    case undecodable(path: String, reason: String)
    /// The exchange broke off (connection reset, truncated body, oversized answer).
    case transfer(String)
    /// The client refused to send it (read-only mode).
    case refused(String)

    /// A short, bounded name for metric labels and logs.
    public var kind: String {
        switch self {
        case .unreachable: return "unreachable"
        case .timedOut: return "timeout"
        case .http: return "http"
        case .undecodable: return "decode"
        case .transfer: return "transfer"
        case .refused: return "refused"
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let s): return "docker unreachable: \(s)"
        case .timedOut(let s): return "docker timed out: \(s)"
        case .http(let status, let message, let path): return "docker answered \(status) for \(path): \(message)"
        case .undecodable(let path, let reason): return "undecodable answer from docker for \(path): \(reason)"
        case .transfer(let s): return "docker transfer failed: \(s)"
        case .refused(let s): return "refused: \(s)"
        }
    }
}

/// Counts API requests and failures per endpoint, shared by every client of one watchdog.
///
/// The watchdog exports these, so a user can see how hard it works the daemon and how often the
/// daemon gives bad answers.
public final class DockerRequestStats: Sendable {
    public struct Counts: Sendable, Equatable {
        public var requests: [String: UInt64] = [:]
        /// Keyed by endpoint, then error kind.
        public var failures: [String: [String: UInt64]] = [:]
        public init() {}
    }

    private let counts = Mutex(Counts())

    public init() {}

    func record(endpoint: String, error: DockerError?) {
        counts.withLock { c in
            c.requests[endpoint, default: 0] += 1
            if let error { c.failures[endpoint, default: [:]][error.kind, default: 0] += 1 }
        }
    }

    public func snapshot() -> Counts { counts.withLock { $0 } }

    func recordDecodeFailure(path: String, error: DockerError) {
        record(endpoint: "\(path.dropFirst()).decode", error: error)
    }
}

/// The API version to put in request paths, negotiated once and shared between clients.
///
/// Negotiation is single-flight: the sampling threads that start together wait for one `/version`
/// answer instead of each asking (start-up talks to the daemon once), and that answer is kept for
/// the daemon collector, which would otherwise ask again in the same second.
public final class APIVersionCache: Sendable {
    private struct Value {
        var version: APIVersion?
        var answer: (version: DockerVersion, at: ContinuousClock.Instant)?
    }
    private let value = Mutex(Value())
    /// Held while one `/version` request is in flight; the others wait on it.
    private let negotiation = Mutex(())
    public init() {}
    public var current: APIVersion? { value.withLock { $0.version } }
    func set(_ version: APIVersion) { value.withLock { $0.version = version } }
    /// Forget the negotiated version, e.g. after the daemon came back from an outage (it may have
    /// been upgraded).
    public func invalidate() { value.withLock { $0 = Value() } }

    /// The last `/version` answer if it is at most `maxAge` old.
    func answer(maxAge: Duration) -> DockerVersion? {
        value.withLock { v in v.answer.flatMap { ContinuousClock.now - $0.at <= maxAge ? $0.version : nil } }
    }

    func remember(_ answer: DockerVersion, negotiated: APIVersion?) {
        value.withLock { v in
            v.answer = (answer, .now)
            if let negotiated { v.version = negotiated }
        }
    }

    /// Runs `body` alone: one `/version` request at a time across every client sharing this cache.
    func singleFlight<T>(_ body: () throws(DockerError) -> T) throws(DockerError) -> T {
        let result: Result<T, DockerError> = negotiation.withLock { _ in
            do throws(DockerError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// Answer of `GET /_ping`.
public struct PingResult: Sendable {
    /// The `Api-Version` header, when the daemon sent one.
    public var apiVersion: String?
    public var duration: Duration
}

/// A client of the Docker Engine API over libcurl.
///
/// Every call blocks its thread until the answer or a deadline: run it on a thread of your own,
/// never on Swift's cooperative pool. Calls on one client are serialised; give each sampling
/// thread its own client (they share `versionCache` and `stats`).
public final class DockerClient: Sendable {
    /// The newest API version this code knows the answers of.
    public static let newestKnownVersion = APIVersion("1.52")!

    public let endpoint: TransportEndpoint
    public let connectTimeout: Duration
    public let requestTimeout: Duration
    public let pinnedVersion: APIVersion?
    /// When true every request that could change the host (any method but GET and HEAD) is refused.
    public let readOnly: Bool
    public let versionCache: APIVersionCache
    public let stats: DockerRequestStats
    /// TLS to a tcp:// daemon (`docker.tls_verify`); nil: plain HTTP or a unix socket.
    public let tls: TransportTLS?
    private let session: CurlSession

    public init(
        endpoint: TransportEndpoint, connectTimeout: Duration = .seconds(2), requestTimeout: Duration = .seconds(10),
        pinnedVersion: APIVersion? = nil, readOnly: Bool = false, versionCache: APIVersionCache = APIVersionCache(),
        stats: DockerRequestStats = DockerRequestStats(), tls: TransportTLS? = nil
    ) {
        self.tls = tls
        self.readOnly = readOnly
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.pinnedVersion = pinnedVersion
        self.versionCache = versionCache
        self.stats = stats
        self.session = CurlSession(endpoint: endpoint, tls: tls)
    }

    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port` (Docker's `DOCKER_HOST` forms).
    public static func parseEndpoint(_ text: String) -> TransportEndpoint? {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            return path.hasPrefix("/") ? .unixSocket(path: path) : nil
        }
        for scheme in ["tcp://", "http://"] where text.hasPrefix(scheme) {
            var rest = String(text.dropFirst(scheme.count))
            if rest.hasSuffix("/") { rest.removeLast() }
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                (1...65535).contains(port)
            else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return host.isEmpty ? nil : .tcp(host: host, port: port)
        }
        return nil
    }

    // MARK: - Endpoints

    /// `GET /_ping`: the cheap liveness probe. Unversioned, so it works before negotiation.
    public func ping(timeout: Duration? = nil) throws(DockerError) -> PingResult {
        let start = ContinuousClock.now
        let response = try exchange("ping", target: "/_ping", timeout: timeout)
        return PingResult(apiVersion: response.headers["api-version"], duration: ContinuousClock.now - start)
    }

    /// `GET /version`, unversioned. With `maxAge`, an answer this process received at most that
    /// long ago (by any client sharing `versionCache`) is returned without asking again.
    public func version(timeout: Duration? = nil, maxAge: Duration? = nil) throws(DockerError) -> DockerVersion {
        try versionCache.singleFlight { () throws(DockerError) -> DockerVersion in
            if let maxAge, let recent = versionCache.answer(maxAge: maxAge) { return recent }
            let answer = try decode(DockerVersion.self, path: "/version", body: exchange("version", target: "/version", timeout: timeout).body)
            // Every answer negotiates: the cache holds the version for request paths from now on.
            versionCache.remember(answer, negotiated: APIVersion(answer.apiVersion).map { min($0, Self.newestKnownVersion) })
            return answer
        }
    }

    /// The API version for request paths: the pinned one, or the lower of the daemon's and
    /// `newestKnownVersion`, asked from `/version` once and cached. Threads that ask together wait
    /// for one answer.
    public func negotiatedVersion() throws(DockerError) -> APIVersion {
        if let pinnedVersion { return pinnedVersion }
        if let cached = versionCache.current { return cached }
        let daemon = try version(maxAge: .seconds(5))
        if let cached = versionCache.current { return cached }
        stats.record(endpoint: "version", error: .undecodable(path: "/version", reason: "ApiVersion"))
        throw .undecodable(path: "/version", reason: "ApiVersion \"\(daemon.apiVersion)\" is not a version")
    }

    /// `GET /info`.
    public func info(timeout: Duration? = nil) throws(DockerError) -> DockerInfo {
        let target = try versioned("/info")
        return try decode(DockerInfo.self, path: "/info", body: exchange("info", target: target, timeout: timeout).body)
    }

    /// `GET /system/df`, limited to `kinds` where the API has `?type=` (1.42+).
    ///
    /// - Parameter rules: how to summarise a legacy-shaped answer; see `rules(forServerVersion:)`.
    public func systemDiskUsage(
        kinds: [DiskUsageKind] = DiskUsageKind.allCases, rules: DiskUsageRules = .current, timeout: Duration? = nil
    ) throws(DockerError) -> SystemDiskUsage {
        let version = try negotiatedVersion()
        var target = "/v\(version)/system/df"
        let filtered = version >= APIVersion(major: 1, minor: 42)
        if filtered && !kinds.isEmpty {
            target += "?" + kinds.map { "type=\(Self.percentEncode($0.queryValue))" }.joined(separator: "&")
        }
        let body = try exchange("system_df", target: target, timeout: timeout).body
        do {
            return try SystemDiskUsage.decode(Data(body), rules: rules, requested: filtered ? Set(kinds) : nil)
        } catch {
            let failure = DockerError.undecodable(path: "/system/df", reason: "\(error)")
            stats.record(endpoint: "system_df.decode", error: failure)
            throw failure
        }
    }

    /// The summary rules of the `docker system df` that ships with a daemon of this version: CLIs up
    /// to 28.x computed image and volume reclaimable space differently from 29.x. Podman's version
    /// numbers are not Docker's: its answers are read with the current rules (the 20.10 rule,
    /// LayersSize minus the used images, goes negative on Podman 5, which counts shared layers once).
    public static func diskUsageRules(forServerVersion version: String?, engine: EngineKind? = nil) -> DiskUsageRules {
        if engine == .podman { return .current }
        guard let version, let major = Int(version.prefix { $0.isNumber }) else { return .current }
        return major >= 29 ? .current : .cli20_10
    }

    /// `GET /containers/json?all=1`, without sizes (computing them walks every layer).
    public func listContainers(timeout: Duration? = nil) throws(DockerError) -> [ContainerSummary] {
        var cache = ContainerListCache()
        return try listContainers(timeout: timeout, reusing: &cache)
    }

    /// `GET /containers/json?all=1`, reusing the entries of `cache` whose bytes did not change
    /// since the list that filled it (see ``ContainerListScanner``); refills `cache`.
    public func listContainers(timeout: Duration? = nil, reusing cache: inout ContainerListCache) throws(DockerError) -> [ContainerSummary] {
        // The last answer's bytes go back in for the new one to be compared with (and to land in):
        // a list that repeats the last one byte for byte is neither copied nor scanned.
        var (buffer, isLastDecoded) = cache.takeReceiveBuffer()
        let response = try exchange(
            "containers_list", target: try versioned("/containers/json") + "?all=1", timeout: timeout, receivingInto: &buffer,
            compareWithPrevious: isLastDecoded)
        do {
            let list = try ContainerListScanner.decode(
                response.body, cache: &cache, repeatsPreviousBytes: isLastDecoded && response.bodyUnchanged,
                equalPrefixLength: isLastDecoded ? response.equalPrefixLength : 0)
            cache.keepReceiveBuffer(response.body)
            return list
        } catch {
            let failure = DockerError.undecodable(path: "/containers/json", reason: "\(error)")
            stats.record(endpoint: "containers_list.decode", error: failure)
            throw failure
        }
    }

    /// `GET /containers/{id}/json`. Give it a short deadline: a stuck container blocks its inspect.
    public func inspectContainer(_ id: String, timeout: Duration? = nil) throws(DockerError) -> ContainerInspect {
        // 404: the container was removed since it was listed, an answer the tracker acts on.
        let body = try get("/containers/\(Self.percentEncode(id))/json", endpointName: "container_inspect", timeout: timeout, expected: [404])
        do {
            return try ContainerInspect.decode(Data(body))
        } catch {
            let failure = DockerError.undecodable(path: "/containers/{id}/json", reason: "\(error)")
            stats.record(endpoint: "container_inspect.decode", error: failure)
            throw failure
        }
    }

    /// Follows `GET /events` for container events with the given actions, from `since` (Unix
    /// seconds, fractional allowed) until the stream breaks or `shouldStop` returns true.
    ///
    /// Filtering happens on the daemon, so health-probe `exec_*` noise never reaches us. Lines that
    /// do not decode are handed to `onUndecodable` and skipped. Returns normally only when stopped;
    /// a broken stream throws.
    /// - Parameters:
    ///   - headersTimeout: the daemon must have answered (status and headers) within this; a
    ///     daemon that accepts and then says nothing fails the call as `.timedOut`.
    ///   - maxLineBytes: an event line longer than this is dropped (its bytes up to the next
    ///     newline) and reported to `onOversized`, so a line without end cannot grow memory or CPU.
    ///   - onConnected: called once the daemon has answered 2xx, before any event.
    public func followContainerEvents(
        actions: [String], since: Double?, headersTimeout: Duration? = nil, maxLineBytes: Int = 1 << 20,
        shouldStop: @escaping () -> Bool, onConnected: @escaping () -> Void = {},
        onEvent: @escaping (DockerEvent) -> Void, onUndecodable: @escaping (String) -> Void,
        onOversized: @escaping (Int) -> Void = { _ in }
    ) throws(DockerError) {
        let filters = "{\"type\":[\"container\"],\"event\":[" + actions.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        var query = [("filters", filters)]
        if let since { query.append(("since", fixedPoint(since, fractionDigits: 9))) }
        var target = try versioned("/events")
        target += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        var request = TransportRequest(
            target: target, headers: [("Accept", "application/json")], connectTimeout: connectTimeout,
            totalTimeout: nil, maxBodyBytes: Int.max)
        request.headersTimeout = headersTimeout
        // Bytes of the line being received; each byte is searched for a newline once.
        var pending: [UInt8] = []
        var scanned = 0
        // Dropping the rest of an oversized line, up to its newline.
        var discarding = false
        var discarded = 0
        let stats = self.stats
        func handle(_ line: ArraySlice<UInt8>) {
            if line.isEmpty { return }
            do {
                onEvent(try DockerEvent.decode(Data(line)))
            } catch {
                stats.record(endpoint: "events.decode", error: .undecodable(path: "/events", reason: "\(error)"))
                onUndecodable(String(decoding: line.prefix(200), as: UTF8.self))
            }
        }
        do {
            let response = try session.stream(
                request, shouldStop: shouldStop,
                onHeaders: { status in if (200..<300).contains(status) { onConnected() } }
            ) { chunk in
                pending.append(contentsOf: chunk)
                var start = 0
                while let newline = pending[scanned...].firstIndex(of: 0x0A) {
                    if discarding {
                        discarding = false
                        onOversized(discarded + newline - start)
                    } else {
                        handle(pending[start..<newline])
                    }
                    start = newline + 1
                    scanned = start
                }
                scanned = pending.count
                if start > 0 {
                    pending.removeSubrange(..<start)
                    scanned -= start
                }
                if pending.count > maxLineBytes {
                    if !discarding { discarded = 0 }
                    discarding = true
                    discarded += pending.count
                    pending.removeAll(keepingCapacity: false)
                    scanned = 0
                }
                return true
            }
            stats.record(endpoint: "events", error: nil)
            if !(200..<300).contains(response.status) {
                throw DockerError.http(status: response.status, message: Self.errorMessage(response.body), path: "/events")
            }
            if shouldStop() { return }
            throw DockerError.transfer("events stream ended")
        } catch let error as DockerError {
            throw error
        } catch {
            if shouldStop() { return }
            let mapped: DockerError
            switch error as? TransportError {
            case .unreachable(let s): mapped = .unreachable(s)
            case .timedOut(let s): mapped = .timedOut(s)
            default: mapped = .transfer("events stream: \(error)")
            }
            stats.record(endpoint: "events", error: mapped)
            throw mapped
        }
    }

    /// A raw versioned GET, for endpoints without a typed wrapper yet. `endpointName` labels the stats.
    /// - Parameter expected: HTTP statuses that are an answer, not a failure, for this call (still
    ///   thrown as `.http`, but not counted in `docker_watchdog_docker_api_errors_total`), e.g. 404
    ///   for an inspect of a container that was removed meanwhile.
    public func get(
        _ path: String, query: [(String, String)] = [], endpointName: String, timeout: Duration? = nil, expected: Set<Int> = []
    ) throws(DockerError) -> [UInt8] {
        var target = try versioned(path)
        if !query.isEmpty {
            target += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var buffer: [UInt8] = []
        return try exchange(endpointName, target: target, timeout: timeout, receivingInto: &buffer, expected: expected).body
    }

    /// A versioned request with any method (POST, DELETE): the only way this client changes the host.
    /// A read-only client (`readOnly`) refuses it before anything is sent.
    func send(_ method: String, _ path: String, query: [(String, String)], endpointName: String, timeout: Duration?) throws(DockerError) -> [UInt8] {
        if readOnly {
            let failure = DockerError.refused("\(method) \(path): the watchdog runs read-only")
            stats.record(endpoint: endpointName, error: failure)
            throw failure
        }
        var target = try versioned(path)
        if !query.isEmpty {
            target += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        return try exchange(endpointName, method: method, target: target, timeout: timeout).body
    }

    // MARK: - Plumbing

    private func versioned(_ path: String) throws(DockerError) -> String {
        "/v\(try negotiatedVersion())\(path)"
    }

    private func exchange(_ endpointName: String, method: String = "GET", target: String, timeout: Duration?) throws(DockerError) -> TransportResponse {
        var buffer: [UInt8] = []
        return try exchange(endpointName, method: method, target: target, timeout: timeout, receivingInto: &buffer)
    }

    private func exchange(
        _ endpointName: String, method: String = "GET", target: String, timeout: Duration?, receivingInto buffer: inout [UInt8],
        compareWithPrevious: Bool = false, expected: Set<Int> = []
    ) throws(DockerError) -> TransportResponse {
        var request = TransportRequest(
            method: method, target: target, headers: [("Accept", "application/json")],
            connectTimeout: connectTimeout, totalTimeout: timeout ?? requestTimeout)
        request.compareWithPrevious = compareWithPrevious
        // The compared answer is the container list, the one that runs to megabytes.
        if compareWithPrevious { request.receiveBufferSize = 256 << 10 }
        let response: TransportResponse
        do {
            response = try session.perform(request, receivingInto: &buffer)
        } catch {
            let mapped: DockerError
            switch error {
            case .unreachable(let s): mapped = .unreachable(s)
            case .timedOut(let s): mapped = .timedOut(s)
            case .bodyTooLarge, .cancelled, .transfer: mapped = .transfer("\(error)")
            }
            stats.record(endpoint: endpointName, error: mapped)
            throw mapped
        }
        guard (200..<300).contains(response.status) else {
            let failure = DockerError.http(status: response.status, message: Self.errorMessage(response.body), path: target)
            stats.record(endpoint: endpointName, error: expected.contains(response.status) ? nil : failure)
            throw failure
        }
        stats.record(endpoint: endpointName, error: nil)
        return response
    }

    private func decode<T: Decodable>(_ type: T.Type, path: String, body: [UInt8]) throws(DockerError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            let failure = DockerError.undecodable(path: path, reason: Self.describe(error))
            stats.record(endpoint: "\(path.dropFirst()).decode", error: failure)
            throw failure
        }
    }

    /// Docker's error bodies are `{"message": "..."}`; anything else is quoted, shortened.
    static func errorMessage(_ body: [UInt8]) -> String {
        struct Message: Decodable { let message: String }
        if let decoded = try? JSONDecoder().decode(Message.self, from: Data(body)) { return decoded.message }
        let text = String(String(decoding: body.prefix(200), as: UTF8.self).trimmingWhitespace())
        return text.isEmpty ? "(empty body)" : text
    }

    static func describe(_ error: Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "top level" : p
        }
        switch decoding {
        case .typeMismatch(_, let c): return "type mismatch at \(path(c)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "missing value at \(path(c)): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "missing key \(key.stringValue) at \(path(c))"
        case .dataCorrupted(let c): return "malformed JSON at \(path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Percent-encodes every UTF-8 byte but RFC 3986's unreserved characters (ASCII letters and
    /// digits, `-._~`), for path segments and query values.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

import CCurl
import CCurlShims
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Locking
import TextFormatting

/// Where an HTTP server lives: a unix socket or a TCP host and port.
public enum TransportEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unixSocket(let path): return "unix://\(path)"
        case .tcp(let host, let port): return "tcp://\(host):\(port)"
        }
    }
}

/// TLS to a TCP endpoint, as the docker CLI does it with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`:
/// the CA that signed the daemon's certificate, and the client's certificate and key.
public struct TransportTLS: Sendable, Equatable {
    public var caFile: String
    public var certFile: String
    public var keyFile: String
    /// Verify the daemon's certificate and host name (the CLI's `--tlsverify`).
    public var verifyPeer: Bool

    public init(caFile: String, certFile: String, keyFile: String, verifyPeer: Bool = true) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
    }
}

/// One HTTP request as the transport sends it.
public struct TransportRequest: Sendable {
    public var method: String
    /// Path plus query, already percent-encoded, e.g. `/v1.41/system/df?type=image`.
    public var target: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Deadline for establishing the connection.
    public var connectTimeout: Duration
    /// Deadline for the whole exchange. `nil` only for streams, which use `lowSpeedTimeout`.
    public var totalTimeout: Duration?
    /// A stream that delivers nothing for this long is cut.
    public var lowSpeedTimeout: Duration?
    /// Bodies larger than this are refused, so a broken or hostile server cannot exhaust memory.
    public var maxBodyBytes: Int
    /// With `perform(_:receivingInto:)`: treat the buffer's bytes as the previous answer and
    /// compare the new one with them as it arrives, writing into the buffer only from the first
    /// difference on (``TransportResponse/bodyUnchanged`` says whether there was one). An answer
    /// that repeats the previous one is then compared, not copied, and nothing has to hash it.
    public var compareWithPrevious = false
    /// libcurl's receive buffer for this request (its default is 16 KiB): a multi-megabyte
    /// answer read 16 KiB per `recv` and callback costs hundreds of calls more than it needs.
    public var receiveBufferSize: Int?
    /// Streams: the response's status line and headers must have arrived this long after the
    /// request started, or the exchange fails as timed out. A stream has no total deadline, and a
    /// daemon that accepts the connection but never answers would otherwise hold it for ever.
    /// Checked on libcurl's progress tick (about once a second).
    public var headersTimeout: Duration?

    public init(
        method: String = "GET", target: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        connectTimeout: Duration, totalTimeout: Duration?, lowSpeedTimeout: Duration? = nil,
        maxBodyBytes: Int = 256 << 20
    ) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.lowSpeedTimeout = lowSpeedTimeout
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The answer to a `TransportRequest`.
public struct TransportResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; the last value wins.
    public var headers: [String: String]
    public var body: [UInt8]
    /// True when the request compared with the previous answer and this one is byte for byte
    /// the same (same length, no byte different).
    public var bodyUnchanged = false
    /// When the request compared with the previous answer: how many bytes at the start of this
    /// one equal it (up to the first difference, or the shorter length). A reader that kept
    /// what it made of the previous answer can take over everything inside this prefix.
    public var equalPrefixLength = 0
}

/// Why an exchange failed, in the terms a caller acts on.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing accepted the connection (no socket, refused, permission denied, DNS failure).
    case unreachable(String)
    /// A connect or total deadline passed.
    case timedOut(String)
    /// The body grew past `maxBodyBytes`.
    case bodyTooLarge(limit: Int)
    /// The stream consumer asked to stop.
    case cancelled
    /// Any other transfer failure (connection reset, truncated body, protocol error).
    case transfer(String)

    public var description: String {
        switch self {
        case .unreachable(let s): return "unreachable: \(s)"
        case .timedOut(let s): return "timed out: \(s)"
        case .bodyTooLarge(let limit): return "response body larger than \(limit) bytes"
        case .cancelled: return "cancelled"
        case .transfer(let s): return "transfer failed: \(s)"
        }
    }
}

/// Initialises libcurl's global state exactly once, before any handle exists.
let curlGlobalInit: Void = {
    _ = curl_global_init(Int(CURL_GLOBAL_ALL))
}()

/// A blocking HTTP client over one reused libcurl easy handle.
///
/// Calls block the calling thread until the exchange ends or a deadline passes, so callers must
/// run them on their own threads, never on Swift's cooperative pool. One session serialises its
/// calls (a libcurl handle is not thread-safe); keep one session per thread that needs one.
/// Reusing the handle keeps the connection to the Docker socket alive between samples.
public final class CurlSession: @unchecked Sendable {
    public let endpoint: TransportEndpoint
    /// TLS for a `.tcp` endpoint; nil: plain HTTP.
    public let tls: TransportTLS?
    /// The easy handle; only touched while `lock` is held. (A `Mutex` cannot hand a non-Sendable
    /// response sink into its critical section under strict concurrency, hence the plain lock.)
    private let handle: UnsafeMutableRawPointer?
    private let lock = PlainLock()

    public init(endpoint: TransportEndpoint, tls: TransportTLS? = nil) {
        _ = curlGlobalInit
        self.endpoint = endpoint
        self.tls = tls
        self.handle = curl_easy_init()
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
    }

    /// Sends a request and collects the whole answer.
    public func perform(_ request: TransportRequest) throws(TransportError) -> TransportResponse {
        var fresh: [UInt8] = []
        return try perform(request, receivingInto: &fresh)
    }

    /// Sends a request and collects the answer into `buffer`'s storage (emptied first; its
    /// capacity is kept): a caller that fetches a large answer every round (the container list)
    /// hands the last body back in, so the next one lands in memory that is already mapped
    /// instead of faulting in fresh pages for every megabyte. The body is returned in the
    /// response; `buffer` is left empty.
    public func perform(_ request: TransportRequest, receivingInto buffer: inout [UInt8]) throws(TransportError) -> TransportResponse {
        let sink = ResponseSink(maxBodyBytes: request.maxBodyBytes, onData: nil)
        if request.compareWithPrevious {
            sink.previousLength = buffer.count
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
        swap(&sink.body, &buffer)
        try run(request, sink: sink)
        var body: [UInt8] = []
        swap(&body, &sink.body)
        var unchanged = false
        var equalPrefix = 0
        if let previous = sink.previousLength {
            if body.count > sink.received { body.removeSubrange(sink.received...) }  // a shorter answer
            unchanged = sink.equalSoFar && sink.received == previous
            equalPrefix = sink.equalSoFar ? min(sink.received, previous) : sink.equalPrefix
        }
        return TransportResponse(
            status: sink.status, headers: sink.headers, body: body, bodyUnchanged: unchanged, equalPrefixLength: equalPrefix)
    }

    /// Sends a request and hands the body to `onData` as it arrives, for streams such as
    /// `/events`. `onData` returns false to stop; `shouldStop` is polled about once a second even
    /// while the stream is idle, so a quiet stream can still be ended. Returns once the stream ends.
    ///
    /// - Parameter onHeaders: called once, with the status, when the response's headers are complete.
    public func stream(
        _ request: TransportRequest, shouldStop: @escaping () -> Bool = { false },
        onHeaders: ((Int) -> Void)? = nil, onData: @escaping (UnsafeRawBufferPointer) -> Bool
    ) throws(TransportError) -> TransportResponse {
        let sink = ResponseSink(maxBodyBytes: request.maxBodyBytes, onData: onData)
        sink.shouldStop = shouldStop
        sink.onHeaders = onHeaders
        if let limit = request.headersTimeout { sink.headersDeadline = .now + limit }
        try run(request, sink: sink)
        return TransportResponse(status: sink.status, headers: sink.headers, body: sink.body)
    }

    private func run(_ request: TransportRequest, sink: ResponseSink) throws(TransportError) {
        guard let curl = handle else { throw .transfer("could not create a libcurl handle") }
        lock.lock()
        defer { lock.unlock() }
        try Self.execute(curl, endpoint: endpoint, tls: tls, request: request, sink: sink).get()
    }

    private static func execute(
        _ curl: UnsafeMutableRawPointer, endpoint: TransportEndpoint, tls: TransportTLS?, request: TransportRequest, sink: ResponseSink
    ) -> Result<Void, TransportError> {
        curl_easy_reset(curl)
        setTarget(curl, endpoint: endpoint, tls: tls, target: request.target)
        _ = cwd_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        if let size = request.receiveBufferSize { _ = cwd_curl_setopt_long(curl, CURLOPT_BUFFERSIZE, size) }
        _ = cwd_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
        if let total = request.totalTimeout {
            _ = cwd_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, milliseconds(total))
        }
        if let lowSpeed = request.lowSpeedTimeout {
            _ = cwd_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = cwd_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, milliseconds(lowSpeed) / 1000))
        }
        _ = request.method.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_CUSTOMREQUEST, $0) }
        if request.method == "HEAD" {
            _ = cwd_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in request.headers {
            headerList = "\(name): \(value)".withCString { curl_slist_append(headerList, $0) }
        }
        // An empty Expect stops curl from waiting a second for "100 Continue" on POST bodies.
        headerList = "Expect:".withCString { curl_slist_append(headerList, $0) }
        defer { curl_slist_free_all(headerList) }
        _ = cwd_curl_setopt_pointer(curl, CURLOPT_HTTPHEADER, headerList)

        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        _ = cwd_curl_setopt_write_function(curl, curlWriteCallback, context.toOpaque())
        _ = cwd_curl_setopt_header_function(curl, curlHeaderCallback, context.toOpaque())
        if sink.shouldStop != nil || sink.headersDeadline != nil {
            _ = cwd_curl_setopt_progress_function(curl, curlProgressCallback, context.toOpaque())
        }

        let code: CURLcode
        if let body = request.body {
            code = body.withUnsafeBytes { raw -> CURLcode in
                _ = cwd_curl_setopt_off_t(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(raw.count))
                _ = cwd_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                return curl_easy_perform(curl)
            }
        } else {
            code = curl_easy_perform(curl)
        }

        var status = 0
        _ = cwd_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        sink.status = status
        if code == CURLE_OK { return .success(()) }
        if sink.overflowed { return .failure(.bodyTooLarge(limit: sink.maxBodyBytes)) }
        if sink.headersLate, let limit = request.headersTimeout {
            return .failure(.timedOut("\(endpoint): no response headers within \(limit)"))
        }
        if sink.stopped { return .failure(.cancelled) }
        let message = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT:
            // libcurl's own text ("Couldn't connect to server") hides why: a socket the watchdog may
            // not open (EACCES) needs a different fix than a daemon that is not there (ENOENT,
            // ECONNREFUSED), so the connect's errno is named too.
            var osErrno = 0
            _ = cwd_curl_getinfo_long(curl, CURLINFO_OS_ERRNO, &osErrno)
            let reason = osErrno > 0 ? " (\(String(cString: strerror(Int32(osErrno)))))" : ""
            return .failure(.unreachable("\(endpoint): \(message)\(reason)"))
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .failure(.unreachable("\(endpoint): \(message)"))
        case CURLE_OPERATION_TIMEDOUT:
            return .failure(.timedOut("\(request.method) \(request.target) on \(endpoint): \(message)"))
        default:
            return .failure(.transfer("\(request.method) \(request.target) on \(endpoint): \(message)"))
        }
    }

    /// Points `curl` at `target` on `endpoint`: the URL (a unix socket's requests go to
    /// `http://docker`), the socket path, the only scheme it may speak, no redirects, and the
    /// client certificate and CA of `tls`. Shared by plain requests and upgraded connections, so
    /// both reach the daemon the same way.
    static func setTarget(_ curl: UnsafeMutableRawPointer, endpoint: TransportEndpoint, tls: TransportTLS?, target: String) {
        let scheme = tls == nil ? "http" : "https"
        let url: String
        switch endpoint {
        case .unixSocket(let path):
            url = "http://docker\(target)"
            _ = path.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_UNIX_SOCKET_PATH, $0) }
        case .tcp(let host, let port):
            let bracketed = host.contains(":") ? "[\(host)]" : host
            url = "\(scheme)://\(bracketed):\(port)\(target)"
        }
        _ = url.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_URL, $0) }
        // Docker answers plain HTTP (or HTTPS with TLS); never follow redirects or talk to anything else.
        _ = cwd_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = scheme.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_PROTOCOLS_STR, $0) }
        if let tls {
            _ = tls.caFile.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_CAINFO, $0) }
            _ = tls.certFile.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_SSLCERT, $0) }
            _ = tls.keyFile.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_SSLKEY, $0) }
            _ = cwd_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, tls.verifyPeer ? 1 : 0)
            _ = cwd_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, tls.verifyPeer ? 2 : 0)
        }
    }

    /// `d` in whole milliseconds, at least 1 (libcurl reads 0 as "no limit").
    static func milliseconds(_ d: Duration) -> Int {
        let (seconds, attoseconds) = d.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// Collects status, headers and body for one exchange; libcurl calls into it on the calling thread.
private final class ResponseSink {
    let maxBodyBytes: Int
    let onData: ((UnsafeRawBufferPointer) -> Bool)?
    var status = 0
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var overflowed = false
    var stopped = false
    /// When comparing with the previous answer (which `body` holds at first): its length, how
    /// many bytes of the new one arrived, and whether all of them matched so far.
    var previousLength: Int?
    var received = 0
    var equalSoFar = true
    /// Once `equalSoFar` is false: the offset of the first byte that differs.
    var equalPrefix = 0
    var shouldStop: (() -> Bool)?
    /// Streams: when the headers must be complete by, whether they are, and who to tell.
    var headersDeadline: ContinuousClock.Instant?
    var headersComplete = false
    var headersLate = false
    var onHeaders: ((Int) -> Void)?

    init(maxBodyBytes: Int, onData: ((UnsafeRawBufferPointer) -> Bool)?) {
        self.maxBodyBytes = maxBodyBytes
        self.onData = onData
    }
}

private func curlWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return length }
    let buffer = UnsafeRawBufferPointer(start: data, count: length)
    if let onData = sink.onData {
        if !onData(buffer) {
            sink.stopped = true
            return 0
        }
        return length
    }
    if let previous = sink.previousLength {
        return receiveComparing(buffer, previous: previous, into: sink)
    }
    if sink.body.count + length > sink.maxBodyBytes {
        sink.overflowed = true
        return 0
    }
    sink.body.append(contentsOf: buffer)
    return length
}

/// Takes a piece of an answer that is compared with the previous one in `sink.body`: while the
/// bytes match, nothing is written; from the first difference on, the new bytes overwrite the
/// old ones in place (the matching prefix is already there) and the rest is appended.
private func receiveComparing(_ piece: UnsafeRawBufferPointer, previous: Int, into sink: ResponseSink) -> Int {
    let length = piece.count
    let at = sink.received
    if at + length > sink.maxBodyBytes {
        sink.overflowed = true
        return 0
    }
    if sink.equalSoFar {
        let comparable = max(0, min(length, previous - at))
        let equal = sink.body.withUnsafeBytes { old in
            comparable == 0 ? 0 : equalLength(UnsafeRawPointer(old.baseAddress! + at), UnsafeRawPointer(piece.baseAddress!), comparable)
        }
        if equal == length {
            sink.received += length
            return length
        }
        sink.equalSoFar = false
        sink.equalPrefix = at + equal
    }
    let overlap = max(0, min(length, sink.body.count - at))
    if overlap > 0 {
        sink.body.withUnsafeMutableBytes { old in
            (old.baseAddress! + at).copyMemory(from: piece.baseAddress!, byteCount: overlap)
        }
    }
    if overlap < length { sink.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[overlap...])) }
    sink.received += length
    return length
}

/// How many bytes at the start of `a` and `b` (`count` each) are equal: `memcmp` per 256-byte
/// block, then bytes within the block that differs.
private func equalLength(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int {
    var at = 0
    while at + 256 <= count, memcmp(a + at, b + at, 256) == 0 { at += 256 }
    while at < count, a.load(fromByteOffset: at, as: UInt8.self) == b.load(fromByteOffset: at, as: UInt8.self) { at += 1 }
    return at
}

private func curlHeaderCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new status line (e.g. after "100 Continue") starts a fresh header block.
        sink.headers.removeAll()
        let parts = line.split(separator: " ", maxSplits: 2)
        if parts.count >= 2, let code = Int(parts[1]) { sink.status = code }
    } else if line == "\r\n" || line == "\n" {
        // The blank line ending a header block; a 1xx block is followed by the real one.
        if !(100..<200).contains(sink.status), !sink.headersComplete {
            sink.headersComplete = true
            sink.onHeaders?(sink.status)
        }
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingWhitespace().lowercased()
        let value = String(line[line.index(after: colon)...].trimmingWhitespace())
        sink.headers[name] = value
        // Size the body once instead of doubling it through a multi-megabyte container list.
        if name == "content-length", sink.onData == nil, let length = Int(value), length > 0, length <= sink.maxBodyBytes {
            sink.body.reserveCapacity(length)
        }
    }
    return length
}

private func curlProgressCallback(
    _ context: UnsafeMutableRawPointer?, _ dlTotal: curl_off_t, _ dlNow: curl_off_t, _ ulTotal: curl_off_t, _ ulNow: curl_off_t
) -> Int32 {
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    if sink.shouldStop?() == true {
        sink.stopped = true
        return 1
    }
    if let deadline = sink.headersDeadline, !sink.headersComplete, ContinuousClock.now >= deadline {
        sink.headersLate = true
        return 1
    }
    return 0
}

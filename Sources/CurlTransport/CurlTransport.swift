import CCurl
import CWatchdogShims
import Foundation

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
    /// Compute a ``BodyDigest`` of the body while it arrives (each piece is hashed while it is
    /// still in the cache), for callers that compare an answer with the previous one.
    public var digestBody = false
    /// libcurl's receive buffer for this request (its default is 16 KiB): a multi-megabyte
    /// answer read 16 KiB per `recv` and callback costs hundreds of calls more than it needs.
    public var receiveBufferSize: Int?

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
    /// The body's ``BodyDigest`` when the request asked for one.
    public var bodyDigest: UInt64? = nil
}

/// A 64-bit hash of a body fed in pieces, equal for equal bytes however they were split: four
/// independent multiply-xorshift lanes over 32-byte blocks, near memory speed. Not cryptographic:
/// it tells an answer from the previous one (with the length as a second check).
public struct BodyDigest: Sendable {
    private var a: UInt64 = 0x9E37_79B9_7F4A_7C15, b: UInt64 = 0x6A09_E667_F3BC_C908
    private var c: UInt64 = 0xBB67_AE85_84CA_A73B, d: UInt64 = 0x3C6E_F372_FE94_F82B
    /// Bytes that did not fill a 32-byte block yet (at most 31), little-endian in `carry`.
    private var carry: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var carried = 0
    public private(set) var length = 0

    public init() {}

    private static let k1: UInt64 = 0xFF51_AFD7_ED55_8CCD

    @inline(__always) private mutating func block(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        a = (a ^ w0) &* Self.k1
        b = (b ^ w1) &* Self.k1
        c = (c ^ w2) &* Self.k1
        d = (d ^ w3) &* Self.k1
        a ^= a >> 32
        b ^= b >> 32
        c ^= c >> 32
        d ^= d >> 32
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        length += bytes.count
        var p = 0
        let n = bytes.count
        // Top up a partial block byte by byte first.
        while carried > 0 && carried < 32 && p < n {
            setCarried(byte: base.load(fromByteOffset: p, as: UInt8.self), at: carried)
            carried += 1
            p += 1
        }
        if carried == 32 {
            block(carry.0, carry.1, carry.2, carry.3)
            carry = (0, 0, 0, 0)
            carried = 0
        }
        // The lanes in locals for the bulk of the piece (written back once).
        var (a, b, c, d) = (self.a, self.b, self.c, self.d)
        let k1 = Self.k1
        while p + 32 <= n {
            a = (a ^ base.loadUnaligned(fromByteOffset: p, as: UInt64.self)) &* k1
            b = (b ^ base.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)) &* k1
            c = (c ^ base.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)) &* k1
            d = (d ^ base.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)) &* k1
            a ^= a >> 32
            b ^= b >> 32
            c ^= c >> 32
            d ^= d >> 32
            p += 32
        }
        (self.a, self.b, self.c, self.d) = (a, b, c, d)
        while p < n {
            setCarried(byte: base.load(fromByteOffset: p, as: UInt8.self), at: carried)
            carried += 1
            p += 1
        }
    }

    private mutating func setCarried(byte: UInt8, at index: Int) {
        let shifted = UInt64(byte) << UInt64((index % 8) * 8)
        switch index / 8 {
        case 0: carry.0 |= shifted
        case 1: carry.1 |= shifted
        case 2: carry.2 |= shifted
        default: carry.3 |= shifted
        }
    }

    /// The digest of everything fed so far.
    public var value: UInt64 {
        var copy = self
        if copy.carried > 0 { copy.block(copy.carry.0, copy.carry.1, copy.carry.2, copy.carry.3 ^ UInt64(copy.carried) << 56) }
        var h = copy.a ^ ((copy.b << 17) | (copy.b >> 47)) ^ ((copy.c << 31) | (copy.c >> 33)) ^ ((copy.d << 47) | (copy.d >> 17))
        h = (h ^ UInt64(truncatingIfNeeded: length)) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 29
        h = h &* Self.k1
        h ^= h >> 32
        return h
    }
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
private let curlGlobalInit: Void = {
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
    /// The easy handle; only touched while `lock` is held. (A `Mutex` cannot hand a non-Sendable
    /// response sink into its critical section under strict concurrency, hence the plain lock.)
    private let handle: UnsafeMutableRawPointer?
    private let lock = NSLock()

    public init(endpoint: TransportEndpoint) {
        _ = curlGlobalInit
        self.endpoint = endpoint
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
        if request.digestBody { sink.digest = BodyDigest() }
        buffer.removeAll(keepingCapacity: true)
        swap(&sink.body, &buffer)
        try run(request, sink: sink)
        var body: [UInt8] = []
        swap(&body, &sink.body)
        return TransportResponse(status: sink.status, headers: sink.headers, body: body, bodyDigest: sink.digest?.value)
    }

    /// Sends a request and hands the body to `onData` as it arrives, for streams such as
    /// `/events`. `onData` returns false to stop; `shouldStop` is polled about once a second even
    /// while the stream is idle, so a quiet stream can still be ended. Returns once the stream ends.
    public func stream(
        _ request: TransportRequest, shouldStop: @escaping () -> Bool = { false },
        onData: @escaping (UnsafeRawBufferPointer) -> Bool
    ) throws(TransportError) -> TransportResponse {
        let sink = ResponseSink(maxBodyBytes: request.maxBodyBytes, onData: onData)
        sink.shouldStop = shouldStop
        try run(request, sink: sink)
        return TransportResponse(status: sink.status, headers: sink.headers, body: sink.body)
    }

    private func run(_ request: TransportRequest, sink: ResponseSink) throws(TransportError) {
        guard let curl = handle else { throw .transfer("could not create a libcurl handle") }
        lock.lock()
        defer { lock.unlock() }
        try Self.execute(curl, endpoint: endpoint, request: request, sink: sink).get()
    }

    private static func execute(
        _ curl: UnsafeMutableRawPointer, endpoint: TransportEndpoint, request: TransportRequest, sink: ResponseSink
    ) -> Result<Void, TransportError> {
        curl_easy_reset(curl)
        let url: String
        switch endpoint {
        case .unixSocket(let path):
            url = "http://docker\(request.target)"
            _ = path.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_UNIX_SOCKET_PATH, $0) }
        case .tcp(let host, let port):
            let bracketed = host.contains(":") ? "[\(host)]" : host
            url = "http://\(bracketed):\(port)\(request.target)"
        }
        _ = url.withCString { cwd_curl_setopt_pointer(curl, CURLOPT_URL, $0) }
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
        // Docker answers plain HTTP; never follow redirects or talk to anything else.
        _ = cwd_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = "http".withCString { cwd_curl_setopt_pointer(curl, CURLOPT_PROTOCOLS_STR, $0) }
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
        if sink.shouldStop != nil {
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

    private static func milliseconds(_ d: Duration) -> Int {
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
    var digest: BodyDigest?
    var shouldStop: (() -> Bool)?

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
    if sink.body.count + length > sink.maxBodyBytes {
        sink.overflowed = true
        return 0
    }
    sink.body.append(contentsOf: buffer)
    sink.digest?.update(buffer)
    return length
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
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
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
    return 0
}

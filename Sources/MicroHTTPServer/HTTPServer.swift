import CMicroHTTPD
import CHTTPServerShims
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Locking
import ResponseBodies

/// A request as the handler sees it, fully read.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string, as libmicrohttpd decoded it.
    public var path: String
    /// Query arguments, percent-decoded; the last value of a repeated key wins.
    public var query: [String: String]
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// One piece of a streamed body.
public enum HTTPStreamChunk: Sendable {
    case data([UInt8])
    /// The body is complete.
    case end
    /// Abort the connection mid-body (the client sees a truncated answer).
    case abort
}

/// The body of a response: a buffer, or a pull-based stream that may block its connection's thread.
public enum HTTPBody: Sendable {
    case bytes([UInt8])
    /// Several shared buffers sent back to back as one body, without joining them: a `/metrics`
    /// body made of per-family pieces that are kept anyway needs no second, joined copy.
    case segments([SharedBytes])
    /// `declaredLength` sets Content-Length; nil sends the body chunked. `next` is called on the
    /// server's thread until it returns `.end` or `.abort`.
    case stream(declaredLength: UInt64?, next: @Sendable () -> HTTPStreamChunk)
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: HTTPBody

    public init(status: Int, headers: [(String, String)] = [], body: HTTPBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }
}

/// Where the server listens.
public enum HTTPListenTarget: Sendable, Equatable {
    /// An empty host listens on every interface. Port 0 picks a free port (see `HTTPServer.port`).
    case tcp(host: String, port: Int)
    case unixSocket(path: String)
    /// A socket already bound and listening, handed over by whoever started the process (systemd's
    /// socket activation); the server takes it over and closes it when stopped.
    case inheritedSocket(fd: Int32)

    /// The listening sockets systemd passed (`LISTEN_FDS` from fd 3, meant for this process when
    /// `LISTEN_PID` is its pid), as sd_listen_fds(3) reads them; the variables are then unset so that
    /// child processes do not take them for theirs.
    public static func systemdSockets() throws(HTTPServerError) -> [HTTPListenTarget] {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        guard let pidText = variable("LISTEN_PID"), let pid = Int32(pidText), let countText = variable("LISTEN_FDS"),
            let count = Int32(countText)
        else {
            throw HTTPServerError(description: "web.systemd_socket is on, but no socket was passed (LISTEN_PID and LISTEN_FDS are not set)")
        }
        guard pid == getpid() else {
            throw HTTPServerError(description: "web.systemd_socket: LISTEN_PID \(pid) is not this process (\(getpid()))")
        }
        guard count >= 1 else { throw HTTPServerError(description: "web.systemd_socket: LISTEN_FDS is \(count)") }
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        return (0..<count).map { .inheritedSocket(fd: 3 + $0) }
    }
}

/// TLS for the server (libmicrohttpd over GnuTLS). The PEM texts are copied; the files are read by the caller.
public struct HTTPTLSOptions: Sendable, Equatable {
    /// Lowest protocol version accepted; anything older fails the handshake.
    public enum MinimumVersion: Sendable, Equatable {
        case tls12, tls13
    }

    /// Server certificate (chain), PEM.
    public var certificatePEM: String
    /// Its unencrypted private key, PEM.
    public var keyPEM: String
    /// CA certificates, PEM. When set, every client must present a certificate that chains to one of
    /// them, checked in the handshake and again before any request is answered.
    public var clientCAPEM: String?
    /// GnuTLS priority string; `priorities(minimum:)` builds the usual ones.
    public var priorities: String

    public init(certificatePEM: String, keyPEM: String, clientCAPEM: String? = nil, minimumVersion: MinimumVersion = .tls12) {
        self.init(certificatePEM: certificatePEM, keyPEM: keyPEM, clientCAPEM: clientCAPEM, priorities: Self.priorities(minimum: minimumVersion))
    }

    /// A raw GnuTLS priority string; tests use it to stand up a deliberately weak server as a control.
    public init(certificatePEM: String, keyPEM: String, clientCAPEM: String? = nil, priorities: String) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
        self.clientCAPEM = clientCAPEM
        self.priorities = priorities
    }

    /// GnuTLS' NORMAL cipher suites with only the allowed protocol versions enabled.
    public static func priorities(minimum: MinimumVersion) -> String {
        switch minimum {
        case .tls12: return "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
        case .tls13: return "NORMAL:-VERS-ALL:+VERS-TLS1.3"
        }
    }

    /// Loads the certificate, key and client CA the way the server will, so that a mismatched key or a
    /// file that is not PEM is reported as a configuration error before anything starts.
    public func validate() throws(HTTPServerError) {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let rc = cwd_tls_check_credentials(certificatePEM, keyPEM, clientCAPEM, &errorBuffer, errorBuffer.count)
        if rc != 0 {
            throw HTTPServerError(description: String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}

/// Limits and threading of the server. The libmicrohttpd defaults are unlimited, so every limit is set.
public struct HTTPServerOptions: Sendable {
    public enum Threading: Sendable {
        /// A few event-loop threads; handlers must not block (the exporter's case).
        case pool(threads: Int)
        /// One thread per connection; a handler may block (the fake Docker Engine's case).
        case threadPerConnection
    }

    public var threading: Threading
    public var maxConnections: Int
    /// 0 disables the per-IP limit (required for unix sockets).
    public var maxConnectionsPerIP: Int
    public var connectionTimeoutSeconds: Int
    /// Request bodies past this size are refused with 413.
    public var maxRequestBodyBytes: Int
    /// nil serves plain HTTP.
    public var tls: HTTPTLSOptions?
    /// A whole request must arrive within this long of the connection opening (or of the previous
    /// answer on a kept-alive connection), however steadily it trickles in; nil uses
    /// `connectionTimeoutSeconds`. See `RequestDeadlines`: `connectionTimeoutSeconds` alone only
    /// cuts *idle* connections.
    public var requestTimeoutSeconds: Int?
    /// The first request on a connection must be complete within this long of it opening,
    /// whatever the other timeouts (nil: as `requestTimeoutSeconds`).
    public var requestHeaderTimeout: Duration?
    /// libmicrohttpd's own error messages (a failed TLS handshake, a connection refused at a
    /// limit, ...), one line each, on its threads; nil leaves them on stderr, as libmicrohttpd
    /// prints them. A handler must not block: a hostile client can cause one per connection.
    public var onServerMessage: (@Sendable (String) -> Void)?

    public init(
        threading: Threading = .pool(threads: 2), maxConnections: Int = 64, maxConnectionsPerIP: Int = 16,
        connectionTimeoutSeconds: Int = 10, maxRequestBodyBytes: Int = 1 << 20, tls: HTTPTLSOptions? = nil,
        requestTimeoutSeconds: Int? = nil, requestHeaderTimeout: Duration? = nil,
        onServerMessage: (@Sendable (String) -> Void)? = nil
    ) {
        self.requestHeaderTimeout = requestHeaderTimeout
        self.onServerMessage = onServerMessage
        self.tls = tls
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.threading = threading
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}

public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// An HTTP/1.1 server on libmicrohttpd.
///
/// The handler runs on libmicrohttpd's threads. It is a plain `@Sendable` closure reached through
/// the C `void *` context, never a main-actor closure (see the interop notes: that crashes).
public final class HTTPServer: Sendable {
    /// The bound TCP port (useful with port 0), or nil for a unix socket.
    public let port: Int?
    public let target: HTTPListenTarget
    private let state: Mutex<RunningDaemon?>

    public init(listen target: HTTPListenTarget, options: HTTPServerOptions = HTTPServerOptions(), handler: @escaping HTTPHandler) throws {
        self.target = target
        var errorBuffer = [CChar](repeating: 0, count: 256)
        let fd: Int32
        var perIP = options.maxConnectionsPerIP
        switch target {
        case .tcp(let host, let port):
            guard (0...65535).contains(port) else { throw HTTPServerError(description: "port \(port) out of range") }
            fd = cwd_listen_tcp(host, UInt16(port), 128, &errorBuffer, errorBuffer.count)
        case .unixSocket(let path):
            fd = cwd_listen_unix(path, 128, &errorBuffer, errorBuffer.count)
            perIP = 0
        case .inheritedSocket(let inherited):
            fd = inherited
            // Descriptors passed by systemd are not close-on-exec: the restart command must not get it.
            _ = fcntl(inherited, F_SETFD, FD_CLOEXEC)
        }
        guard fd >= 0 else {
            let reason = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw HTTPServerError(description: "cannot listen on \(target): \(reason)")
        }
        let boundPort = cwd_socket_local_port(fd)
        self.port = boundPort >= 0 ? Int(boundPort) : nil
        self.options = options
        self.perIP = perIP
        self.handler = handler
        do {
            state = Mutex(try Self.launch(fd: fd, options: options, perIP: perIP, handler: handler, target: target))
        } catch {
            close(fd)
            throw error
        }
    }

    private let options: HTTPServerOptions
    private let perIP: Int
    private let handler: HTTPHandler

    /// Starts a libmicrohttpd daemon on the listening socket `fd` (which it owns from then on).
    private static func launch(
        fd: Int32, options: HTTPServerOptions, perIP: Int, handler: @escaping HTTPHandler, target: HTTPListenTarget
    ) throws(HTTPServerError) -> RunningDaemon {
        // ITC: lets `replaceTLS` quiesce a daemon (stop its accepting) while its requests finish.
        var flags =
            UInt32(MHD_USE_ERROR_LOG.rawValue) | UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue) | UInt32(MHD_USE_ITC.rawValue)
        var poolSize: UInt32 = 0
        switch options.threading {
        case .pool(let threads):
            flags |= UInt32(MHD_USE_EPOLL.rawValue)
            poolSize = UInt32(max(1, threads))
        case .threadPerConnection:
            flags |= UInt32(MHD_USE_THREAD_PER_CONNECTION.rawValue) | UInt32(MHD_USE_POLL.rawValue)
        }
        // The limits are kept by RequestDeadlines, which evicts a waiting connection at a limit
        // instead of refusing the new one; libmicrohttpd's own total limit is set above it (room
        // for connections being evicted) and its per-address limit is off.
        let deadlines = RequestDeadlines(
            limit: .seconds(max(1, options.requestTimeoutSeconds ?? options.connectionTimeoutSeconds)),
            headerLimit: options.requestHeaderTimeout, maxConnections: options.maxConnections, maxPerAddress: perIP)
        let context = HandlerContext(
            handler: handler, maxBodyBytes: options.maxRequestBodyBytes,
            requireClientCertificate: options.tls?.clientCAPEM != nil, deadlines: deadlines,
            onServerMessage: options.onServerMessage)
        let unmanaged = Unmanaged.passRetained(context)
        // libmicrohttpd keeps these pointers rather than copying: they live until after MHD_stop_daemon.
        let tlsStrings = TLSStrings(options.tls)
        let watch = UnsafeMutablePointer<cwd_mhd_watch>.allocate(capacity: 1)
        watch.initialize(
            to: cwd_mhd_watch(
                callback: mhdConnectionEvent, context: unmanaged.toOpaque(), require_client_certificate: 0,
                message: options.onServerMessage == nil ? nil : mhdServerMessage))
        let daemon = tlsStrings.withTLS { tls in
            cwd_mhd_start_watched(
                flags, fd, mhdAccessHandler, unmanaged.toOpaque(), mhdRequestCompleted, unmanaged.toOpaque(),
                UInt32(options.maxConnections + max(32, options.maxConnections / 2)), 0, UInt32(options.connectionTimeoutSeconds),
                poolSize, 0, tls, watch
            )
        }
        guard let daemon else {
            unmanaged.release()
            watch.deallocate()
            tlsStrings.free()
            throw HTTPServerError(description: "libmicrohttpd refused to start on \(target)\(options.tls == nil ? "" : " (TLS)")")
        }
        deadlines.startSweeping()
        return RunningDaemon(daemon: daemon, context: unmanaged, tlsStrings: tlsStrings, watch: watch, fd: fd)
    }

    /// Serves new connections with `tls` from now on (a certificate renewed on disk), on the same
    /// listening socket: a second daemon starts on a duplicate of it with the new material, then
    /// the old one stops after `grace` (its requests in flight end first). If the new daemon
    /// cannot start, the old one keeps serving and the error says why.
    public func replaceTLS(_ tls: HTTPTLSOptions, grace: Duration = .seconds(2)) throws(HTTPServerError) {
        guard let current = state.withLock({ $0 }) else { throw HTTPServerError(description: "the server is stopped") }
        let copy = dup(current.fd)
        guard copy >= 0 else { throw HTTPServerError(description: "dup of the listening socket: \(String(cString: strerror(errno)))") }
        _ = fcntl(copy, F_SETFD, FD_CLOEXEC)
        var renewed = options
        renewed.tls = tls
        let fresh: RunningDaemon
        do {
            fresh = try Self.launch(fd: copy, options: renewed, perIP: perIP, handler: handler, target: target)
        } catch {
            close(copy)
            throw error
        }
        let old = state.withLock { s -> RunningDaemon? in
            let previous = s
            s = fresh
            return previous
        }
        if let old {
            // No new connection reaches the old daemon from here on; its listening descriptor comes
            // back to us (the duplicate keeps the socket open for the new one).
            // It must stay open until the old daemon has stopped (its threads drop it with a delay).
            let released = MHD_quiesce_daemon(old.daemon)
            startThread(name: "tls-retire") {
                sleepThread(for: grace)
                Self.shutDown(old)
                if released >= 0 { close(released) }
            }
        }
    }

    private static func shutDown(_ running: RunningDaemon) {
        running.context.takeUnretainedValue().deadlines.stopSweeping()
        MHD_stop_daemon(running.daemon)
        running.watch.deallocate()
        // Released only after MHD_stop_daemon has joined every thread that could still call the handler.
        running.context.release()
        running.tlsStrings.free()
    }

    /// Connections cut so far because their request did not arrive in time (slow clients).
    public var slowConnectionsCut: Int {
        state.withLock { $0?.context.takeUnretainedValue().deadlines.cut } ?? 0
    }

    /// Waiting connections evicted at a connection limit to make room for a new one.
    public var connectionsEvicted: Int {
        state.withLock { $0?.context.takeUnretainedValue().deadlines.evicted } ?? 0
    }

    /// Stops accepting, ends open connections and joins the server's threads. Safe to call twice.
    public func stop() {
        let running = state.withLock { current -> RunningDaemon? in
            let value = current
            current = nil
            return value
        }
        guard let running else { return }
        Self.shutDown(running)
        if case .unixSocket(let path) = target { unlink(path) }
    }

    deinit { stop() }
}

private struct RunningDaemon: @unchecked Sendable {
    let daemon: OpaquePointer
    let context: Unmanaged<HandlerContext>
    let tlsStrings: TLSStrings
    let watch: UnsafeMutablePointer<cwd_mhd_watch>
    /// The listening socket this daemon accepts on (closed by MHD_stop_daemon).
    let fd: Int32
}

/// C copies of the TLS material, owned by the running daemon.
private struct TLSStrings {
    let cert: UnsafeMutablePointer<CChar>?
    let key: UnsafeMutablePointer<CChar>?
    let trust: UnsafeMutablePointer<CChar>?
    let priorities: UnsafeMutablePointer<CChar>?
    let enabled: Bool

    init(_ tls: HTTPTLSOptions?) {
        enabled = tls != nil
        cert = tls.map { strdup($0.certificatePEM) }
        key = tls.map { strdup($0.keyPEM) }
        trust = tls?.clientCAPEM.map { strdup($0) }
        priorities = tls.map { strdup($0.priorities) }
    }

    func withTLS<R>(_ body: (UnsafePointer<cwd_mhd_tls>?) -> R) -> R {
        guard enabled else { return body(nil) }
        var tls = cwd_mhd_tls(cert_pem: cert, key_pem: key, trust_pem: trust, priorities: priorities)
        return withUnsafePointer(to: &tls) { body($0) }
    }

    func free() {
        // The key is wiped, not only released.
        if let key { memset(key, 0, strlen(key)) }
        for pointer in [cert, key, trust, priorities] { Glibc.free(pointer) }
    }
}

final class HandlerContext: Sendable {
    let handler: HTTPHandler
    let maxBodyBytes: Int
    /// Checked again per request: the handshake already demands a verified certificate, but a request
    /// must never be answered on a connection whose certificate did not verify.
    let requireClientCertificate: Bool
    let deadlines: RequestDeadlines
    let onServerMessage: (@Sendable (String) -> Void)?
    init(
        handler: @escaping HTTPHandler, maxBodyBytes: Int, requireClientCertificate: Bool, deadlines: RequestDeadlines,
        onServerMessage: (@Sendable (String) -> Void)? = nil
    ) {
        self.onServerMessage = onServerMessage
        self.deadlines = deadlines
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.requireClientCertificate = requireClientCertificate
    }
}

/// Per-request state kept in libmicrohttpd's `con_cls` between calls of the access handler.
private final class RequestState {
    var body: [UInt8] = []
    var tooLarge = false
}

/// State of one streamed response, kept alive by libmicrohttpd until its free callback.
private final class StreamState {
    let next: @Sendable () -> HTTPStreamChunk
    var pending: [UInt8] = []
    var offset = 0
    var finished = false
    var aborted = false
    init(next: @escaping @Sendable () -> HTTPStreamChunk) { self.next = next }
}

private func collectValues(_ connection: OpaquePointer?, kind: MHD_ValueKind, lowercaseKeys: Bool) -> [String: String] {
    final class Box { var values: [String: String] = [:]; var lower = false }
    let box = Box()
    box.lower = lowercaseKeys
    let unmanaged = Unmanaged.passRetained(box)
    defer { unmanaged.release() }
    _ = MHD_get_connection_values(
        connection, kind,
        { context, _, key, value in
            guard let context, let key else { return .YES }
            let box = Unmanaged<Box>.fromOpaque(context).takeUnretainedValue()
            let name = String(cString: key)
            box.values[box.lower ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
            return .YES
        }, unmanaged.toOpaque())
    return box.values
}

private func mhdAccessHandler(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?, _ url: UnsafePointer<CChar>?,
    _ method: UnsafePointer<CChar>?, _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
    _ uploadSize: UnsafeMutablePointer<Int>?, _ conCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let cls, let conCls else { return .NO }
    let context = Unmanaged<HandlerContext>.fromOpaque(cls).takeUnretainedValue()
    // First call: headers are in; allocate the per-request state and ask for the body.
    guard let existing = conCls.pointee else {
        if context.requireClientCertificate, cwd_mhd_peer_certificate_verified(connection) != 1 {
            return .NO  // closes the connection without an answer
        }
        conCls.pointee = Unmanaged.passRetained(RequestState()).toOpaque()
        return .YES
    }
    let request = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()
    if let uploadSize, uploadSize.pointee > 0 {
        let count = uploadSize.pointee
        if request.body.count + count > context.maxBodyBytes {
            request.tooLarge = true
        } else if let uploadData {
            request.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: count))
        }
        uploadSize.pointee = 0
        return .YES
    }
    // The request is fully read: from here on the time is the handler's, not the client's.
    context.deadlines.answering(connection)
    let response: HTTPResponse
    if request.tooLarge {
        response = .text(413, "request body too large\n")
    } else {
        let incoming = HTTPRequest(
            method: method.map { String(cString: $0) } ?? "GET",
            path: url.map { String(cString: $0) } ?? "/",
            query: collectValues(connection, kind: .GET_ARGUMENT_KIND, lowercaseKeys: false),
            headers: collectValues(connection, kind: .HEADER_KIND, lowercaseKeys: true),
            body: request.body
        )
        response = context.handler(incoming)
    }
    return queue(response, on: connection)
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer?) -> MHD_Result {
    let mhdResponse: OpaquePointer?
    switch response.body {
    case .bytes(let bytes):
        mhdResponse = bytes.withUnsafeBytes { raw in
            MHD_create_response_from_buffer(
                raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
        }
    case .segments(let segments):
        let nonEmpty = segments.filter { $0.count > 0 }
        let retained = Unmanaged.passRetained(SharedSegments(nonEmpty))
        var vectors = nonEmpty.map { MHD_IoVec(iov_base: UnsafeRawPointer($0.pointer), iov_len: $0.count) }
        mhdResponse = vectors.withUnsafeMutableBufferPointer { iov in
            // libmicrohttpd copies the vector array; the buffers stay alive through `retained`.
            MHD_create_response_from_iovec(iov.baseAddress, UInt32(iov.count), mhdSegmentsFree, retained.toOpaque())
        }
        if mhdResponse == nil { retained.release() }
    case .stream(let declaredLength, let next):
        let state = Unmanaged.passRetained(StreamState(next: next))
        mhdResponse = MHD_create_response_from_callback(
            declaredLength ?? UInt64.max, 16 * 1024, mhdStreamReader, state.toOpaque(), mhdStreamFree)
        if mhdResponse == nil { state.release() }
    }
    guard let mhdResponse else { return .NO }
    for (name, value) in response.headers {
        _ = MHD_add_response_header(mhdResponse, name, value)
    }
    let result = MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    MHD_destroy_response(mhdResponse)
    return result
}

private func mhdStreamReader(_ cls: UnsafeMutableRawPointer?, _ position: UInt64, _ buffer: UnsafeMutablePointer<CChar>?, _ max: Int) -> Int {
    guard let cls, let buffer else { return -2 }
    let state = Unmanaged<StreamState>.fromOpaque(cls).takeUnretainedValue()
    while state.offset >= state.pending.count {
        if state.aborted { return -2 }  // MHD_CONTENT_READER_END_WITH_ERROR
        if state.finished { return -1 }  // MHD_CONTENT_READER_END_OF_STREAM
        switch state.next() {
        case .data(let bytes):
            state.pending = bytes
            state.offset = 0
        case .end:
            state.finished = true
        case .abort:
            state.aborted = true
        }
    }
    let count = Swift.min(max, state.pending.count - state.offset)
    state.pending.withUnsafeBytes { raw in
        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + state.offset, byteCount: count)
    }
    state.offset += count
    return count
}

/// The buffers of a `.segments` body, kept alive until libmicrohttpd destroys the response.
private final class SharedSegments {
    let segments: [SharedBytes]
    init(_ segments: [SharedBytes]) { self.segments = segments }
}

private func mhdSegmentsFree(_ cls: UnsafeMutableRawPointer?) {
    guard let cls else { return }
    Unmanaged<SharedSegments>.fromOpaque(cls).release()
}

private func mhdStreamFree(_ cls: UnsafeMutableRawPointer?) {
    guard let cls else { return }
    Unmanaged<StreamState>.fromOpaque(cls).release()
}

private func mhdRequestCompleted(
    _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ conCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ code: MHD_RequestTerminationCode
) {
    if let cls { Unmanaged<HandlerContext>.fromOpaque(cls).takeUnretainedValue().deadlines.requestEnded(connection) }
    guard let conCls, let state = conCls.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(state).release()
    conCls.pointee = nil
}

/// libmicrohttpd's error messages, handed to `HTTPServerOptions.onServerMessage`.
func mhdServerMessage(_ context: UnsafeMutableRawPointer?, _ text: UnsafePointer<CChar>?) {
    guard let context, let text else { return }
    Unmanaged<HandlerContext>.fromOpaque(context).takeUnretainedValue().onServerMessage?(String(cString: text))
}

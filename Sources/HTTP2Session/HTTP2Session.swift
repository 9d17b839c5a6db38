import CNghttp2
#if canImport(Glibc)
    import Glibc
#endif

/// Why an HTTP/2 exchange failed.
public enum HTTP2Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte stream under the session failed (reset, closed early, refused).
    case connection(String)
    /// The exchange's deadline, or the deadline of one read, passed.
    case timedOut(String)
    /// The peer broke the protocol, or nghttp2 refused something.
    case protocolError(String)
    /// The response (headers or body) grew past a limit of the request.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .connection(let s): return "connection: \(s)"
        case .timedOut(let s): return "timed out: \(s)"
        case .protocolError(let s): return "HTTP/2: \(s)"
        case .tooLarge(let s): return "too large: \(s)"
        }
    }
}

/// The bytes an HTTP/2 session runs over: an already-open connection (for the watchdog, an Engine
/// API connection upgraded to h2c). The session writes the connection preface itself.
public protocol HTTP2ByteStream: AnyObject {
    /// Writes all of `bytes` before `deadline`.
    func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) throws(HTTP2Error)
    /// Returns what arrives next (at most `limit` bytes), waiting until `deadline` at most; an
    /// empty answer means the peer closed the connection.
    func receive(upTo limit: Int, before deadline: ContinuousClock.Instant) throws(HTTP2Error) -> [UInt8]
}

/// One HTTP/2 request: pseudo-headers, headers (lower-case names) and a body sent whole.
public struct HTTP2Request: Sendable {
    public var method: String
    public var scheme: String
    public var authority: String
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(
        method: String = "POST", scheme: String = "http", authority: String, path: String, headers: [(String, String)] = [],
        body: [UInt8] = []
    ) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// Limits and deadlines of one exchange.
public struct HTTP2Limits: Sendable {
    /// The whole exchange ends by then, finished or not.
    public var deadline: ContinuousClock.Instant
    /// A peer that sends nothing for this long is given up on, even before `deadline`.
    public var idleTimeout: Duration
    /// Header and trailer bytes kept (names plus values); more is an error.
    public var maxHeaderBytes: Int

    public init(deadline: ContinuousClock.Instant, idleTimeout: Duration, maxHeaderBytes: Int = 64 << 10) {
        self.deadline = deadline
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }
}

/// What came back: the status, the response headers and the trailers (names lower-case).
public struct HTTP2Response: Sendable, Equatable {
    public var status: Int = 0
    public var headers: [String: String] = [:]
    public var trailers: [String: String] = [:]
    /// The stream ended because the body consumer asked to stop (the stream was reset with CANCEL).
    public var stoppedByConsumer = false
    /// The HTTP/2 error code the stream closed with (0: NO_ERROR).
    public var closeErrorCode: UInt32 = 0

    public init() {}
}

/// One HTTP/2 client session (nghttp2) that sends one request over a byte stream and hands the
/// response body to the caller as it arrives.
///
/// nghttp2 only frames: it never touches a socket. Bytes go out through `HTTP2ByteStream.send` and
/// come in through `receive`, each with the exchange's deadline, so a peer that accepts and then
/// says nothing costs at most `idleTimeout`. The session runs on the calling thread and blocks it.
public enum HTTP2ClientSession {
    /// Sends `request` and returns the response once the stream is closed.
    ///
    /// - Parameter onData: receives the body in the pieces it arrives in; return false to stop (the
    ///   stream is then reset and the response returned with `stoppedByConsumer`). It may throw to
    ///   end the exchange with that error (e.g. a message over a size limit).
    public static func exchange(
        over stream: any HTTP2ByteStream, request: HTTP2Request, limits: HTTP2Limits,
        onData: ([UInt8]) throws(HTTP2Error) -> Bool
    ) throws(HTTP2Error) -> HTTP2Response {
        try withoutActuallyEscaping(onData) { (onData) throws(HTTP2Error) -> HTTP2Response in
            let context = SessionContext(limits: limits, onData: onData)
            return try context.run(over: stream, request: request)
        }
    }
}

/// State shared with nghttp2's callbacks for one exchange (handed to them as `user_data`).
private final class SessionContext {
    let limits: HTTP2Limits
    let onData: ([UInt8]) throws(HTTP2Error) -> Bool
    var response = HTTP2Response()
    var streamID: Int32 = -1
    var closed = false
    var headerBytes = 0
    /// The first error a callback ran into; the callback returns NGHTTP2_ERR_CALLBACK_FAILURE.
    var failure: HTTP2Error?
    var body: [UInt8] = []
    var bodyOffset = 0

    init(limits: HTTP2Limits, onData: @escaping ([UInt8]) throws(HTTP2Error) -> Bool) {
        self.limits = limits
        self.onData = onData
    }

    func run(over stream: any HTTP2ByteStream, request: HTTP2Request) throws(HTTP2Error) -> HTTP2Response {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw .protocolError("nghttp2_session_callbacks_new failed")
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)

        let me = Unmanaged.passUnretained(self)
        var maybeSession: OpaquePointer?
        guard nghttp2_session_client_new(&maybeSession, callbacks, me.toOpaque()) == 0, let session = maybeSession else {
            throw .protocolError("nghttp2_session_client_new failed")
        }
        defer { nghttp2_session_del(session) }

        // No server push; a window large enough that a history of some thousand records needs few
        // WINDOW_UPDATEs (nghttp2 sends them itself as the body is consumed).
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 1 << 20),
        ]
        try check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count), "submit SETTINGS")

        try submit(request, on: session)

        var lastActivity = ContinuousClock.now
        while !closed {
            try flush(session, to: stream)
            if closed { break }
            guard nghttp2_session_want_read(session) != 0 else {
                throw .connection("the session ended before the response stream closed")
            }
            let idleDeadline = lastActivity + limits.idleTimeout
            let readDeadline = min(idleDeadline, limits.deadline)
            let bytes: [UInt8]
            do {
                bytes = try stream.receive(upTo: 64 << 10, before: readDeadline)
            } catch .timedOut {
                let which = readDeadline == limits.deadline ? "the exchange's deadline" : "nothing received for \(limits.idleTimeout)"
                throw .timedOut(which)
            }
            if bytes.isEmpty { throw .connection("the peer closed the connection before the response ended") }
            lastActivity = .now
            let consumed = bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
            if let failure { throw failure }
            if consumed < 0 { throw .protocolError(String(cString: nghttp2_strerror(Int32(consumed)))) }
            if response.stoppedByConsumer && !closed {
                try check(
                    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue),
                    "submit RST_STREAM")
                try flush(session, to: stream)
                closed = true
            }
        }
        if let failure { throw failure }
        // A GOAWAY or the RST_STREAM of a stop; failures to send it do not matter any more.
        try? flush(session, to: stream)
        return response
    }

    private func submit(_ request: HTTP2Request, on session: OpaquePointer) throws(HTTP2Error) {
        var fields: [(String, String)] = [
            (":method", request.method), (":scheme", request.scheme), (":authority", request.authority), (":path", request.path),
        ]
        fields += request.headers
        // nghttp2 copies names and values while submitting (no NO_COPY flags), so the C strings
        // only have to live through the call.
        let strings = fields.map { (strdup($0.0)!, strdup($0.1)!) }
        defer { for (name, value) in strings { free(name); free(value) } }
        var nva = zip(fields, strings).map { field, string in
            nghttp2_nv(
                name: UnsafeMutableRawPointer(string.0).assumingMemoryBound(to: UInt8.self),
                value: UnsafeMutableRawPointer(string.1).assumingMemoryBound(to: UInt8.self),
                namelen: field.0.utf8.count, valuelen: field.1.utf8.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        body = request.body
        bodyOffset = 0
        var provider = nghttp2_data_provider()
        provider.read_callback = readBody
        let id = nghttp2_submit_request(session, nil, &nva, nva.count, &provider, nil)
        if id < 0 { throw .protocolError("submit request: \(String(cString: nghttp2_strerror(id)))") }
        streamID = id
    }

    /// Sends everything nghttp2 has queued (preface, SETTINGS, HEADERS, DATA, WINDOW_UPDATE, ACKs).
    private func flush(_ session: OpaquePointer, to stream: any HTTP2ByteStream) throws(HTTP2Error) {
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if let failure { throw failure }
            if count < 0 { throw .protocolError(String(cString: nghttp2_strerror(Int32(count)))) }
            guard count > 0, let data else { return }
            try stream.send(Array(UnsafeBufferPointer(start: data, count: count)), before: limits.deadline)
        }
    }

    fileprivate func header(frame: UnsafePointer<nghttp2_frame>, name: String, value: String) -> Int32 {
        guard frame.pointee.hd.stream_id == streamID else { return 0 }
        headerBytes += name.utf8.count + value.utf8.count
        if headerBytes > limits.maxHeaderBytes {
            failure = .tooLarge("response headers over \(limits.maxHeaderBytes) bytes")
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        // The first HEADERS frame carries :status; a later one (after DATA, or a second one) the trailers.
        if frame.pointee.headers.cat == NGHTTP2_HCAT_RESPONSE {
            if name == ":status" { response.status = Int(value) ?? 0 } else { response.headers[name] = value }
        } else {
            response.trailers[name] = value
        }
        return 0
    }

    fileprivate func data(stream id: Int32, _ chunk: [UInt8]) -> Int32 {
        guard id == streamID, !response.stoppedByConsumer else { return 0 }
        do {
            if try !onData(chunk) {
                response.stoppedByConsumer = true
                return 0
            }
        } catch {
            failure = error
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        return 0
    }

    fileprivate func streamClosed(_ id: Int32, errorCode: UInt32) {
        guard id == streamID else { return }
        response.closeErrorCode = errorCode
        closed = true
    }

    fileprivate func nextBodyBytes(into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        let count = min(length, body.count - bodyOffset)
        body.withUnsafeBufferPointer { source in
            if count > 0 { buffer.update(from: source.baseAddress! + bodyOffset, count: count) }
        }
        bodyOffset += count
        if bodyOffset == body.count { flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
        return count
    }
}

private func check(_ code: Int32, _ what: String) throws(HTTP2Error) {
    if code != 0 { throw .protocolError("\(what): \(String(cString: nghttp2_strerror(code)))") }
}

private func context(_ userData: UnsafeMutableRawPointer?) -> SessionContext {
    Unmanaged<SessionContext>.fromOpaque(userData!).takeUnretainedValue()
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    guard let frame, let name, let value else { return 0 }
    let nameText = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
    let valueText = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
    return context(userData).header(frame: frame, name: nameText, value: valueText)
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    guard let data else { return 0 }
    return context(userData).data(stream: streamID, Array(UnsafeBufferPointer(start: data, count: length)))
}

private let onStreamClose: nghttp2_on_stream_close_callback = { session, streamID, errorCode, userData in
    context(userData).streamClosed(streamID, errorCode: errorCode)
    return 0
}

private let readBody: nghttp2_data_source_read_callback = { _, _, buffer, length, flags, _, userData in
    guard let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    return context(userData).nextBodyBytes(into: buffer, length: length, flags: flags)
}

import CCurl
import CCurlShims
#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 connection that the server switched to another protocol (`101 Switching
/// Protocols`), as the Engine API's `POST /grpc` does for h2c: after the answer the socket carries
/// the new protocol's bytes, which ``send(_:before:)`` and ``receive(upTo:before:)`` move.
///
/// libcurl makes the connection (`CURLOPT_CONNECT_ONLY`: unix socket or TCP, with TLS when asked)
/// and moves the bytes (`curl_easy_send` / `curl_easy_recv`); this type writes the upgrade request
/// and reads the answer's head itself, since libcurl does not hand an upgraded HTTP/1.1 connection
/// over. Every wait polls the socket with a deadline. Use one connection from one thread.
public final class UpgradedConnection {
    /// The server answered the upgrade request with something other than 101.
    public struct Refusal: Error, Sendable, Equatable {
        public var status: Int
        /// The start of the answer's body (Docker's `{"message": ...}`), at most 4 KiB.
        public var body: [UInt8]
    }

    private let handle: UnsafeMutableRawPointer
    private let socket: curl_socket_t
    /// Bytes that arrived with the answer's head, after its blank line: the first bytes of the new protocol.
    private var pending: [UInt8]

    /// Connects to `endpoint`, sends `POST target` with `Connection: Upgrade` and `Upgrade:
    /// protocolName`, and waits for `101 Switching Protocols`.
    ///
    /// - Throws: `TransportError` (`.unreachable`, `.timedOut` for a connect or an answer that
    ///   does not come before `deadline`, `.transfer`), or ``Refusal`` for another status.
    public init(
        endpoint: TransportEndpoint, tls: TransportTLS? = nil, target: String, protocolName: String,
        headers: [(String, String)] = [], connectTimeout: Duration, deadline: ContinuousClock.Instant
    ) throws {
        _ = curlGlobalInit
        guard let curl = curl_easy_init() else { throw TransportError.transfer("could not create a libcurl handle") }
        var ready = false
        defer { if !ready { curl_easy_cleanup(curl) } }
        CurlSession.setTarget(curl, endpoint: endpoint, tls: tls, target: target)
        _ = cwd_curl_setopt_long(curl, CURLOPT_CONNECT_ONLY, 1)
        _ = cwd_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        // The connect (and a TLS handshake) ends by the earlier of its own timeout and the deadline.
        let connectLimit = CurlSession.milliseconds(min(connectTimeout, max(.milliseconds(1), deadline - .now)))
        _ = cwd_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, connectLimit)
        _ = cwd_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, connectLimit)
        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            if code == CURLE_OPERATION_TIMEDOUT { throw TransportError.timedOut("\(endpoint): \(message)") }
            if code == CURLE_COULDNT_CONNECT { throw TransportError.unreachable("\(endpoint): \(message)") }
            throw TransportError.transfer("\(endpoint): \(message)")
        }
        var socket: curl_socket_t = -1
        guard cwd_curl_getinfo_socket(curl, CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK, socket >= 0 else {
            throw TransportError.transfer("\(endpoint): libcurl has no socket for the connection")
        }
        self.handle = curl
        self.socket = socket
        self.pending = []
        ready = true

        var head = "POST \(target) HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: \(protocolName)\r\nContent-Length: 0\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try sendRaw(Array(head.utf8), before: deadline)
        try readUpgradeAnswer(before: deadline)
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// Writes all of `bytes`, waiting for the socket to take them until `deadline`.
    public func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) throws(TransportError) {
        try sendRaw(bytes, before: deadline)
    }

    /// What arrives next, at most `limit` bytes, waiting until `deadline`; empty when the server closed.
    public func receive(upTo limit: Int, before deadline: ContinuousClock.Instant) throws(TransportError) -> [UInt8] {
        if !pending.isEmpty {
            let count = min(limit, pending.count)
            let first = Array(pending[..<count])
            pending.removeFirst(count)
            return first
        }
        var buffer = [UInt8](repeating: 0, count: max(1, limit))
        while true {
            var received = 0
            let code = buffer.withUnsafeMutableBytes { curl_easy_recv(handle, $0.baseAddress, $0.count, &received) }
            if code == CURLE_OK {
                buffer.removeSubrange(received...)
                return buffer
            }
            guard code == CURLE_AGAIN else { throw .transfer("receive: \(String(cString: curl_easy_strerror(code)))") }
            try wait(for: Int16(POLLIN), before: deadline)
        }
    }

    private func sendRaw(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            var sent = 0
            let code = bytes.withUnsafeBytes { curl_easy_send(handle, $0.baseAddress! + offset, $0.count - offset, &sent) }
            if code == CURLE_OK {
                offset += sent
                continue
            }
            guard code == CURLE_AGAIN else { throw .transfer("send: \(String(cString: curl_easy_strerror(code)))") }
            try wait(for: Int16(POLLOUT), before: deadline)
        }
    }

    /// Polls the socket for `events` until `deadline` (retrying on EINTR).
    private func wait(for events: Int16, before deadline: ContinuousClock.Instant) throws(TransportError) {
        while true {
            let left = deadline - .now
            if left <= .zero { throw .timedOut("no answer on the upgraded connection before the deadline") }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let result = poll(&descriptor, 1, Int32(clamping: CurlSession.milliseconds(left)))
            if result > 0 { return }
            if result < 0 && errno != EINTR { throw .transfer("poll: \(String(cString: strerror(errno)))") }
        }
    }

    /// Reads the answer's head (at most 16 KiB); keeps bytes after it for `receive`.
    private func readUpgradeAnswer(before deadline: ContinuousClock.Instant) throws {
        var answer: [UInt8] = []
        let blankLine: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            let piece = try receive(upTo: 4096, before: deadline)
            if piece.isEmpty { throw TransportError.transfer("the server closed the connection instead of answering the upgrade") }
            let searchFrom = max(0, answer.count - 3)
            answer += piece
            headEnd = Self.find(blankLine, in: answer, from: searchFrom)
            if headEnd == nil && answer.count > 16 << 10 { throw TransportError.transfer("the upgrade answer's head is over 16 KiB") }
        }
        let end = headEnd!
        let head = String(decoding: answer[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw TransportError.transfer("not an HTTP answer to the upgrade: \(statusLine.prefix(80))")
        }
        var rest = Array(answer[(end + 4)...])
        if status == 101 {
            pending = rest
            return
        }
        // A refusal: keep the start of its body for the caller's message (Docker's JSON error).
        var length = 4096
        for line in head.split(separator: "\r\n").dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "content-length", let value = Int(pair[1].trimmingCharacters(in: " ")) {
                length = min(value, 4096)
            }
        }
        while rest.count < length {
            guard let piece = try? receive(upTo: length - rest.count, before: deadline), !piece.isEmpty else { break }
            rest += piece
        }
        throw Refusal(status: status, body: Array(rest.prefix(length)))
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}

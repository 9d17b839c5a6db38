import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A plain TCP connection to a loopback port that sends exactly the bytes it is given.
///
/// libcurl always writes a well-formed request; abuse tests (slow clients, oversized headers,
/// garbage, pipelining) and the HTTP fuzz target need to write anything at any pace. Test support
/// only: the watchdog itself never opens raw sockets.
public final class RawConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private var fd: Int32

    /// Connects to 127.0.0.1:`port` (blocking connect: loopback answers at once or refuses).
    ///
    /// - Parameter source: a loopback address to connect from (`127.0.0.2`, ...), so that tests can
    ///   act as several clients despite the server's per-address connection limit.
    public init(port: Int, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            guard inet_pton(AF_INET, source, &local.sin_addr) == 1 else {
                Glibc.close(fd)
                fd = -1
                throw Failure(description: "not an IPv4 address: \(source)")
            }
            let rc = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                fd = -1
                throw Failure(description: "bind \(source): \(reason)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            fd = -1
            throw Failure(description: "connect 127.0.0.1:\(port): \(reason)")
        }
        // Close with RST rather than FIN: thousands of fuzz connections must not exhaust the
        // ephemeral ports with TIME_WAIT sockets.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Sends everything; false when the peer has closed (EPIPE, ECONNRESET). Never raises SIGPIPE.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Half-closes: the server sees end of input but can still answer.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// What `read(until:)` got.
    public struct Received: Sendable {
        public var bytes: [UInt8]
        /// The server closed (or reset) the connection before the deadline.
        public var closed: Bool
        /// The status code of the first response, if the bytes start with one.
        public var status: Int? {
            let head = String(decoding: bytes.prefix(64), as: UTF8.self)
            guard head.hasPrefix("HTTP/1."), head.count >= 12 else { return nil }
            return Int(head.dropFirst(9).prefix(3))
        }
        public var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// Reads until the server closes, `deadline` passes, or `stop` says the bytes so far suffice.
    public func read(until deadline: ContinuousClock.Instant, stop: ([UInt8]) -> Bool = { _ in false }) -> Received {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return Received(bytes: bytes, closed: false) }
            let (seconds, attoseconds) = remaining.components
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 60_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                return Received(bytes: bytes, closed: true)
            }
            if ready == 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return Received(bytes: bytes, closed: true) }
            bytes += buffer[0..<n]
            if stop(bytes) { return Received(bytes: bytes, closed: false) }
        }
    }

    /// Reads with a timeout from now.
    public func read(timeout: Duration, stop: ([UInt8]) -> Bool = { _ in false }) -> Received {
        read(until: ContinuousClock.now + timeout, stop: stop)
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// True once `bytes` hold a complete response head and, if it declares one, the whole
/// Content-Length body: a stop condition for `RawConnection.read` on keep-alive connections.
public func isCompleteResponse(_ bytes: [UInt8]) -> Bool {
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return false }
    let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
    let length =
        head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
    return bytes.count >= end + 4 + length
}

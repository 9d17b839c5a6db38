import CMicroHTTPD
import CHTTPServerShims
import Dispatch
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Locking

/// Cuts connections that take too long to deliver a request, and makes room for new connections
/// by evicting ones that are only waiting: the slow-client (slowloris) and idle-flood defences
/// libmicrohttpd lacks.
///
/// libmicrohttpd's `MHD_OPTION_CONNECTION_TIMEOUT` is an *inactivity* timeout, reset by every byte
/// received, so a client sending a header byte every 500 ms holds its connection slot forever, and a
/// few dozen such clients hold every slot. Here every connection has a deadline from the moment it
/// opens (a few seconds for its first request, `headerLimit`; `limit` again from the end of each
/// answered request, for keep-alive): the whole request (headers and body) must be in by then. A
/// sweeper thread checks four times a second and `shutdown(2)`s late sockets; libmicrohttpd then
/// sees end of input and closes the connection itself, so the descriptor is never closed behind
/// its back.
///
/// The connection limits (in total, and per client address) are enforced here rather than by
/// libmicrohttpd, which refuses a new connection when they are reached: held by idle or trickling
/// connections, that let anyone who opens a few hundred sockets starve every scrape. At a limit, the
/// connection that has waited longest for a complete request is evicted instead (the one the new
/// connection would be refused for); only when every connection is answering is the new one cut.
///
/// The socket is only touched under the lock that the close notification also takes, and
/// libmicrohttpd closes a descriptor only after that notification returns: a descriptor number is
/// never shut down after it could have been reused.
///
/// The state is guarded by a `PlainLock` (a pthread mutex) rather than `Synchronization.Mutex`: the
/// callers are libmicrohttpd's C threads, and ThreadSanitizer on Linux does not see `Mutex` (futex
/// based, in the uninstrumented standard library), so it reported this class's accesses as races.
final class RequestDeadlines: @unchecked Sendable {
    private struct Entry {
        let fd: Int32
        /// The client's address (nil on a unix socket); the per-address limit counts by it.
        let peer: [UInt8]?
        /// When the current wait for a complete request began; nil while a request is being answered.
        var waitingSince: ContinuousClock.Instant?
        /// No request answered yet on this connection: `headerLimit` applies.
        var first = true
        var cut = false
    }

    let limit: Duration
    let headerLimit: Duration
    let maxConnections: Int
    let maxPerAddress: Int
    private let lock = PlainLock()
    private var connections: [UInt: Entry] = [:]
    private var cutCount = 0
    private var evictedCount = 0
    private var stopping = false
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - limit: a request on a kept-alive connection must be complete this long after the previous answer.
    ///   - headerLimit: the first request must be complete this long after the connection opened.
    ///   - maxConnections: connections in total (0: no limit here).
    ///   - maxPerAddress: connections from one client address (0: no limit).
    init(limit: Duration, headerLimit: Duration? = nil, maxConnections: Int = 0, maxPerAddress: Int = 0) {
        self.limit = limit
        self.headerLimit = min(headerLimit ?? limit, limit)
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
    }

    /// How many connections were cut for being too slow.
    var cut: Int { lock.withLock { cutCount } }

    /// How many waiting connections were evicted to make room for a new one (or new ones cut
    /// because every connection was answering).
    var evicted: Int { lock.withLock { evictedCount } }

    private static func key(_ connection: OpaquePointer?) -> UInt { UInt(bitPattern: connection.map { Int(bitPattern: $0) } ?? 0) }

    func opened(_ connection: OpaquePointer?, fd: Int32) {
        guard fd >= 0 else { return }
        let peer = Self.peerAddress(fd)
        lock.withLock {
            var entry = Entry(fd: fd, peer: peer, waitingSince: .now)
            if maxPerAddress > 0, let peer {
                let same = connections.filter { !$0.value.cut && $0.value.peer == peer }
                if same.count >= maxPerAddress && !evictLongestWaiting(among: same) { entry.cut = true }
            }
            if maxConnections > 0, !entry.cut {
                let live = connections.filter { !$0.value.cut }
                if live.count >= maxConnections && !evictLongestWaiting(among: live) { entry.cut = true }
            }
            if entry.cut {
                shutdown(fd, Int32(SHUT_RDWR))
                evictedCount += 1
            }
            connections[Self.key(connection)] = entry
        }
    }

    /// Shuts down the connection among `candidates` that has waited longest for a request; false
    /// when none is waiting (every one is being answered). Called with the lock held.
    private func evictLongestWaiting(among candidates: [UInt: Entry]) -> Bool {
        var victim: (key: UInt, since: ContinuousClock.Instant)?
        for (key, entry) in candidates {
            guard let since = entry.waitingSince else { continue }
            if victim == nil || since < victim!.since { victim = (key, since) }
        }
        guard let victim, let entry = connections[victim.key] else { return false }
        shutdown(entry.fd, Int32(SHUT_RDWR))
        connections[victim.key]?.cut = true
        evictedCount += 1
        return true
    }

    /// The peer's address bytes (family and address, no port), or nil for a unix socket.
    static func peerAddress(_ fd: Int32) -> [UInt8]? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            let offset = MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr)!
            return withUnsafeBytes(of: &storage) { raw in [4] + Array(raw[offset..<offset + 4]) }
        case AF_INET6:
            let offset = MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr)!
            return withUnsafeBytes(of: &storage) { raw in [6] + Array(raw[offset..<offset + 16]) }
        default:
            return nil
        }
    }

    func closed(_ connection: OpaquePointer?) {
        _ = lock.withLock { connections.removeValue(forKey: Self.key(connection)) }
    }

    /// A complete request is being answered: no deadline until it ends.
    func answering(_ connection: OpaquePointer?) {
        lock.withLock { connections[Self.key(connection)]?.waitingSince = nil }
    }

    /// The request ended; on a kept-alive connection the next one must arrive in time.
    func requestEnded(_ connection: OpaquePointer?) {
        lock.withLock {
            connections[Self.key(connection)]?.waitingSince = .now
            connections[Self.key(connection)]?.first = false
        }
    }

    /// Shuts down every socket past its deadline; returns how many.
    @discardableResult
    func sweep(now: ContinuousClock.Instant = .now) -> Int {
        lock.withLock {
            var count = 0
            for (key, entry) in connections {
                guard !entry.cut, let since = entry.waitingSince, now - since > (entry.first ? headerLimit : limit) else { continue }
                shutdown(entry.fd, Int32(SHUT_RDWR))
                connections[key]?.cut = true
                count += 1
            }
            cutCount += count
            return count
        }
    }

    func startSweeping() {
        startThread(name: "http-request-deadlines") { [self] in
            while !lock.withLock({ stopping }) {
                _ = wake.wait(timeout: .now() + .milliseconds(250))
                sweep()
            }
            finished.signal()
        }
    }

    /// Stops and joins the sweeper (call before `MHD_stop_daemon`).
    func stopSweeping() {
        lock.withLock { stopping = true }
        wake.signal()
        finished.wait()
    }
}

/// libmicrohttpd's connection notification, reached through `cwd_mhd_watch.context` (the server's
/// `HandlerContext`).
func mhdConnectionEvent(_ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?, _ fd: Int32, _ started: Int32) {
    guard let context else { return }
    let deadlines = Unmanaged<HandlerContext>.fromOpaque(context).takeUnretainedValue().deadlines
    if started != 0 {
        deadlines.opened(connection, fd: fd)
    } else {
        deadlines.closed(connection)
    }
}

import CMicroHTTPD
import CHTTPServerShims
import Dispatch
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Locking

/// Cuts connections that take too long to deliver a request: the slow-client (slowloris) defence
/// libmicrohttpd lacks.
///
/// libmicrohttpd's `MHD_OPTION_CONNECTION_TIMEOUT` is an *inactivity* timeout, reset by every byte
/// received, so a client sending a header byte every 500 ms holds its connection slot forever, and a
/// few dozen such clients hold every slot. Here every connection has a deadline from the moment it
/// opens (and again from the end of each answered request, for keep-alive): the whole request
/// (headers and body) must be in and answered by then. A sweeper thread checks four times a second
/// and `shutdown(2)`s late sockets; libmicrohttpd then sees end of input and closes the connection
/// itself, so the descriptor is never closed behind its back.
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
        /// When the current wait for a complete request began; nil while a request is being answered.
        var waitingSince: ContinuousClock.Instant?
        var cut = false
    }

    let limit: Duration
    private let lock = PlainLock()
    private var connections: [UInt: Entry] = [:]
    private var cutCount = 0
    private var stopping = false
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(limit: Duration) {
        self.limit = limit
    }

    /// How many connections were cut for being too slow.
    var cut: Int { lock.withLock { cutCount } }

    private static func key(_ connection: OpaquePointer?) -> UInt { UInt(bitPattern: connection.map { Int(bitPattern: $0) } ?? 0) }

    func opened(_ connection: OpaquePointer?, fd: Int32) {
        guard fd >= 0 else { return }
        lock.withLock { connections[Self.key(connection)] = Entry(fd: fd, waitingSince: .now) }
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
        lock.withLock { connections[Self.key(connection)]?.waitingSince = .now }
    }

    /// Shuts down every socket past its deadline; returns how many.
    @discardableResult
    func sweep(now: ContinuousClock.Instant = .now) -> Int {
        lock.withLock {
            var count = 0
            for (key, entry) in connections {
                guard !entry.cut, let since = entry.waitingSince, now - since > limit else { continue }
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

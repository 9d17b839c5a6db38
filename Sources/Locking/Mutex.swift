import CSystemShims

/// A pthread mutex at a stable address (owned by the C shim): what `Mutex` and the few callers
/// that need a timed wait lock with.
///
/// Why not Foundation's `NSLock`, which is the same thing: importing Foundation links all of it
/// (with ICU and CoreFoundation, about 8 MB of code) into the watchdog, and the kernel keeps most
/// of that resident (BENCHMARKS.md, resident memory). The modules of the watchdog use
/// `FoundationEssentials` at most.
public final class PlainLock: @unchecked Sendable {
    private let mutex: OpaquePointer

    public init() {
        guard let mutex = cwd_mutex_create() else { fatalError("out of memory creating a mutex") }
        self.mutex = mutex
    }

    deinit { cwd_mutex_destroy(mutex) }

    @inline(__always) public func lock() { cwd_mutex_lock(mutex) }
    @inline(__always) public func unlock() { cwd_mutex_unlock(mutex) }

    /// Takes the lock if it becomes free within `timeout` (measured on the monotonic clock);
    /// false when it did not.
    public func lock(within timeout: Duration) -> Bool {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds > Int64.max / 1_000_000_000 ? Int64.max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return cwd_mutex_lock_within(mutex, nanoseconds) != 0
    }

    /// Runs `body` with the lock held.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: () throws(E) -> Result) throws(E) -> Result {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value behind a lock: the call shape of the standard library's `Synchronization.Mutex`
/// (`Mutex(value)`, `withLock { … }`, typed throws), built on `PlainLock`.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with a futex that ThreadSanitizer does not
/// see, so every access it protects is reported as a race (reproduction:
/// scripts/checks/sanitizers/mutex-tsan-repro.swift). With those false reports a sanitizer run
/// cannot tell a real race, so the project's modules import this instead; `PlainLock` is a pthread
/// mutex, which ThreadSanitizer follows. Not recursive, like the standard one.
public final class Mutex<Value>: @unchecked Sendable {
    private let lock = PlainLock()
    private var value: Value

    public init(_ initialValue: Value) { value = initialValue }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

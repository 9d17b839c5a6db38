import Foundation

/// A value behind a lock: the call shape of the standard library's `Synchronization.Mutex`
/// (`Mutex(value)`, `withLock { … }`, typed throws), built on `NSLock`.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with a futex that ThreadSanitizer does not
/// see, so every access it protects is reported as a race (reproduction:
/// scripts/checks/sanitizers/mutex-tsan-repro.swift). With those false reports a sanitizer run
/// cannot tell a real race, so the project's modules import this instead; `NSLock` is a pthread
/// mutex, which ThreadSanitizer follows. Not recursive, like the standard one.
public final class Mutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
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

import CSystemShims

/// Starts a detached thread called `name` (shown by `ps -L`, `top -H`, `perf`; at most 15 bytes
/// kept) that runs `body`.
///
/// Foundation's `Thread` is not in FoundationEssentials, and the watchdog does not link Foundation
/// (see `PlainLock`). The watchdog's long-lived loops (collector runners, the events streamer, the
/// log writer, the HTTP deadline sweeper) each run on a thread of their own so that a call blocked
/// on a hung daemon never holds up another.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let error = cwd_thread_start(
        name,
        { context in
            guard let context else { return }
            Unmanaged<ThreadBody>.fromOpaque(context).takeRetainedValue().body()
        }, box)
    if error != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        fatalError("cannot start thread \(name): pthread_create error \(error)")
    }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Blocks the calling thread for `duration`, measured on the monotonic clock (a wall-clock step
/// neither shortens nor stretches it): Foundation's `Thread.sleep`, without Foundation.
public func sleepThread(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0, duration > .zero else { return }
    let nanoseconds = seconds > Int64.max / 1_000_000_000 ? Int64.max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    cwd_sleep_ns(nanoseconds)
}

import Dispatch
import FoundationEssentials

/// Waiting with a deadline on the monotonic clock only, so that setting the wall clock (NTP step,
/// `date -s`, a VM resumed from a snapshot) neither stalls nor hurries the watchdog.
///
/// Why not `NSCondition.wait(until:)` or `DispatchSemaphore.wait(timeout:)`: on Linux both hand the
/// kernel an absolute CLOCK_REALTIME deadline (`pthread_cond_timedwait` on a default condition,
/// `sem_timedwait` in this toolchain's libdispatch). Setting the wall clock back by an hour while a
/// thread waits makes that wait an hour longer — every sampling loop would stop for that hour.
/// `sleepThread(for:)` is `clock_nanosleep` on CLOCK_MONOTONIC, which the
/// wall clock does not move. Polling in slices that start short and grow keeps the latency of a
/// quick answer (statvfs returns in microseconds) and the wake-ups of a long wait both small.
public enum MonotonicWait {
    /// Longest single sleep: bounds how late a `condition` that became true is noticed.
    public static let maxSlice: Duration = .milliseconds(250)

    /// Waits until `condition()` holds (returns true) or `deadline` passes (returns false).
    public static func until(
        _ deadline: ContinuousClock.Instant, maxSlice: Duration = maxSlice, _ condition: () -> Bool
    ) -> Bool {
        var slice: Duration = .microseconds(100)
        while true {
            if condition() { return true }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return false }
            sleepThread(for: min(slice, remaining, maxSlice))
            slice = min(slice * 2, maxSlice)
        }
    }
}

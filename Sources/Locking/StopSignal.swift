import FoundationEssentials

/// A stop flag that a sleeping loop can be woken by.
///
/// The sleep runs on the monotonic clock (see `MonotonicWait`): a wall-clock step must not stall a
/// sampling loop. `stop()` is noticed within `MonotonicWait.maxSlice`.
public final class StopSignal: Sendable {
    private let stopped = Mutex(false)
    private let nudged = Mutex(false)

    public init() {}

    public var isStopped: Bool { stopped.withLock { $0 } }

    public func stop() {
        stopped.withLock { $0 = true }
    }

    /// Ends the current (or the next) `wait` early, once.
    public func nudge() {
        nudged.withLock { $0 = true }
    }

    /// Sleeps until `deadline`, `stop()` or `nudge()`.
    public func wait(until deadline: ContinuousClock.Instant) {
        _ = MonotonicWait.until(deadline) {
            isStopped
                || nudged.withLock { n in
                    defer { n = false }; return n
                }
        }
    }
}

/// A duration in seconds, for metrics and Dispatch deadlines.
public func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

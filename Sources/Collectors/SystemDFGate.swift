import DockerEngine
import FoundationEssentials
import Locking

/// Keeps `/system/df` single-flight across the collectors that call it, and keeps the latest answer
/// so one collector can use another's recent answer instead of walking the daemon's data again.
///
/// `/system/df` is the most expensive call the watchdog makes (on a big host it walks every image,
/// container and volume for minutes), so two at once are never sent, whichever collectors ask.
public final class SystemDFGate: Sendable {
    /// One successful answer and when it was fetched.
    public struct Answer: Sendable {
        public var usage: SystemDiskUsage
        /// Wall-clock time the call started: everything the daemon had created before this is in it.
        public var startedAt: Date
        /// When the answer arrived.
        public var finishedAt: ContinuousClock.Instant
        /// Increases with every answer through the gate.
        public var serial: UInt64
    }

    /// The gate stayed closed for longer than a caller was willing to wait.
    public struct Busy: Error, CustomStringConvertible {
        public let waited: Duration
        public var description: String { "another /system/df call was still running after \(waited)" }
    }

    private let lock = PlainLock()
    private let latest = Mutex<Answer?>(nil)
    private let serials = Mutex<UInt64>(0)

    public init() {}

    /// The most recent successful answer of any caller.
    public var latestAnswer: Answer? { latest.withLock { $0 } }

    /// Runs `call` while no other `/system/df` call of this process runs, waiting at most `wait` for
    /// one to finish, and keeps its answer (without the per-item detail: see `withoutItems`).
    ///
    /// - Parameter reuse: looked at after the gate is taken (so after a call another collector had
    ///   under way has finished): if it accepts the latest answer, that answer is returned and no call
    ///   is made.
    public func fetch(
        waitingAtMost wait: Duration, reuse: (Answer) -> Bool = { _ in false },
        _ call: () throws(DockerError) -> SystemDiskUsage
    ) throws -> Answer {
        guard lock.lock(within: wait) else { throw Busy(waited: wait) }
        defer { lock.unlock() }
        if let previous = latestAnswer, reuse(previous) { return previous }
        let startedAt = Date()
        let usage = try call().withoutItems()
        let serial = serials.withLock { s -> UInt64 in
            s += 1
            return s
        }
        let answer = Answer(usage: usage, startedAt: startedAt, finishedAt: .now, serial: serial)
        latest.withLock { $0 = answer }
        return answer
    }

    /// `fetch` for callers that only want the answer.
    public func fetchUsage(waitingAtMost wait: Duration, _ call: () throws(DockerError) -> SystemDiskUsage) throws -> SystemDiskUsage {
        try fetch(waitingAtMost: wait, call).usage
    }
}

extension SystemDiskUsage {
    /// The answer without its image, container and volume items: nothing reads them once the
    /// categories are summed, and the gate and the system_df collector each keep the latest
    /// answer until the next one, minutes later (0.45 MiB of heap at 1,000 containers). The
    /// build-cache records stay: the build_cache collector reads them.
    func withoutItems() -> SystemDiskUsage {
        var usage = self
        usage.imageItems = []
        usage.containerItems = []
        usage.volumeItems = []
        return usage
    }
}

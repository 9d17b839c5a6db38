import FoundationEssentials
import Sampling

/// The two clocks a remediation policy reads, and which decision belongs to which.
///
/// Cool-downs, backoffs, restart-cap windows and the spans the watchdog measures itself (how long
/// the daemon has failed, how long a container has been unhealthy since the watchdog learned of
/// it) are intervals of elapsed time: they are scheduled on the monotonic clock (`ContinuousClock`),
/// so setting the wall clock back cannot stretch a cool-down and setting it forward cannot cut one
/// short (that could allow a second daemon restart inside its cool-down).
///
/// The wall clock (`Date`) stays where the time is a date by nature: audit-log and action
/// timestamps, the last-action metric, and comparisons with times Docker reports (image and
/// container ages, health event times). A moment Docker reports is turned into a monotonic instant
/// once, when the policy first sees it (`PolicyClock.instant(of:at:)`); from then on its age grows with
/// elapsed time only.
public struct PolicyClock: Sendable {
    /// Wall-clock time: timestamps, and comparisons with Docker's times.
    public var wall: @Sendable () -> Date
    /// Monotonic time: every wait the policy schedules.
    public var monotonic: @Sendable () -> ContinuousClock.Instant

    public init(
        wall: @escaping @Sendable () -> Date = { Date() },
        monotonic: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.wall = wall
        self.monotonic = monotonic
    }

    public static let system = PolicyClock()

    /// Both clocks read together.
    public func now() -> (wall: Date, monotonic: ContinuousClock.Instant) { (wall(), monotonic()) }

    /// The monotonic instant of a wall-clock moment, given both clocks read together: as long ago as
    /// the wall clock says (a moment in the future counts as now).
    public static func instant(of date: Date, at now: (wall: Date, monotonic: ContinuousClock.Instant)) -> ContinuousClock.Instant {
        now.monotonic - .seconds(max(0, now.wall.timeIntervalSince(date)))
    }
}

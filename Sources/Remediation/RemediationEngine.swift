import Exposition
import FoundationEssentials
import Sampling

/// A remediation policy: decides whether to act and acts through the `ActionLedger`.
public protocol RemediationPolicy: Sendable {
    /// "disk", "daemon", "autoheal": the `policy` label and the audit log's policy field.
    var name: String { get }
    var enabled: Bool { get }
    var dryRun: Bool { get }
    /// Looks at the latest state and acts if warranted. Runs on the engine's thread only.
    func evaluate()
    /// What the policy would do now, and why, in sentences (for `/api/v1/plan`).
    var plan: [String] { get }
    /// How far back the audit log must be read for this policy's cool-downs, backoffs and caps.
    var memoryHorizon: Duration { get }
    /// Continues the waits and caps of earlier processes from their audit records (called once,
    /// before the first evaluation). Never lets the policy act sooner than one process would have.
    func restore(from history: AuditHistory, at now: (wall: Date, monotonic: ContinuousClock.Instant))
}

extension DiskRemediation: RemediationPolicy {
    public var name: String { "disk" }
    public var enabled: Bool { settings.enabled }
    public var dryRun: Bool { settings.dryRun }
}

/// Evaluates every policy, one at a time, on one thread (the Watchdog module runs ``evaluate()``
/// on a loop of its own): at most one action runs at any moment, across all policies.
public final class RemediationEngine: Sendable {
    public let interval: Duration
    /// The longest one evaluation can take: a prune of a big build cache can take minutes.
    public var maxRoundDuration: Duration { .seconds(1800) }
    public let ledger: ActionLedger
    public let policies: [any RemediationPolicy]
    private let disk: DiskRemediation?

    public init(interval: Duration, ledger: ActionLedger, policies: [any RemediationPolicy]) {
        self.interval = interval
        self.ledger = ledger
        self.policies = policies
        self.disk = policies.compactMap { $0 as? DiskRemediation }.first
    }

    /// The span of audit log read back at start: what every policy needs, and at least a day of
    /// actions for `/api/v1/actions`.
    public var memoryHorizon: Duration { max(policies.map(\.memoryHorizon).max() ?? .zero, .seconds(86_400)) }

    /// Reads the audit log back and hands it to the ledger and every policy (see `AuditHistory`).
    @discardableResult
    public func restoreFromAuditLog(clock: PolicyClock = .system) -> AuditHistory {
        let now = clock.now()
        let history = AuditHistory.read(path: ledger.audit.path, horizon: memoryHorizon, now: now.wall)
        ledger.restore(history, now: now.wall)
        for policy in policies { policy.restore(from: history, at: now) }
        return history
    }

    /// Lets every enabled policy act, then returns remediation's metric families.
    public func evaluate() -> [MetricFamily] {
        for policy in policies where policy.enabled { policy.evaluate() }
        var families = ledger.families(policies: policies.map { ($0.name, $0.enabled, $0.dryRun) })
        if let disk, disk.enabled {
            families.append(MetricCatalog.diskPressure.family(value: disk.underPressure ? 1 : 0))
            let byFilesystem = disk.pressureByPath.sorted { $0.key < $1.key }
            if !byFilesystem.isEmpty {
                families.append(MetricCatalog.diskFilesystemPressure.family(byFilesystem.map { ([Label("path", $0.key)], $0.value ? 1 : 0) }))
            }
            if let e = disk.lastEpisode {
                families += [
                    MetricCatalog.lastEpisodeNeeded.family(value: Double(e.neededBytes)),
                    MetricCatalog.lastEpisodeFreed.family(value: Double(e.freedBytes)),
                    MetricCatalog.lastEpisodeDuration.family(value: e.seconds),
                    MetricCatalog.lastEpisodeEnd.family(value: e.end.timeIntervalSince1970),
                    MetricCatalog.lastEpisodeResult.family(
                        ["reached_target", "steps_exhausted", "dry_run"].map { ([Label("result", $0)], e.result == $0 ? 1 : 0) }),
                ]
            }
        }
        return families
    }

    /// The current plan of every policy, for `/api/v1/plan`.
    public struct PlanEntry: Sendable, Codable {
        public var policy: String
        public var enabled: Bool
        public var dryRun: Bool
        public var suppressed: String?
        public var plan: [String]
    }

    public var currentPlan: [PlanEntry] {
        policies.map { PlanEntry(policy: $0.name, enabled: $0.enabled, dryRun: $0.dryRun, suppressed: ledger.suppression($0.name), plan: $0.plan) }
    }
}

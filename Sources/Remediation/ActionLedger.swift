import Exposition
import FoundationEssentials
import Logging
import Locking
import Sampling

/// What one action achieved, as the code that ran it reports it.
public struct ActionOutcome: Sendable {
    public var removed: [String] = []
    public var bytesReclaimed: Int64?
    public init(removed: [String] = [], bytesReclaimed: Int64? = nil) {
        self.removed = removed
        self.bytesReclaimed = bytesReclaimed
    }
}

/// Runs actions for the policies: dry-run, audit before and after, count, remember.
///
/// Policies decide *whether*; the ledger decides nothing, it only makes every action that happens
/// (or would happen, in a dry run) visible in the audit log, the metrics and `/api/v1/actions`.
public final class ActionLedger: Sendable {
    struct Key: Hashable, Sendable { var policy: String; var action: String }

    struct State {
        var performed: [Key: UInt64] = [:]
        var failed: [Key: UInt64] = [:]
        var dryRuns: [Key: UInt64] = [:]
        var reclaimed: [String: Int64] = [:]
        var lastAction: [String: Date] = [:]
        var suppressed: [String: String] = [:]
        var recent: [AuditRecord] = []
        var sequence: UInt64 = 0
    }

    public let audit: AuditLog
    public let recentLimit: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// Told of every action that ends (finished, failed, or planned in a dry run).
    public let webhook: Webhook?

    public init(audit: AuditLog, logger: Logger, recentLimit: Int = 200, webhook: Webhook? = nil) {
        self.audit = audit
        self.logger = logger
        self.recentLimit = recentLimit
        self.webhook = webhook
    }

    /// Runs `body` as one audited action, or only plans it when `dryRun`. Returns the final record.
    @discardableResult
    public func perform(
        policy: String, action: String, targets: [String], reason: String, dryRun: Bool, now: Date = Date(),
        _ body: () throws -> ActionOutcome
    ) -> AuditRecord {
        let id = state.withLock { s -> String in
            s.sequence += 1
            return "\(Int(now.timeIntervalSince1970))-\(s.sequence)"
        }
        var record = AuditRecord(
            time: now, actionID: id, policy: policy, action: action, phase: "planned", dryRun: dryRun, reason: reason,
            targets: targets, removed: [], bytesReclaimed: nil, error: nil)
        let key = Key(policy: policy, action: action)
        do {
            try audit.append(record)
        } catch {
            record.phase = "failed"
            record.error = "not run: \(error)"
            fail(record, key: key)
            return record
        }
        if dryRun {
            logger.notice("dry run: would act", metadata: meta(record))
            state.withLock { s in
                s.dryRuns[key, default: 0] += 1
                remember(&s, record)
            }
            return record
        }
        record.phase = "started"
        record.time = Date()
        try? audit.append(record)
        logger.notice("remediation started", metadata: meta(record))
        do {
            let outcome = try body()
            record.phase = "finished"
            record.time = Date()
            record.removed = outcome.removed
            record.bytesReclaimed = outcome.bytesReclaimed
            do {
                try audit.append(record)
            } catch {
                logger.error("audit log write failed after an action", metadata: ["error": "\(error)"])
            }
            logger.notice("remediation finished", metadata: meta(record))
            state.withLock { s in
                s.performed[key, default: 0] += 1
                if let bytes = outcome.bytesReclaimed, bytes > 0 { s.reclaimed[action, default: 0] += bytes }
                s.lastAction[policy] = record.time
                remember(&s, record)
            }
        } catch {
            record.phase = "failed"
            record.time = Date()
            record.error = "\(error)"
            try? audit.append(record)
            fail(record, key: key)
        }
        return record
    }

    /// Records that a policy is holding back (cool-down, cap) or free again (`reason` nil).
    public func setSuppressed(_ policy: String, reason: String?) {
        let changed = state.withLock { s -> Bool in
            let old = s.suppressed[policy]
            s.suppressed[policy] = reason
            return old != reason
        }
        if changed, let reason {
            logger.warning("remediation suppressed", metadata: ["policy": "\(policy)", "reason": "\(reason)"])
        }
    }

    public var recent: [AuditRecord] { state.withLock { $0.recent } }

    public func suppression(_ policy: String) -> String? { state.withLock { $0.suppressed[policy] } }

    public func lastAction(_ policy: String) -> Date? { state.withLock { $0.lastAction[policy] } }

    private func fail(_ record: AuditRecord, key: Key) {
        logger.error("remediation failed", metadata: meta(record))
        state.withLock { s in
            s.failed[key, default: 0] += 1
            s.lastAction[record.policy] = record.time
            remember(&s, record)
        }
    }

    private func remember(_ s: inout State, _ record: AuditRecord) {
        webhook?.post(record)
        s.recent.append(record)
        if s.recent.count > recentLimit { s.recent.removeFirst(s.recent.count - recentLimit) }
    }

    private func meta(_ r: AuditRecord) -> Logger.Metadata {
        var m: Logger.Metadata = [
            "policy": "\(r.policy)", "action": "\(r.action)", "action_id": "\(r.actionID)", "reason": "\(r.reason)",
            "targets": "\(r.targets.joined(separator: ","))",
        ]
        if let bytes = r.bytesReclaimed { m["bytes_reclaimed"] = "\(bytes)" }
        if !r.removed.isEmpty { m["removed"] = "\(r.removed.count)" }
        if let e = r.error { m["error"] = "\(e)" }
        return m
    }

    /// The remediation metrics.
    func families(policies: [(name: String, enabled: Bool, dryRun: Bool)]) -> [MetricFamily] {
        let s = state.withLock { $0 }
        func series(_ counts: [Key: UInt64]) -> [([Label], Double)] {
            counts.sorted { ($0.key.policy, $0.key.action) < ($1.key.policy, $1.key.action) }
                .map { ([Label("policy", $0.key.policy), Label("action", $0.key.action)], Double($0.value)) }
        }
        return [
            MetricCatalog.remediationActions.family(series(s.performed)),
            MetricCatalog.remediationFailures.family(series(s.failed)),
            MetricCatalog.remediationDryRuns.family(series(s.dryRuns)),
            MetricCatalog.remediationReclaimed.family(s.reclaimed.sorted { $0.key < $1.key }.map { ([Label("action", $0.key)], Double($0.value)) }),
            MetricCatalog.remediationLastAction.family(s.lastAction.sorted { $0.key < $1.key }.map { ([Label("policy", $0.key)], $0.value.timeIntervalSince1970) }),
            MetricCatalog.remediationSuppressed.family(
                policies.map { p in
                    ([Label("policy", p.name)], s.suppressed[p.name] == nil ? 0 : 1)
                }),
            MetricCatalog.remediationEnabled.family(policies.map { ([Label("policy", $0.name)], $0.enabled ? 1 : 0) }),
            MetricCatalog.remediationDryRun.family(policies.map { ([Label("policy", $0.name)], $0.dryRun ? 1 : 0) }),
        ]
    }
}

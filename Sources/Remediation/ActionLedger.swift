import Exposition
import FoundationEssentials
import Logging
import Locking
import Sampling

/// What one action achieved, as the code that ran it reports it.
public struct ActionOutcome: Sendable {
    public var removed: [String] = []
    public var bytesReclaimed: Int64?
    /// Disk actions: free space is back at the target.
    public var targetReached: Bool?
    public init(removed: [String] = [], bytesReclaimed: Int64? = nil, targetReached: Bool? = nil) {
        self.removed = removed
        self.bytesReclaimed = bytesReclaimed
        self.targetReached = targetReached
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
        var interrupted: [Key: UInt64] = [:]
        /// What the start-up read of the audit log found: records restored, lines unreadable.
        var restoredRecords = 0
        var unreadableLines = 0
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
        policy: String, action: String, targets: [String], reason: String, dryRun: Bool, estimatedBytes: Int64? = nil,
        now: Date = Date(), _ body: () throws -> ActionOutcome
    ) -> AuditRecord {
        // Later phases are stamped `now` plus the real time elapsed since, so that a policy's clock
        // (a fake one in tests) dates the whole action.
        let realStart = Date()
        let stamp = { now.addingTimeInterval(Date().timeIntervalSince(realStart)) }
        let id = state.withLock { s -> String in
            s.sequence += 1
            return "\(Int(now.timeIntervalSince1970))-\(s.sequence)"
        }
        var record = AuditRecord(
            time: now, actionID: id, policy: policy, action: action, phase: "planned", dryRun: dryRun, reason: reason,
            targets: targets, removed: [], bytesReclaimed: nil, error: nil)
        record.estimatedBytes = estimatedBytes
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
        record.time = stamp()
        try? audit.append(record)
        logger.notice("remediation started", metadata: meta(record))
        do {
            let outcome = try body()
            record.phase = "finished"
            record.time = stamp()
            record.removed = outcome.removed
            record.bytesReclaimed = outcome.bytesReclaimed
            record.targetReached = outcome.targetReached
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
            record.time = stamp()
            record.error = "\(error)"
            try? audit.append(record)
            fail(record, key: key)
        }
        return record
    }

    /// Takes up what earlier processes left in the audit log: an `interrupted` record for every
    /// action that started and never ended (the process died mid-action), the recent actions for
    /// `/api/v1/actions`, and each policy's last action time. Policies restore their own waits.
    public func restore(_ history: AuditHistory, now: Date = Date()) {
        if history.tornTail { audit.endTornLine() }
        if let error = history.readError {
            logger.error("cannot read the audit log back: policies wait as if an action had just run", metadata: ["error": "\(error)"])
        } else if history.unreadableLines > 0 {
            logger.warning(
                "audit log lines could not be read back: policies wait as if an action ran at the log's last change",
                metadata: [
                    "path": "\(audit.path)", "lines": "\(history.unreadableLines)",
                    "modified": "\(history.modified.map { $0.formatted(.iso8601) } ?? "unknown")",
                ])
        }
        state.withLock { s in
            s.restoredRecords = history.records.count
            s.unreadableLines = history.unreadableLines + (history.readError == nil ? 0 : 1)
            s.sequence = UInt64(history.records.count)
            for record in history.records.suffix(recentLimit) { s.recent.append(record) }
            for record in history.records where !record.dryRun && (record.phase == "finished" || record.phase == "failed") {
                s.lastAction[record.policy] = max(s.lastAction[record.policy] ?? record.time, record.time)
            }
        }
        for started in history.unfinished {
            var record = started
            record.phase = "interrupted"
            record.time = now
            record.error =
                "the watchdog stopped (killed, crashed or the host went down) after this action started at \(started.time.formatted(.iso8601)) and before it ended: whether it took effect is unknown"
            do {
                try audit.append(record)
            } catch {
                logger.error("audit log write failed for an interrupted action", metadata: ["error": "\(error)"])
            }
            logger.warning("remediation interrupted by the end of an earlier watchdog process", metadata: meta(record))
            state.withLock { s in
                s.interrupted[Key(policy: record.policy, action: record.action), default: 0] += 1
                s.recent.append(record)
                if s.recent.count > recentLimit { s.recent.removeFirst(s.recent.count - recentLimit) }
            }
        }
    }

    /// Writes a `skipped` record: a policy gives up on a target (no action runs; read back at the
    /// next start so that the decision survives a restart).
    public func skip(policy: String, action: String, targets: [String], reason: String, dryRun: Bool, now: Date = Date()) {
        let record = AuditRecord(
            time: now,
            actionID: state.withLock { s in
                s.sequence += 1
                return "\(Int(now.timeIntervalSince1970))-\(s.sequence)"
            }, policy: policy, action: action, phase: "skipped", dryRun: dryRun, reason: reason, targets: targets, removed: [],
            bytesReclaimed: nil, error: nil)
        do {
            try audit.append(record)
        } catch {
            logger.error("audit log write failed", metadata: ["error": "\(error)"])
        }
        state.withLock { s in
            s.recent.append(record)
            if s.recent.count > recentLimit { s.recent.removeFirst(s.recent.count - recentLimit) }
        }
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
            MetricCatalog.remediationInterrupted.family(series(s.interrupted)),
            MetricCatalog.auditLogRestoredRecords.family(value: Double(s.restoredRecords)),
            MetricCatalog.auditLogUnreadableLines.family(value: Double(s.unreadableLines)),
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

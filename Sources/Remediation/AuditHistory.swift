import FoundationEssentials
import Locking

/// What the audit log remembers of earlier watchdog processes: the memory of remediation.
///
/// Cool-downs, backoffs and caps would otherwise start fresh with every process, so a watchdog
/// restarted by systemd (or a host rebooted) could restart a container or the daemon sooner or
/// more often than one process would have. At start the watchdog reads the log's tail back,
/// bounded in bytes and in time (the longest span a policy needs), and each policy restores its
/// waits from the records. Whatever cannot be read is treated as an action at the file's last
/// modification: waits start later, never sooner.
public struct AuditHistory: Sendable {
    /// Records inside the horizon, oldest first.
    public var records: [AuditRecord] = []
    /// Actions that were `started` and never `finished` or `failed`: the process died meanwhile.
    public var unfinished: [AuditRecord] = []
    /// Lines in the read part that do not parse as records (a torn write, a hand edit).
    public var unreadableLines = 0
    /// Set when the log could not be read at all (it exists but cannot be opened or read).
    public var readError: String?
    /// The log's last modification: the time of anything unreadable.
    public var modified: Date?
    /// The file does not end with a newline: the next record must start on a line of its own.
    public var tornTail = false

    public init() {}

    /// True when part of the log could not be read: policies act later, not sooner.
    public var isDamaged: Bool { unreadableLines > 0 || readError != nil }

    /// How much of the log's end is read at most: at about 400 bytes a record, tens of thousands of
    /// actions, far more than any cap allows inside its window.
    public static let defaultByteLimit = 8 << 20

    /// Reads the records of the last `horizon` before `now` from the log at `path`. A missing log is
    /// an empty history.
    public static func read(path: String, horizon: Duration, now: Date, byteLimit: Int = defaultByteLimit) -> AuditHistory {
        var history = AuditHistory()
        switch AuditLog.readTail(path: path, byteLimit: byteLimit) {
        case .missing: break
        case .failure(let reason): history.readError = reason
        case .tail(let bytes, let startsMidLine, let modified):
            history.modified = modified
            history.tornTail = !bytes.isEmpty && bytes.last != 0x0A
            history.parse(bytes, startsMidLine: startsMidLine, since: now.addingTimeInterval(-seconds(horizon)))
        }
        return history
    }

    /// Parses JSON lines, keeping the records at or after `since`. A read that began inside the
    /// file drops its first, partial line.
    mutating func parse(_ bytes: [UInt8], startsMidLine: Bool, since: Date) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        if startsMidLine && !lines.isEmpty { lines.removeFirst() }
        var open: [String: AuditRecord] = [:]
        var order: [String] = []
        for line in lines {
            guard let record = try? decoder.decode(AuditRecord.self, from: Data(line)) else {
                unreadableLines += 1
                continue
            }
            switch record.phase {
            case "started":
                if open[record.actionID] == nil { order.append(record.actionID) }
                open[record.actionID] = record
            case "finished", "failed", "interrupted":
                open[record.actionID] = nil
            default: break
            }
            if record.time >= since { records.append(record) }
        }
        unfinished = order.compactMap { open[$0] }
    }
}

extension AuditHistory {
    /// The non-dry-run attempts of `policy`'s `action` inside the history (one per action, at the
    /// time it started; an interrupted one counts: it may have acted), oldest first.
    public func attempts(policy: String, action: String) -> [AuditRecord] {
        records.filter { $0.policy == policy && $0.action == action && !$0.dryRun && $0.phase == "started" }
    }

    /// The dry-run plans of `policy`'s `action` inside the history, oldest first.
    public func dryRuns(policy: String, action: String) -> [AuditRecord] {
        records.filter { $0.policy == policy && $0.action == action && $0.dryRun && $0.phase == "planned" }
    }
}

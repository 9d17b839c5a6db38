import Exposition
import Sampling

/// Metrics about what the watchdog did to the host (the `remediation` collector).
extension MetricCatalog {
    public static let remediationActions = MetricDescriptor(
        name: "docker_watchdog_remediation_actions", type: .counter,
        help: "Remediation actions that ran to completion, by policy (disk, daemon, autoheal) and action.",
        labels: ["policy", "action"], collector: "remediation")
    public static let remediationFailures = MetricDescriptor(
        name: "docker_watchdog_remediation_failures", type: .counter,
        help: "Remediation actions that failed or were not run because the audit log could not be written, by policy and action.",
        labels: ["policy", "action"], collector: "remediation")
    public static let remediationDryRuns = MetricDescriptor(
        name: "docker_watchdog_remediation_dry_run_actions", type: .counter,
        help: "Actions a policy in dry-run mode planned and reported instead of running, by policy and action.",
        labels: ["policy", "action"], collector: "remediation")
    public static let remediationInterrupted = MetricDescriptor(
        name: "docker_watchdog_remediation_interrupted_actions", type: .counter,
        help: "Actions an earlier watchdog process started and never ended (killed, crashed, host down), found in the audit log at start and marked interrupted, by policy and action.",
        labels: ["policy", "action"], collector: "remediation")
    public static let auditLogRestoredRecords = MetricDescriptor(
        name: "docker_watchdog_audit_log_restored_records", type: .gauge,
        help: "Audit log records read back at start, inside the longest span a policy remembers (cool-downs, backoffs, caps continue from them).",
        labels: [], collector: "remediation")
    public static let auditLogUnreadableLines = MetricDescriptor(
        name: "docker_watchdog_audit_log_unreadable_lines", type: .gauge,
        help: "Audit log lines that could not be read back at start (1 also when the log cannot be read at all); policies then wait as if an action ran at the log's last change.",
        labels: [], collector: "remediation")
    public static let remediationReclaimed = MetricDescriptor(
        name: "docker_watchdog_remediation_reclaimed_bytes", type: .counter,
        help: "Free bytes gained on the Docker root's filesystem by disk remediation, measured with statvfs before and after each step, by action.",
        labels: ["action"], collector: "remediation")
    public static let remediationLastAction = MetricDescriptor(
        name: "docker_watchdog_remediation_last_action_timestamp_seconds", type: .gauge,
        help: "Unix time of the policy's last action (finished or failed).",
        labels: ["policy"], collector: "remediation")
    public static let remediationSuppressed = MetricDescriptor(
        name: "docker_watchdog_remediation_suppressed", type: .gauge,
        help: "1 while a policy wants to act but holds back (cool-down, cap reached, nothing left to remove); the reason is in the log and /api/v1/plan.",
        labels: ["policy"], collector: "remediation")
    public static let remediationEnabled = MetricDescriptor(
        name: "docker_watchdog_remediation_enabled", type: .gauge,
        help: "1 if the remediation policy is enabled.",
        labels: ["policy"], collector: "remediation")
    public static let remediationDryRun = MetricDescriptor(
        name: "docker_watchdog_remediation_dry_run", type: .gauge,
        help: "1 if the remediation policy only plans and reports (dry run).",
        labels: ["policy"], collector: "remediation")
    public static let diskPressure = MetricDescriptor(
        name: "docker_watchdog_disk_pressure", type: .gauge,
        help: "1 from the moment free space or inodes fell below the act threshold until they are back above the target (hysteresis), on any filesystem holding Docker data, else 0.",
        labels: [], collector: "remediation")
    public static let diskFilesystemPressure = MetricDescriptor(
        name: "docker_watchdog_disk_filesystem_pressure", type: .gauge,
        help:
            "docker_watchdog_disk_pressure for each filesystem holding Docker data (path as in docker_data_filesystem_size_bytes): the thresholds apply to each, and the ladder runs only the steps that free space on the one below the mark.",
        labels: ["path"], collector: "remediation")

    public static let lastEpisodeNeeded = MetricDescriptor(
        name: "docker_watchdog_remediation_last_episode_needed_bytes", type: .gauge,
        help: "Bytes the last disk episode had to free to reach the target, measured when it began.",
        labels: [], collector: "remediation")
    public static let lastEpisodeFreed = MetricDescriptor(
        name: "docker_watchdog_remediation_last_episode_freed_bytes", type: .gauge,
        help: "Free bytes the last disk episode gained on the Docker root's filesystem (statvfs at its start and end).",
        labels: [], collector: "remediation")
    public static let lastEpisodeDuration = MetricDescriptor(
        name: "docker_watchdog_remediation_last_episode_duration_seconds", type: .gauge,
        help: "How long the last disk episode ran.",
        labels: [], collector: "remediation")
    public static let lastEpisodeEnd = MetricDescriptor(
        name: "docker_watchdog_remediation_last_episode_end_timestamp_seconds", type: .gauge,
        help: "Unix time the last disk episode ended.",
        labels: [], collector: "remediation")
    public static let lastEpisodeResult = MetricDescriptor(
        name: "docker_watchdog_remediation_last_episode_result", type: .gauge,
        help: "How the last disk episode ended: 1 on its result (reached_target, steps_exhausted, dry_run), 0 on the others.",
        labels: ["result"], collector: "remediation")

    public static let remediationMetrics: [MetricDescriptor] = [
        remediationActions, remediationFailures, remediationDryRuns, remediationInterrupted, auditLogRestoredRecords,
        auditLogUnreadableLines, remediationReclaimed, remediationLastAction,
        remediationSuppressed, remediationEnabled, remediationDryRun, diskPressure, diskFilesystemPressure, lastEpisodeNeeded, lastEpisodeFreed,
        lastEpisodeDuration, lastEpisodeEnd, lastEpisodeResult,
    ]
}

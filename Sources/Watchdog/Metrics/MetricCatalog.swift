import Exposition

/// The description of one exported metric: the single source for its name, type, help and labels.
///
/// Collectors build their families from these descriptors, the README's metrics table is checked
/// against `MetricCatalog.all` by a test, and another test checks that every family in a real
/// scrape is in the catalog, so the documentation cannot drift from the output.
public struct MetricDescriptor: Sendable {
    /// Base name: counters without `_total`, info metrics without `_info`.
    public let name: String
    public let type: MetricType
    public let help: String
    public let labels: [String]
    /// The collector that exports it ("core" for the watchdog's own bookkeeping).
    public let collector: String

    /// The name of the samples as they appear in the text format.
    public var exportedName: String {
        switch type {
        case .counter: return name + "_total"
        case .info: return name + "_info"
        case .gauge, .histogram: return name
        }
    }

    public func family(_ series: [([Label], Double)]) -> MetricFamily {
        switch type {
        case .counter: return .counter(name, help: help, series)
        case .info: return .info(name, help: help, series: series.map { $0.0 })
        case .gauge, .histogram: return .gauge(name, help: help, series)
        }
    }

    /// A family from ready samples: a gauge takes them as they are (no copy); other types go
    /// through ``family(_:)``.
    public func family(samples: [Sample]) -> MetricFamily {
        guard type == .gauge else { return family(samples.map { ($0.labels, $0.value) }) }
        return MetricFamily(name: name, help: help, type: .gauge, samples: samples)
    }

    public func family(value: Double, labels: [Label] = []) -> MetricFamily {
        family([(labels, value)])
    }

    public func histogram(_ series: [([Label], Histogram)]) -> MetricFamily {
        .histogram(name, help: help, series)
    }
}

/// Every metric docker-watchdog exports. Host metrics start with `docker_`, the watchdog's own
/// with `docker_watchdog_`.
public enum MetricCatalog {
    // MARK: core (the watchdog itself)

    public static let buildInfo = MetricDescriptor(
        name: "docker_watchdog_build", type: .info,
        help: "Version of docker-watchdog and the Swift compiler that built it.",
        labels: ["version", "revision", "swift_version"], collector: "core")
    public static let collectorDuration = MetricDescriptor(
        name: "docker_watchdog_collector_duration_seconds", type: .gauge,
        help: "Duration of the collector's most recent sampling round. Metrics are served from the latest sample, not collected on scrape.",
        labels: ["collector"], collector: "core")
    public static let collectorSuccess = MetricDescriptor(
        name: "docker_watchdog_collector_success", type: .gauge,
        help: "1 if the collector's most recent sampling round succeeded, 0 if it failed.",
        labels: ["collector"], collector: "core")
    public static let collectorLastSuccess = MetricDescriptor(
        name: "docker_watchdog_collector_last_success_timestamp_seconds", type: .gauge,
        help: "Unix time of the collector's last successful sampling round (0 if none yet); shows how stale its metrics are.",
        labels: ["collector"], collector: "core")
    public static let collectorLastRound = MetricDescriptor(
        name: "docker_watchdog_collector_last_round_timestamp_seconds", type: .gauge,
        help: "Unix time the collector's most recent sampling round ended, successful or not; a stuck sampling loop stops moving it.",
        labels: ["collector"], collector: "core")
    public static let collectorInterval = MetricDescriptor(
        name: "docker_watchdog_collector_interval_seconds", type: .gauge,
        help: "The collector's configured sampling interval, for judging staleness in alerts.",
        labels: ["collector"], collector: "core")
    public static let collectorRuns = MetricDescriptor(
        name: "docker_watchdog_collector_runs", type: .counter,
        help: "Sampling rounds the collector has run.",
        labels: ["collector"], collector: "core")
    public static let collectorFailures = MetricDescriptor(
        name: "docker_watchdog_collector_failures", type: .counter,
        help: "Sampling rounds of the collector that failed.",
        labels: ["collector"], collector: "core")
    public static let apiRequests = MetricDescriptor(
        name: "docker_watchdog_docker_api_requests", type: .counter,
        help: "Requests the watchdog sent to the Docker Engine API, by endpoint.",
        labels: ["endpoint"], collector: "core")
    public static let apiErrors = MetricDescriptor(
        name: "docker_watchdog_docker_api_errors", type: .counter,
        help: "Docker Engine API requests that failed or gave an answer that could not be decoded, by endpoint and kind (unreachable, timeout, http, decode, transfer).",
        labels: ["endpoint", "kind"], collector: "core")

    // MARK: daemon

    public static let daemonUp = MetricDescriptor(
        name: "docker_daemon_up", type: .gauge,
        help: "1 if the Docker daemon answered the most recent /_ping probe within the probe timeout, else 0.",
        labels: [], collector: "daemon")
    public static let pingDuration = MetricDescriptor(
        name: "docker_daemon_ping_duration_seconds", type: .histogram,
        help: "Latency of successful /_ping probes of the Docker daemon.",
        labels: [], collector: "daemon")
    public static let probes = MetricDescriptor(
        name: "docker_daemon_probes", type: .counter,
        help: "/_ping probes sent to the Docker daemon.",
        labels: [], collector: "daemon")
    public static let probeFailures = MetricDescriptor(
        name: "docker_daemon_probe_failures", type: .counter,
        help: "/_ping probes that failed, by reason (unreachable, timeout, http, decode, transfer).",
        labels: ["reason"], collector: "daemon")
    public static let consecutiveFailures = MetricDescriptor(
        name: "docker_daemon_consecutive_probe_failures", type: .gauge,
        help: "/_ping probes that failed in a row since the last success.",
        labels: [], collector: "daemon")
    public static let lastProbeSuccess = MetricDescriptor(
        name: "docker_daemon_last_successful_probe_timestamp_seconds", type: .gauge,
        help: "Unix time of the last /_ping probe the daemon answered (0 if none yet).",
        labels: [], collector: "daemon")
    public static let daemonInfo = MetricDescriptor(
        name: "docker_daemon", type: .info,
        help: "The Docker daemon as it described itself at the last successful /info and /version.",
        labels: ["server_version", "api_version", "storage_driver", "root_dir", "live_restore"], collector: "daemon")
    public static let liveRestore = MetricDescriptor(
        name: "docker_daemon_live_restore_enabled", type: .gauge,
        help: "1 if the daemon runs with live-restore (a daemon restart keeps containers running), else 0.",
        labels: [], collector: "daemon")

    // MARK: disk

    public static let fsSize = MetricDescriptor(
        name: "docker_root_filesystem_size_bytes", type: .gauge,
        help: "Size of the filesystem holding the Docker root directory (statvfs).",
        labels: ["path"], collector: "disk")
    public static let fsFree = MetricDescriptor(
        name: "docker_root_filesystem_free_bytes", type: .gauge,
        help: "Free bytes of the filesystem holding the Docker root directory, including blocks reserved for root.",
        labels: ["path"], collector: "disk")
    public static let fsAvailable = MetricDescriptor(
        name: "docker_root_filesystem_available_bytes", type: .gauge,
        help: "Bytes of the filesystem holding the Docker root directory available to unprivileged users (what df shows as Avail).",
        labels: ["path"], collector: "disk")
    public static let fsFiles = MetricDescriptor(
        name: "docker_root_filesystem_files", type: .gauge,
        help: "Inodes of the filesystem holding the Docker root directory.",
        labels: ["path"], collector: "disk")
    public static let fsFilesFree = MetricDescriptor(
        name: "docker_root_filesystem_files_free", type: .gauge,
        help: "Free inodes of the filesystem holding the Docker root directory.",
        labels: ["path"], collector: "disk")
    public static let fsReadOnly = MetricDescriptor(
        name: "docker_root_filesystem_readonly", type: .gauge,
        help: "1 if the filesystem holding the Docker root directory is read-only (its superblock, as after an I/O error remount; a read-only bind mount that only the watchdog sees does not count).",
        labels: ["path"], collector: "disk")
    public static let statfsHung = MetricDescriptor(
        name: "docker_root_filesystem_statfs_hung", type: .gauge,
        help: "1 while a statvfs call on the Docker root directory has not returned within its timeout (a hung mount).",
        labels: [], collector: "disk")

    // MARK: system_df

    public static let usageObjects = MetricDescriptor(
        name: "docker_disk_usage_objects", type: .gauge,
        help: "Objects Docker counts per category in /system/df (as TOTAL in docker system df), as of the last successful sample.",
        labels: ["category"], collector: "system_df")
    public static let usageActive = MetricDescriptor(
        name: "docker_disk_usage_active_objects", type: .gauge,
        help: "Objects in use per category in /system/df (as ACTIVE in docker system df), as of the last successful sample.",
        labels: ["category"], collector: "system_df")
    public static let usageSize = MetricDescriptor(
        name: "docker_disk_usage_size_bytes", type: .gauge,
        help: "Disk space per category in /system/df (as SIZE in docker system df), as of the last successful sample.",
        labels: ["category"], collector: "system_df")
    public static let usageReclaimable = MetricDescriptor(
        name: "docker_disk_usage_reclaimable_bytes", type: .gauge,
        help: "Reclaimable disk space per category in /system/df (as RECLAIMABLE in docker system df), as of the last successful sample.",
        labels: ["category"], collector: "system_df")

    // MARK: process

    public static let processCPU = MetricDescriptor(
        name: "docker_watchdog_process_cpu_seconds", type: .counter,
        help: "User and system CPU time spent by the watchdog process.",
        labels: [], collector: "process")
    public static let processRSS = MetricDescriptor(
        name: "docker_watchdog_process_resident_memory_bytes", type: .gauge,
        help: "Resident memory of the watchdog process.",
        labels: [], collector: "process")
    public static let processVirtual = MetricDescriptor(
        name: "docker_watchdog_process_virtual_memory_bytes", type: .gauge,
        help: "Virtual memory of the watchdog process.",
        labels: [], collector: "process")
    public static let processOpenFDs = MetricDescriptor(
        name: "docker_watchdog_process_open_fds", type: .gauge,
        help: "Open file descriptors of the watchdog process.",
        labels: [], collector: "process")
    public static let processMaxFDs = MetricDescriptor(
        name: "docker_watchdog_process_max_fds", type: .gauge,
        help: "File descriptor limit of the watchdog process.",
        labels: [], collector: "process")
    public static let processThreads = MetricDescriptor(
        name: "docker_watchdog_process_threads", type: .gauge,
        help: "Threads of the watchdog process.",
        labels: [], collector: "process")
    public static let processStart = MetricDescriptor(
        name: "docker_watchdog_process_start_time_seconds", type: .gauge,
        help: "Unix time the watchdog process started.",
        labels: [], collector: "process")

    /// Every descriptor, in README order.
    public static let all: [MetricDescriptor] = [
        daemonUp, pingDuration, probes, probeFailures, consecutiveFailures, lastProbeSuccess, daemonInfo, liveRestore,
        fsSize, fsFree, fsAvailable, fsFiles, fsFilesFree, fsReadOnly, statfsHung,
        usageObjects, usageActive, usageSize, usageReclaimable,
        processCPU, processRSS, processVirtual, processOpenFDs, processMaxFDs, processThreads, processStart,
        buildInfo, collectorDuration, collectorSuccess, collectorLastSuccess, collectorLastRound, collectorInterval,
        collectorRuns, collectorFailures,
        apiRequests, apiErrors,
    ] + containerMetrics + remediationMetrics + buildCacheMetrics + reloadMetrics

    /// The README's metrics reference table, generated from the catalog.
    public static func markdownTable() -> String {
        var lines = ["| metric | type | labels | collector | description |", "| --- | --- | --- | --- | --- |"]
        for d in all {
            let type: String
            switch d.type {
            case .gauge: type = "gauge"
            case .counter: type = "counter"
            case .histogram: type = "histogram"
            case .info: type = "info"
            }
            let labels = d.labels.isEmpty ? "" : d.labels.map { "`\($0)`" }.joined(separator: ", ")
            lines.append("| `\(d.exportedName)` | \(type) | \(labels) | \(d.collector) | \(d.help.replacing("|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

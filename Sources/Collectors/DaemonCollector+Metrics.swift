import Exposition
import Sampling

extension MetricCatalog {
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
        help: "The Docker daemon as it described itself at the last successful /info and /version; engine is docker or podman (Podman's Docker-compatible API).",
        labels: ["engine", "server_version", "api_version", "storage_driver", "root_dir", "live_restore"], collector: "daemon")
    public static let liveRestore = MetricDescriptor(
        name: "docker_daemon_live_restore_enabled", type: .gauge,
        help: "1 if the daemon runs with live-restore (a daemon restart keeps containers running), else 0.",
        labels: [], collector: "daemon")

    /// Every metric of the collector, in reference order.
    public static let daemonMetrics: [MetricDescriptor] = [
        daemonUp, pingDuration, probes, probeFailures, consecutiveFailures, lastProbeSuccess, daemonInfo, liveRestore,
    ]
}

import Exposition
import Sampling

extension MetricCatalog {
    // MARK: container logs

    static let logLabels = ["name", "image", "compose_project", "compose_service"]

    public static let containerLogBytes = MetricDescriptor(
        name: "docker_container_log_bytes", type: .gauge,
        help: "Bytes of the container's log files (json-file and local drivers: the live file and the rotated ones), largest first up to collector.containers.max_series containers.",
        labels: logLabels, collector: "logs")
    public static let containerLogUnbounded = MetricDescriptor(
        name: "docker_container_log_unbounded", type: .gauge,
        help: "1 when the container logs with json-file and no max-size, so its log grows without limit; 0 otherwise (same containers as docker_container_log_bytes).",
        labels: logLabels, collector: "logs")
    public static let logsBytes = MetricDescriptor(
        name: "docker_container_logs_bytes", type: .gauge,
        help: "Bytes of all containers' log files, by log driver (json-file, local); what docker system df does not count.",
        labels: ["driver"], collector: "logs")
    public static let logsUnbounded = MetricDescriptor(
        name: "docker_container_logs_unbounded", type: .gauge,
        help: "Containers logging with json-file and no max-size.",
        labels: [], collector: "logs")
    public static let logsContainers = MetricDescriptor(
        name: "docker_container_logs_measured", type: .gauge,
        help: "Containers whose log files were measured this round, by log driver; containers with other drivers (journald, syslog, none) keep no log under Docker's root.",
        labels: ["driver"], collector: "logs")
    public static let logStatFailures = MetricDescriptor(
        name: "docker_watchdog_log_stat_failures", type: .counter,
        help: "Log directories that could not be read (no access, or not visible: set collector.disk.host_prefix when the watchdog runs in a container).",
        labels: [], collector: "logs")

    public static let logMetrics: [MetricDescriptor] = [
        containerLogBytes, containerLogUnbounded, logsBytes, logsUnbounded, logsContainers, logStatFailures,
    ]
}

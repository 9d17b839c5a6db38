import Exposition
import Sampling

/// Metrics of the `containers` collector.
extension MetricCatalog {
    static let perContainerLabels = ["name", "image", "compose_project", "compose_service", "label_<key>"]

    public static let containerState = MetricDescriptor(
        name: "docker_container_state", type: .gauge,
        help: "Container state, encoded: 0 created, 1 running, 2 paused, 3 restarting, 4 removing, 5 exited, 6 dead.",
        labels: perContainerLabels, collector: "containers")
    public static let containerHealth = MetricDescriptor(
        name: "docker_container_health_status", type: .gauge,
        help: "Container health, encoded: 0 no health check, 1 starting, 2 healthy, 3 unhealthy.",
        labels: perContainerLabels, collector: "containers")
    public static let containerFailingStreak = MetricDescriptor(
        name: "docker_container_health_failing_streak", type: .gauge,
        help: "Consecutive failed health probes of the container (Docker's FailingStreak) at its last inspect.",
        labels: perContainerLabels, collector: "containers")
    public static let containerRestartCount = MetricDescriptor(
        name: "docker_container_policy_restarts", type: .gauge,
        help: "Restarts of the container by its restart policy (Docker's RestartCount); resets when the container is recreated.",
        labels: perContainerLabels, collector: "containers")
    public static let containerOOMKilled = MetricDescriptor(
        name: "docker_container_oom_killed", type: .gauge,
        help: "1 if the container's last run ended by the kernel's OOM killer (Docker's State.OOMKilled).",
        labels: perContainerLabels, collector: "containers")
    public static let containerExitCode = MetricDescriptor(
        name: "docker_container_last_exit_code", type: .gauge,
        help: "Exit code of the container's last run (absent for containers that never ran).",
        labels: perContainerLabels, collector: "containers")
    public static let containerStartTime = MetricDescriptor(
        name: "docker_container_start_time_seconds", type: .gauge,
        help: "Unix time the container last started.",
        labels: perContainerLabels, collector: "containers")
    public static let containersByState = MetricDescriptor(
        name: "docker_containers", type: .gauge,
        help: "Containers on the host by state (all containers, whatever the per-container series limit).",
        labels: ["state"], collector: "containers")
    public static let containersByHealth = MetricDescriptor(
        name: "docker_containers_health", type: .gauge,
        help: "Containers on the host by health: healthy, unhealthy, starting, none (no health check).",
        labels: ["health"], collector: "containers")
    public static let stackContainers = MetricDescriptor(
        name: "docker_compose_stack_containers", type: .gauge,
        help: "Containers of a compose project (label com.docker.compose.project).",
        labels: ["compose_project"], collector: "containers")
    public static let stackServices = MetricDescriptor(
        name: "docker_compose_stack_services", type: .gauge,
        help: "Distinct services (label com.docker.compose.service) of a compose project.",
        labels: ["compose_project"], collector: "containers")
    public static let stackHealthyContainers = MetricDescriptor(
        name: "docker_compose_stack_healthy_containers", type: .gauge,
        help: "Containers of a compose project whose health check reports healthy.",
        labels: ["compose_project"], collector: "containers")
    public static let stackHealthy = MetricDescriptor(
        name: "docker_compose_stack_healthy", type: .gauge,
        help: "1 if every container of the compose project is running and every one with a health check is healthy, else 0.",
        labels: ["compose_project"], collector: "containers")
    public static let healthTransitions = MetricDescriptor(
        name: "docker_container_health_transitions", type: .counter,
        help: "Health changes of containers, by the new status; a change the events stream missed is counted when a full list finds it.",
        labels: ["status"], collector: "containers")
    public static let oomKills = MetricDescriptor(
        name: "docker_container_oom_kills", type: .counter,
        help: "OOM kills of containers seen on the events stream, one per container run (Docker may send several oom events for one kill).",
        labels: [], collector: "containers")
    public static let deaths = MetricDescriptor(
        name: "docker_container_deaths", type: .counter,
        help: "Container exits seen on the events stream, by exit class: success (0), error (1-125), not_executable (126, 127), sigkill (137), sigterm (143), signal (other 128+), unknown.",
        labels: ["exit_class"], collector: "containers")
    public static let restarts = MetricDescriptor(
        name: "docker_container_restarts", type: .counter,
        help: "Container starts that follow an exit of the same container, seen on the events stream: restart-policy restarts, docker restart, or stop and start.",
        labels: [], collector: "containers")
    public static let seriesDropped = MetricDescriptor(
        name: "docker_watchdog_container_series_dropped", type: .gauge,
        help: "Containers left without per-container series by collector.containers.max_series, include or exclude (host-level counts still include them).",
        labels: [], collector: "containers")
    public static let eventsReceived = MetricDescriptor(
        name: "docker_watchdog_container_events", type: .counter,
        help: "Container events received on the daemon's events stream.",
        labels: [], collector: "containers")
    public static let resyncs = MetricDescriptor(
        name: "docker_watchdog_container_resyncs", type: .counter,
        help: "Full container lists applied to re-synchronise state (periodic and after every events-stream reconnect).",
        labels: [], collector: "containers")
    public static let inspectFailures = MetricDescriptor(
        name: "docker_watchdog_container_inspect_failures", type: .counter,
        help: "Container inspects that failed or missed their deadline, by kind; the container is retried next round.",
        labels: ["kind"], collector: "containers")
    public static let eventsStreamUp = MetricDescriptor(
        name: "docker_watchdog_events_stream_up", type: .gauge,
        help: "1 while the daemon is answering the watchdog's events stream (from its response headers on; a request it accepted but has not answered reads 0).",
        labels: [], collector: "containers")
    public static let eventsReconnects = MetricDescriptor(
        name: "docker_watchdog_events_stream_reconnects", type: .counter,
        help: "Reconnects of the events stream after it broke (each followed by a full re-synchronisation).",
        labels: [], collector: "containers")
    public static let labelValuesTruncated = MetricDescriptor(
        name: "docker_watchdog_label_values_truncated", type: .counter,
        help: "Label values of per-container and stack series cut to collector.containers.max_label_value_length (each time a series' labels are built).",
        labels: [], collector: "containers")
    public static let eventsHangs = MetricDescriptor(
        name: "docker_watchdog_events_stream_hangs", type: .counter,
        help:
            "Events-stream requests the daemon accepted but did not answer within docker.request_timeout (a hung daemon); while the stream is down every containers round re-synchronises from a full list.",
        labels: [], collector: "containers")
    public static let eventsOversizedLines = MetricDescriptor(
        name: "docker_watchdog_events_oversized_lines", type: .counter,
        help: "Event lines longer than 1 MiB, dropped unread (logged once per stream).",
        labels: [], collector: "containers")

    public static let containerMetrics: [MetricDescriptor] = [
        containerState, containerHealth, containerFailingStreak, containerRestartCount, containerOOMKilled,
        containerExitCode, containerStartTime, containersByState, containersByHealth,
        stackContainers, stackServices, stackHealthyContainers, stackHealthy,
        healthTransitions, oomKills, deaths, restarts,
        seriesDropped, eventsReceived, resyncs, inspectFailures, eventsStreamUp, eventsReconnects,
        eventsHangs, eventsOversizedLines, labelValuesTruncated,
    ]
}

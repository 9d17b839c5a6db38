import Exposition
import Sampling

/// Metrics of the `build_history` collector.
extension MetricCatalog {
    public static let buildHistoryAvailable = MetricDescriptor(
        name: "docker_build_history_available", type: .gauge,
        help:
            "1 when the engine serves BuildKit's build history (Docker 23 and later), so the build metrics are exact; 0 when it does not (Docker 20.10, Podman: the build_cache collector's UsageCount counting is all there is).",
        labels: [], collector: "build_history")
    public static let buildHitRateMethod = MetricDescriptor(
        name: "docker_build_cache_hit_rate_method", type: .info,
        help:
            "How the cache hit rate is measured on this engine: method build_history (exact: docker_build_steps_total) or usage_count (the build_cache collector's UsageCount changes: docker_build_cache_hits_total; approximate on Docker 23 and later).",
        labels: ["method"], collector: "build_history")
    public static let buildHistoryRecords = MetricDescriptor(
        name: "docker_build_history_records", type: .gauge,
        help: "Finished builds the engine keeps in its build history (docker buildx history ls), as of the last successful sample.",
        labels: [], collector: "build_history")
    public static let buildsFinished = MetricDescriptor(
        name: "docker_builds_finished", type: .counter,
        help:
            "Builds that finished since the watchdog started, by result (success, failure, canceled), counted once each from BuildKit's build history.",
        labels: ["result"], collector: "build_history")
    public static let buildSteps = MetricDescriptor(
        name: "docker_build_steps", type: .counter,
        help:
            "Steps of the builds counted in docker_builds_finished_total, by result: cached (BuildKit's CACHED) or executed (completed, not cached). cached / (cached + executed) is the exact cache hit rate.",
        labels: ["result"], collector: "build_history")
    public static let buildDuration = MetricDescriptor(
        name: "docker_build_duration_seconds", type: .histogram,
        help: "Duration (created to completed, as docker buildx history ls shows it) of the builds counted in docker_builds_finished_total.",
        labels: [], collector: "build_history")
    public static let buildLastCompleted = MetricDescriptor(
        name: "docker_build_last_completed_timestamp_seconds", type: .gauge,
        help: "Unix time the newest build in the engine's build history finished; absent while the history is empty or unavailable.",
        labels: [], collector: "build_history")

    public static let buildHistoryMetrics: [MetricDescriptor] = [
        buildHistoryAvailable, buildHitRateMethod, buildHistoryRecords, buildsFinished, buildSteps, buildDuration,
        buildLastCompleted,
    ]
}

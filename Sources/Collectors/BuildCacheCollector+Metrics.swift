import Exposition
import Sampling

/// Metrics of the `build_cache` collector.
extension MetricCatalog {
    public static let buildCacheRecords = MetricDescriptor(
        name: "docker_build_cache_records", type: .gauge,
        help: "BuildKit build-cache records by record type (BuildKit's Type; unknown types as other), as of the last successful sample.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheInUse = MetricDescriptor(
        name: "docker_build_cache_in_use_records", type: .gauge,
        help: "Build-cache records a build was using at the last successful sample, by record type.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheShared = MetricDescriptor(
        name: "docker_build_cache_shared_records", type: .gauge,
        help: "Build-cache records whose data is shared with images (not counted in docker_build_cache_size_bytes), by record type.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheSize = MetricDescriptor(
        name: "docker_build_cache_size_bytes", type: .gauge,
        help: "Disk space of build-cache records not shared with images, by record type; summed over types it is docker system df's build cache SIZE (CLI 20.10 to 28).",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheSharedSize = MetricDescriptor(
        name: "docker_build_cache_shared_size_bytes", type: .gauge,
        help: "Size of build-cache records whose data is shared with images, by record type; freed only when those images go too.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheReclaimable = MetricDescriptor(
        name: "docker_build_cache_reclaimable_bytes", type: .gauge,
        help: "Disk space of build-cache records neither shared nor in use (what docker builder prune can free), by record type.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheLeastRecentUse = MetricDescriptor(
        name: "docker_build_cache_least_recent_use_timestamp_seconds", type: .gauge,
        help: "Unix time of the oldest last use (LastUsedAt) among the build-cache records of the type; absent without records.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheMostRecentUse = MetricDescriptor(
        name: "docker_build_cache_most_recent_use_timestamp_seconds", type: .gauge,
        help: "Unix time of the newest last use (LastUsedAt) among the build-cache records of the type; absent without records.",
        labels: ["record_type"], collector: "build_cache")
    public static let buildCacheHitRateAvailable = MetricDescriptor(
        name: "docker_build_cache_hit_rate_available", type: .gauge,
        help:
            "1 once a sample has shown BuildKit cache records, so hits and misses are measured; 0 while the daemon has none (legacy builder only, or nothing built yet) and the hit and miss counters are absent.",
        labels: [], collector: "build_cache")
    public static let buildCacheHits = MetricDescriptor(
        name: "docker_build_cache_hits", type: .counter,
        help:
            "Reuses of existing build-cache records between samples (rises of UsageCount: the usage_count method), by record type and origin (build, or base_image for FROM layers). Equals the CACHED steps on Docker 20.10 only; newer BuildKit raises the final record's count alone (use docker_build_steps_total there).",
        labels: ["record_type", "origin"], collector: "build_cache")
    public static let buildCacheMisses = MetricDescriptor(
        name: "docker_build_cache_misses", type: .counter,
        help: "Build-cache records created between samples (results BuildKit had to build, pull or sync), by record type and origin.",
        labels: ["record_type", "origin"], collector: "build_cache")
    public static let buildCacheUncounted = MetricDescriptor(
        name: "docker_build_cache_uncounted_records", type: .counter,
        help: "Build-cache records taken into the baseline without counting a hit or miss, by reason (first_sample, predates_previous_sample, usage_count_decreased).",
        labels: ["reason"], collector: "build_cache")

    public static let buildCacheMetrics: [MetricDescriptor] = [
        buildCacheRecords, buildCacheInUse, buildCacheShared, buildCacheSize, buildCacheSharedSize, buildCacheReclaimable,
        buildCacheLeastRecentUse, buildCacheMostRecentUse,
        buildCacheHitRateAvailable, buildCacheHits, buildCacheMisses, buildCacheUncounted,
    ]
}

import Exposition
import Sampling

extension MetricCatalog {
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

    public static let negativeSizes = MetricDescriptor(
        name: "docker_watchdog_system_df_negative_sizes", type: .counter,
        help:
            "Sizes the engine's /system/df made negative (Podman's image reclaimable, for one), exported as 0 instead; by category and field (size, reclaimable). Logged once per category and field.",
        labels: ["category", "field"], collector: "system_df")

    /// Every metric of the collector, in reference order.
    public static let systemDFMetrics: [MetricDescriptor] = [
        usageObjects, usageActive, usageSize, usageReclaimable, negativeSizes,
    ]
}

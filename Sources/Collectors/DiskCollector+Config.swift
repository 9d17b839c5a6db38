import WatchdogConfig

extension DiskCollector {
    /// Free space of the filesystem holding Docker's data.
    public struct Config: Sendable, Equatable {
        /// `collector.disk.enabled`
        public var enabled: Bool = true
        /// `collector.disk.interval`
        public var interval: Duration = .seconds(15)
        /// `collector.disk.statfs_timeout`: statfs can hang on a dead NFS mount.
        public var statfsTimeout: Duration = .seconds(5)
        /// `collector.disk.path`: empty means "the daemon's DockerRootDir".
        public var path: String = ""
        /// `collector.disk.host_prefix`: prepended to DockerRootDir when running in a container.
        public var hostPrefix: String = ""
        /// `collector.disk.containerd_root`: containerd's root with the containerd image store;
        /// empty: the daemon's own containerd under DockerRootDir, else /var/lib/containerd.
        public var containerdRoot: String = ""
        public init() {}
    }

    /// Where the configuration keeps this collector's `Config`.
    public static let config = CollectorSettingsKey("disk", defaults: Config())

    /// The `collector.disk.*` keys, in reference order.
    public static let configKeys: [ConfigKey] = [
        ConfigKey(
            "collector.disk.enabled", \WatchdogConfiguration.collectors[DiskCollector.config].enabled, .bool,
            flagAliases: ["collector.disk"],
            "Whether the filesystem holding Docker's data is measured (the disk policy measures it itself when it acts)."),
        ConfigKey(
            "collector.disk.interval", \WatchdogConfiguration.collectors[DiskCollector.config].interval, .duration(positive: true),
            "How often the filesystem holding Docker's data is measured."),
        ConfigKey(
            "collector.disk.statfs_timeout", \WatchdogConfiguration.collectors[DiskCollector.config].statfsTimeout, .duration(positive: true),
            "Deadline of one statfs call, which can block indefinitely on a dead network mount."),
        ConfigKey(
            "collector.disk.path", \WatchdogConfiguration.collectors[DiskCollector.config].path, .optionalAbsolutePath,
            "Filesystem path to measure; empty means the daemon's DockerRootDir (from /info)."),
        ConfigKey(
            "collector.disk.host_prefix", \WatchdogConfiguration.collectors[DiskCollector.config].hostPrefix, .optionalAbsolutePath,
            "Prefix for DockerRootDir when the watchdog runs in a container with the host's filesystem mounted (e.g. /host)."),
        ConfigKey(
            "collector.disk.containerd_root", \WatchdogConfiguration.collectors[DiskCollector.config].containerdRoot, .optionalAbsolutePath,
            "containerd's root, where images live with the containerd image store (measured as a filesystem of its own when it is one); empty means the daemon's own containerd (DockerRootDir/containerd/daemon) when it exists, else /var/lib/containerd."
        ),
    ]
}

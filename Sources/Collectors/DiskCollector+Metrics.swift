import Exposition
import Sampling

extension MetricCatalog {
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

    /// Every metric of the collector, in reference order.
    public static let diskAccounted = MetricDescriptor(
        name: "docker_disk_accounted_bytes", type: .gauge,
        help:
            "Used bytes of each filesystem holding Docker data by what holds them: Docker's categories (images, containers, build_cache on the image store's filesystem, volumes on the data root's, from system df), logs (container log files), tmp (Docker's tmp directory), and other (used minus the rest: what is not Docker's, or what Docker does not count). Needs the system_df collector; logs needs the logs collector.",
        labels: ["path", "category"], collector: "disk")
    public static let diskAccountedOverlap = MetricDescriptor(
        name: "docker_disk_accounted_overlap_bytes", type: .gauge,
        help: "By how much the categories exceed the filesystem's used bytes (they overlap, e.g. build cache shared with images); other is 0 then.",
        labels: ["path"], collector: "disk")

    public static let dataFilesystemSize = MetricDescriptor(
        name: "docker_data_filesystem_size_bytes", type: .gauge,
        help:
            "Size of each filesystem holding Docker data, one series per filesystem: holds says what is on it (data_root: volumes and tmp; image_store: images, writable layers and build cache, containerd's root with the containerd store; logs: the containers' log files).",
        labels: ["path", "holds"], collector: "disk")
    public static let dataFilesystemAvailable = MetricDescriptor(
        name: "docker_data_filesystem_available_bytes", type: .gauge,
        help: "Bytes available to unprivileged users on each filesystem holding Docker data (see docker_data_filesystem_size_bytes); the disk thresholds apply to each.",
        labels: ["path", "holds"], collector: "disk")

    public static let diskMetrics: [MetricDescriptor] = [
        fsSize, fsFree, fsAvailable, fsFiles, fsFilesFree, fsReadOnly, statfsHung, diskAccounted, diskAccountedOverlap,
        dataFilesystemSize, dataFilesystemAvailable,
    ]
}

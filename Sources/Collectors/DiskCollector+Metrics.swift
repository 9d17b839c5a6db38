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
    public static let diskMetrics: [MetricDescriptor] = [
        fsSize, fsFree, fsAvailable, fsFiles, fsFilesFree, fsReadOnly, statfsHung,
    ]
}

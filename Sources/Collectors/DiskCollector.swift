import DockerEngine
import Exposition
import FoundationEssentials
import Logging
import HostProbes
import Sampling

/// Free space and inodes of the filesystem that holds Docker's root directory, and of every other
/// filesystem holding Docker data: containerd's root with the containerd image store, and the
/// containers' log directory when it is a mount of its own.
///
/// The path is the configured `collector.disk.path`, or the daemon's `DockerRootDir` (from the
/// daemon collector, or asked from `/info` here if not known yet) behind `collector.disk.host_prefix`
/// when the watchdog runs in a container with the host's root mounted somewhere.
public final class DiskCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public let statfsTimeout: Duration
    public var maxRoundDuration: Duration { statfsTimeout + .seconds(15) }

    private let configuredPath: String
    private let hostPrefix: String
    private let containerdRoot: String
    private let client: DockerClient?
    private let host: HostStatus
    private let probe: StatfsProbe

    public init(
        client: DockerClient?, host: HostStatus, interval: Duration, statfsTimeout: Duration, path: String,
        hostPrefix: String, containerdRoot: String = "", probe: StatfsProbe = StatfsProbe()
    ) {
        self.containerdRoot = containerdRoot
        self.client = client
        self.host = host
        self.interval = interval
        self.statfsTimeout = statfsTimeout
        self.configuredPath = path
        self.hostPrefix = hostPrefix
        self.probe = probe
    }

    struct PathUnknown: Error, CustomStringConvertible { let description: String }

    /// The path to measure, or why there is none yet.
    func resolvePath() -> Result<String, PathUnknown> {
        if !configuredPath.isEmpty { return .success(configuredPath) }
        var rootDir = host.daemon.rootDir
        if rootDir == nil, let client {
            do {
                rootDir = try client.info().dockerRootDir
            } catch {
                return .failure(PathUnknown(description: "DockerRootDir unknown (daemon has not answered /info: \(error))"))
            }
        }
        guard let rootDir, !rootDir.isEmpty else { return .failure(PathUnknown(description: "DockerRootDir unknown")) }
        return .success(Self.path(ofRoot: rootDir, hostPrefix: hostPrefix))
    }

    /// Where the Docker root is seen from here: behind `collector.disk.host_prefix` when in a container.
    public static func path(ofRoot rootDir: String, hostPrefix: String) -> String {
        HostPath.resolve(rootDir, hostPrefix: hostPrefix)
    }

    /// The containerd image store's snapshotters as `Driver` names them (the classic store's
    /// graph drivers are overlay2, fuse-overlayfs, btrfs, zfs, vfs).
    static let containerdSnapshotters: Set<String> = ["overlayfs", "stargz", "nydus", "native", "erofs"]

    /// The paths of the other roles: where images live and where the logs are.
    static func rolePaths(
        dataRoot: String, storageDriver: String?, containerdRoot: String, hostPrefix: String,
        exists: (String) -> Bool
    ) -> [(role: HostStatus.DockerDataRole, path: String)] {
        var out: [(HostStatus.DockerDataRole, String)] = [(.logs, dataRoot + "/containers")]
        if let driver = storageDriver, containerdSnapshotters.contains(driver) {
            if !containerdRoot.isEmpty {
                out.append((.imageStore, HostPath.resolve(containerdRoot, hostPrefix: hostPrefix)))
            } else if exists(dataRoot + "/containerd/daemon") {
                out.append((.imageStore, dataRoot + "/containerd/daemon"))
            } else {
                out.append((.imageStore, HostPath.resolve("/var/lib/containerd", hostPrefix: hostPrefix)))
            }
        } else {
            out.append((.imageStore, dataRoot))
        }
        return out
    }

    /// The data root's filesystem first, then the others that are filesystems of their own; a
    /// role whose path does not exist (no container yet) counts as the data root's.
    func filesystems(dataRoot path: String, _ fs: FilesystemStats) -> (list: [HostStatus.DockerFilesystem], errors: [String]) {
        var list = [
            HostStatus.DockerFilesystem(
                path: path, holds: [.dataRoot], sizeBytes: fs.sizeBytes, freeBytes: fs.freeBytes, availableBytes: fs.availableBytes,
                tmpBytes: DirectorySize.of(path + "/tmp").map(\.bytes))
        ]
        var devices = [fs.device]
        var errors: [String] = []
        let paths = Self.rolePaths(
            dataRoot: path, storageDriver: host.daemon.storageDriver, containerdRoot: containerdRoot, hostPrefix: hostPrefix,
            exists: { FileSize.of($0) != nil })
        for (role, rolePath) in paths {
            if rolePath == path || FileSize.of(rolePath) == nil {
                list[0].holds.insert(role)
                continue
            }
            switch probe.stats(path: rolePath, timeout: statfsTimeout) {
            case .success(let other):
                if let i = devices.firstIndex(of: other.device), other.device != 0 {
                    list[i].holds.insert(role)
                } else {
                    devices.append(other.device)
                    list.append(
                        HostStatus.DockerFilesystem(
                            path: rolePath, holds: [role], sizeBytes: other.sizeBytes, freeBytes: other.freeBytes,
                            availableBytes: other.availableBytes))
                }
            case .failure(let error):
                errors.append("\(role.rawValue) at \(rolePath): \(error)")
            }
        }
        return (list, errors)
    }

    public func collect() -> CollectionResult {
        let path: String
        switch resolvePath() {
        case .success(let p): path = p
        case .failure(let reason):
            host.updateDisk { $0.lastError = reason.description }
            return CollectionResult(families: [MetricCatalog.statfsHung.family(value: probe.isHung ? 1 : 0)], error: reason.description)
        }
        switch probe.stats(path: path, timeout: statfsTimeout) {
        case .success(let fs):
            let (filesystems, errors) = self.filesystems(dataRoot: path, fs)
            host.updateDisk { d in
                d = HostStatus.Disk(
                    path: path, sizeBytes: fs.sizeBytes, availableBytes: fs.availableBytes,
                    files: fs.files, filesFree: fs.filesFree, statfsHung: false, lastError: errors.first, freeBytes: fs.freeBytes)
                d.filesystems = filesystems
            }
            let labels = [Label("path", path)]
            var accounted: [(labels: [Label], value: Double)] = []
            var overlap: [(labels: [Label], value: Double)] = []
            for filesystem in filesystems {
                let breakdown = host.diskBreakdown(filesystem)
                if breakdown.categories.isEmpty { continue }
                accounted += breakdown.categories.map { ([Label("path", filesystem.path), Label("category", $0.name)], Double($0.bytes)) }
                overlap.append(([Label("path", filesystem.path)], Double(breakdown.overlap)))
            }
            let perFilesystem = filesystems.map { [Label("path", $0.path), Label("holds", $0.holdsLabel)] }
            return CollectionResult(
                families: (accounted.isEmpty ? [] : [MetricCatalog.diskAccounted.family(accounted), MetricCatalog.diskAccountedOverlap.family(overlap)]) + [
                    MetricCatalog.fsSize.family(value: Double(fs.sizeBytes), labels: labels),
                    MetricCatalog.fsFree.family(value: Double(fs.freeBytes), labels: labels),
                    MetricCatalog.fsAvailable.family(value: Double(fs.availableBytes), labels: labels),
                    MetricCatalog.fsFiles.family(value: Double(fs.files), labels: labels),
                    MetricCatalog.fsFilesFree.family(value: Double(fs.filesFree), labels: labels),
                    MetricCatalog.fsReadOnly.family(value: fs.readOnly ? 1 : 0, labels: labels),
                    MetricCatalog.statfsHung.family(value: 0),
                    MetricCatalog.dataFilesystemSize.family(zip(perFilesystem, filesystems).map { ($0, Double($1.sizeBytes)) }),
                    MetricCatalog.dataFilesystemAvailable.family(zip(perFilesystem, filesystems).map { ($0, Double($1.availableBytes)) }),
                ], error: errors.isEmpty ? nil : errors.joined(separator: "; "))
        case .failure(let error):
            let hung = probe.isHung
            host.updateDisk { d in
                d.path = path
                d.statfsHung = hung
                d.lastError = "\(error)"
            }
            // Stale sizes are worse than none: on failure only the hung flag is served.
            return CollectionResult(families: [MetricCatalog.statfsHung.family(value: hung ? 1 : 0)], error: "\(error)")
        }
    }
}

extension DiskCollector {
    /// `collector.disk.*`: statvfs of the filesystem holding Docker's data.
    public static let definition = CollectorDefinition(
        name: "disk", metrics: MetricCatalog.diskMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[DiskCollector.config].enabled },
        make: { context in
            let c = context.configuration.collectors[DiskCollector.config]
            return DiskCollector(
                client: context.makeClient(), host: context.host, interval: c.interval, statfsTimeout: c.statfsTimeout,
                path: c.path, hostPrefix: c.hostPrefix, containerdRoot: c.containerdRoot)
        })
}

import DockerEngine
import Exposition
import FoundationEssentials
import Logging
import HostProbes
import Sampling

/// Free space and inodes of the filesystem that holds Docker's root directory.
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
    private let client: DockerClient?
    private let host: HostStatus
    private let probe: StatfsProbe

    public init(
        client: DockerClient?, host: HostStatus, interval: Duration, statfsTimeout: Duration, path: String,
        hostPrefix: String, probe: StatfsProbe = StatfsProbe()
    ) {
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
            host.updateDisk { d in
                d = HostStatus.Disk(
                    path: path, sizeBytes: fs.sizeBytes, availableBytes: fs.availableBytes,
                    files: fs.files, filesFree: fs.filesFree, statfsHung: false, lastError: nil, freeBytes: fs.freeBytes)
            }
            let labels = [Label("path", path)]
            let breakdown = host.diskBreakdown()
            var accounted: [MetricFamily] = []
            if !breakdown.categories.isEmpty {
                accounted = [
                    MetricCatalog.diskAccounted.family(breakdown.categories.map { ([Label("path", path), Label("category", $0.name)], Double($0.bytes)) }),
                    MetricCatalog.diskAccountedOverlap.family(value: Double(breakdown.overlap), labels: labels),
                ]
            }
            return CollectionResult(
                families: accounted + [
                    MetricCatalog.fsSize.family(value: Double(fs.sizeBytes), labels: labels),
                    MetricCatalog.fsFree.family(value: Double(fs.freeBytes), labels: labels),
                    MetricCatalog.fsAvailable.family(value: Double(fs.availableBytes), labels: labels),
                    MetricCatalog.fsFiles.family(value: Double(fs.files), labels: labels),
                    MetricCatalog.fsFilesFree.family(value: Double(fs.filesFree), labels: labels),
                    MetricCatalog.fsReadOnly.family(value: fs.readOnly ? 1 : 0, labels: labels),
                    MetricCatalog.statfsHung.family(value: 0),
                ])
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
                path: c.path, hostPrefix: c.hostPrefix)
        })
}

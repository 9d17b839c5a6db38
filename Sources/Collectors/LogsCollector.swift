import Containers
import Exposition
import HostProbes
import FoundationEssentials
import Locking
import Sampling

/// How big each container's logs are, from the files themselves.
///
/// `docker system df` does not count container logs, and the `json-file` driver keeps every line
/// unless `max-size` is set: the commonest way a Docker disk fills up unseen. The containers
/// collector's inspects tell each container's driver and log path; this collector adds up the
/// sizes of the live file and its rotations every round. It makes no Docker call and reads no log
/// content: one directory listing and a stat per file.
public final class LogsCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public var maxRoundDuration: Duration { .seconds(20) }
    private let tracker: ContainerTracker?
    private let host: HostStatus
    private let hostPrefix: String
    private let maxSeries: Int
    private let maxLabelValueLength: Int
    private let files: any LogFileSizes
    private let statFailures = Mutex<UInt64>(0)

    public init(
        interval: Duration, tracker: ContainerTracker?, host: HostStatus, hostPrefix: String, maxSeries: Int, maxLabelValueLength: Int,
        files: any LogFileSizes = SystemLogFileSizes()
    ) {
        self.interval = interval
        self.tracker = tracker
        self.host = host
        self.hostPrefix = hostPrefix
        self.maxSeries = maxSeries
        self.maxLabelValueLength = maxLabelValueLength
        self.files = files
    }

    /// One container's logs as measured.
    public struct Measured: Sendable, Equatable {
        public var container: TrackedContainer
        public var bytes: Int64
        /// json-file without max-size.
        public var unbounded: Bool
    }

    /// The live log file of a container as seen from here, or nil for a driver that keeps none
    /// under Docker's root. `local` keeps `containers/<id>/local-logs/container.log`; json-file
    /// says where in `LogPath`.
    public static func logFile(of c: TrackedContainer, rootDir: String?) -> String? {
        switch c.logDriver {
        case "json-file": return c.logPath.isEmpty ? nil : c.logPath
        case "local": return rootDir.map { "\($0)/containers/\(c.id)/local-logs/container.log" }
        default: return nil
        }
    }

    public func measure() -> [Measured]? {
        guard let containers = tracker?.containers else { return nil }
        let root = host.daemon.rootDir
        var out: [Measured] = []
        for c in containers {
            guard let live = Self.logFile(of: c, rootDir: root) else { continue }
            let path = DiskCollector.path(ofRoot: live, hostPrefix: hostPrefix)
            guard let bytes = files.totalSize(ofFileAndRotations: path) else {
                statFailures.withLock { $0 += 1 }
                continue
            }
            out.append(Measured(container: c, bytes: bytes, unbounded: c.logDriver == "json-file" && (c.logMaxSize ?? "").isEmpty))
        }
        return out
    }

    public func collect() -> CollectionResult {
        guard let measured = measure() else {
            return CollectionResult(families: [], error: "the containers collector is off: container log paths are unknown")
        }
        var byDriver: [String: Int64] = ["json-file": 0, "local": 0]
        var counted: [String: Int] = ["json-file": 0, "local": 0]
        for m in measured {
            byDriver[m.container.logDriver, default: 0] += m.bytes
            counted[m.container.logDriver, default: 0] += 1
        }
        // For the disk collector's breakdown of the Docker filesystem (logs are not in system df).
        let total = byDriver.values.reduce(0, +)
        let top = measured.sorted { ($0.bytes, $1.container.name) > ($1.bytes, $0.container.name) }.prefix(maxSeries)
        let largest = top.prefix(5).map { (name: $0.container.name, bytes: $0.bytes) }
        host.updateUsage { u in
            u.logsBytes = total
            u.largestLogs = largest
        }
        let series = top.map { m -> ([Label], Double, Double) in (labels(m.container), Double(m.bytes), m.unbounded ? 1 : 0) }
        return CollectionResult(families: [
            MetricCatalog.containerLogBytes.family(series.map { ($0.0, $0.1) }),
            MetricCatalog.containerLogUnbounded.family(series.map { ($0.0, $0.2) }),
            MetricCatalog.logsBytes.family(byDriver.sorted { $0.key < $1.key }.map { ([Label("driver", $0.key)], Double($0.value)) }),
            MetricCatalog.logsUnbounded.family(value: Double(measured.filter(\.unbounded).count)),
            MetricCatalog.logsContainers.family(counted.sorted { $0.key < $1.key }.map { ([Label("driver", $0.key)], Double($0.value)) }),
            MetricCatalog.logStatFailures.family(value: Double(statFailures.withLock { $0 })),
        ])
    }

    private func labels(_ c: TrackedContainer) -> [Label] {
        func capped(_ v: String) -> String { ContainerCollector.cappedLabelValue(v, limit: maxLabelValueLength) ?? v }
        var labels = [Label("name", capped(c.name)), Label("image", capped(c.image))]
        if let project = c.project { labels.append(Label("compose_project", capped(project))) }
        if let service = c.service { labels.append(Label("compose_service", capped(service))) }
        return labels
    }
}

/// File sizes, as a protocol so tests can stand in for the filesystem.
public protocol LogFileSizes: Sendable {
    /// The size of `path` plus the rotated files next to it (`path.1`, `path.2.gz`, ...); nil when
    /// the directory cannot be read. A missing live file counts 0 (a container that never logged).
    func totalSize(ofFileAndRotations path: String) -> Int64?
}

/// The real filesystem.
public struct SystemLogFileSizes: LogFileSizes {
    public init() {}

    public func totalSize(ofFileAndRotations path: String) -> Int64? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        // A missing live file in a readable directory: a container that has not logged yet.
        // Allocated bytes (what the disk holds): a log released by the container_logs step keeps
        // its size and takes nothing.
        guard var total = FileSize.allocated(path) ?? (FileSize.of(String(path[..<slash])) != nil ? 0 : nil) else { return nil }
        // Rotations are numbered from 1 without gaps (json-file: `.1`, `.2`; compressed: `.1.gz`;
        // local: `.1.gz`): stat them in turn instead of listing the directory.
        var n = 1
        while let size = FileSize.allocated("\(path).\(n)") ?? FileSize.allocated("\(path).\(n).gz") {
            total += size
            n += 1
        }
        return total
    }
}

extension LogsCollector {
    /// `collector.logs.*`: container log sizes, from the files (needs the containers collector's tracker).
    public static let definition = CollectorDefinition(
        name: "logs", metrics: MetricCatalog.logMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[LogsCollector.config].enabled && $0.collectors[ContainerCollector.config].enabled },
        make: { context in
            let configuration = context.configuration
            let containers = configuration.collectors[ContainerCollector.config]
            return LogsCollector(
                interval: configuration.collectors[LogsCollector.config].interval, tracker: context.existing(ContainerTracker.self),
                host: context.host, hostPrefix: configuration.collectors[DiskCollector.config].hostPrefix,
                maxSeries: containers.maxSeries, maxLabelValueLength: containers.maxLabelValueLength)
        })
}

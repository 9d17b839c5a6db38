import DockerEngine
import FoundationEssentials
import Locking

/// What the collectors last learned about the host, in human terms: the landing page shows it and
/// collectors share facts through it (the disk collector needs the daemon's root directory).
public final class HostStatus: Sendable {
    public struct Daemon: Sendable {
        public var up = false
        public var everAnswered = false
        public var serverVersion: String?
        /// Docker or Podman, from `/version` (nil before the first answer).
        public var engine: EngineKind?
        public var apiVersion: String?
        public var storageDriver: String?
        public var rootDir: String?
        public var liveRestore: Bool?
        public var lastPingSeconds: Double?
        public var consecutiveFailures = 0
        /// When the first failed probe of the current streak began; nil while the daemon answers.
        public var failingSince: Date?
        /// The same moment on the monotonic clock: the restart policy measures the streak's span with
        /// it, so a wall-clock step cannot make a short outage look long (or a long one short).
        public var failingSinceInstant: ContinuousClock.Instant?
        public var lastError: String?
    }

    public struct Disk: Sendable {
        public var path: String?
        public var sizeBytes: UInt64?
        public var availableBytes: UInt64?
        /// Free blocks including those reserved for root: used = size - free, as df counts it.
        public var freeBytes: UInt64?
        public var files: UInt64?
        public var filesFree: UInt64?
        public var statfsHung = false
        public var lastError: String?
        /// Every filesystem holding Docker data, data root's first (one entry when all is on one).
        public var filesystems: [DockerFilesystem] = []

        public init(
            path: String? = nil, sizeBytes: UInt64? = nil, availableBytes: UInt64? = nil, files: UInt64? = nil,
            filesFree: UInt64? = nil, statfsHung: Bool = false, lastError: String? = nil, freeBytes: UInt64? = nil
        ) {
            self.freeBytes = freeBytes
            self.path = path
            self.sizeBytes = sizeBytes
            self.availableBytes = availableBytes
            self.files = files
            self.filesFree = filesFree
            self.statfsHung = statfsHung
            self.lastError = lastError
        }
    }

    public struct Usage: Sendable {
        public var categories: [(name: String, usage: DiskUsageCategory)] = []
        public var sampledAt: Date?
        public var lastError: String?
        /// Bytes of all container log files (the logs collector), which `system df` does not count.
        public var logsBytes: Int64?
        /// The largest container logs, largest first (at most 5), for the status page.
        public var largestLogs: [(name: String, bytes: Int64)] = []
    }

    /// What a filesystem holding Docker data holds. Every step of the disk ladder frees space on
    /// some of them only: pruning images cannot help a filesystem that holds only logs.
    public enum DockerDataRole: String, Sendable, CaseIterable, Comparable {
        /// `DockerRootDir`: volumes and Docker's `tmp`.
        case dataRoot = "data_root"
        /// Where images, containers' writable layers and build cache live: the data root with the
        /// classic store, containerd's root with the containerd image store.
        case imageStore = "image_store"
        /// The containers' log files (`DockerRootDir/containers`).
        case logs
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// One filesystem holding Docker data, as last measured.
    public struct DockerFilesystem: Sendable, Equatable {
        /// The first path measured on it (the data root's when it holds the data root).
        public var path: String
        public var holds: Set<DockerDataRole>
        public var sizeBytes: UInt64
        public var freeBytes: UInt64
        public var availableBytes: UInt64
        /// Bytes of Docker's `tmp` when this filesystem holds the data root (nil: not measured).
        public var tmpBytes: Int64?

        public init(path: String, holds: Set<DockerDataRole>, sizeBytes: UInt64, freeBytes: UInt64, availableBytes: UInt64, tmpBytes: Int64? = nil) {
            self.path = path
            self.holds = holds
            self.sizeBytes = sizeBytes
            self.freeBytes = freeBytes
            self.availableBytes = availableBytes
            self.tmpBytes = tmpBytes
        }

        /// `holds` as a label value: the roles, sorted, joined with commas.
        public var holdsLabel: String { holds.sorted().map(\.rawValue).joined(separator: ",") }
    }

    /// The Docker filesystem's used bytes broken down: Docker's own categories (`system df`),
    /// container logs, and "other" — used minus the rest: what is not Docker's, or what Docker does
    /// not count (its `tmp`, containerd's content on this filesystem, orphans). Empty until both a
    /// disk and a `system df` sample exist. `other` is never negative (categories can overlap: build
    /// cache records shared with images are in both); `overlap` says by how much it would have been.
    ///
    /// With `filesystem`, only the categories that live there: images, containers and build cache
    /// on the image store's, volumes and `tmp` on the data root's, logs on the logs'.
    public func diskBreakdown(_ filesystem: DockerFilesystem? = nil) -> (categories: [(name: String, bytes: Int64)], overlap: Int64) {
        let disk = self.disk
        let usage = self.usage
        let holds = filesystem?.holds ?? Set(DockerDataRole.allCases)
        guard let size = filesystem?.sizeBytes ?? disk.sizeBytes, let free = filesystem?.freeBytes ?? disk.freeBytes, !usage.categories.isEmpty
        else { return ([], 0) }
        var parts: [(name: String, bytes: Int64)] = []
        for category in usage.categories {
            let role: DockerDataRole = category.name == "volumes" ? .dataRoot : .imageStore
            if holds.contains(role) { parts.append((category.name, max(0, category.usage.sizeBytes))) }
        }
        if holds.contains(.logs), let logs = usage.logsBytes { parts.append(("logs", logs)) }
        if holds.contains(.dataRoot), let tmp = filesystem?.tmpBytes { parts.append(("tmp", tmp)) }
        let used = Int64(clamping: size) - Int64(clamping: free)
        let other = used - parts.reduce(0) { $0 + $1.bytes }
        parts.append(("other", max(0, other)))
        return (parts, max(0, -other))
    }

    /// Every filesystem holding Docker data, data root's first (the disk collector).
    public var filesystems: [DockerFilesystem] { diskState.withLock { $0.filesystems } }

    private let daemonState = Mutex(Daemon())
    private let diskState = Mutex(Disk())
    private let usageState = Mutex(Usage())

    public init() {}

    public var daemon: Daemon { daemonState.withLock { $0 } }
    public var disk: Disk { diskState.withLock { $0 } }
    public var usage: Usage { usageState.withLock { $0 } }

    public func updateDaemon(_ change: (inout Daemon) -> Void) { daemonState.withLock { change(&$0) } }
    public func updateDisk(_ change: (inout Disk) -> Void) { diskState.withLock { change(&$0) } }
    public func updateUsage(_ change: (inout Usage) -> Void) { usageState.withLock { change(&$0) } }
}

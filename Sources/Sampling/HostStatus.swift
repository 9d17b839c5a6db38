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
        public var files: UInt64?
        public var filesFree: UInt64?
        public var statfsHung = false
        public var lastError: String?

        public init(
            path: String? = nil, sizeBytes: UInt64? = nil, availableBytes: UInt64? = nil, files: UInt64? = nil,
            filesFree: UInt64? = nil, statfsHung: Bool = false, lastError: String? = nil
        ) {
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
    }

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

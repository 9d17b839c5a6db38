import FoundationEssentials
import Sampling
import TextFormatting
import HostProbes

/// The disk thresholds and the hysteresis between them (plain values, no I/O).
///
/// Act when available space falls below `actBelowRatio` of the filesystem or below `actBelowBytes`,
/// or free inodes below `actBelowInodesRatio`; keep acting (step by step) until available space is
/// back at `targetRatio` (and above `actBelowBytes`) and free inodes at `targetInodesRatio`. The gap
/// between the two marks is what keeps the watchdog from flapping around one threshold.
public struct DiskThresholds: Sendable, Equatable {
    public var actBelowRatio: Double
    public var actBelowBytes: Int64
    public var actBelowInodesRatio: Double
    public var targetRatio: Double
    public var targetInodesRatio: Double

    public init(actBelowRatio: Double, actBelowBytes: Int64, actBelowInodesRatio: Double, targetRatio: Double, targetInodesRatio: Double) {
        self.actBelowRatio = actBelowRatio
        self.actBelowBytes = actBelowBytes
        self.actBelowInodesRatio = actBelowInodesRatio
        self.targetRatio = targetRatio
        self.targetInodesRatio = targetInodesRatio
    }

    /// Why the filesystem is under pressure, or nil when it is not.
    public func pressure(_ fs: FilesystemStats) -> String? {
        let ratio = Self.availableRatio(fs)
        if ratio < actBelowRatio {
            return "available \(fixedPoint(ratio * 100, fractionDigits: 1))% < \(fixedPoint(actBelowRatio * 100, fractionDigits: 1))%"
        }
        if Int64(clamping: fs.availableBytes) < actBelowBytes {
            return "available \(fs.availableBytes) bytes < \(actBelowBytes) bytes"
        }
        let inodes = Self.inodesRatio(fs)
        if inodes < actBelowInodesRatio {
            return "free inodes \(fixedPoint(inodes * 100, fractionDigits: 1))% < \(fixedPoint(actBelowInodesRatio * 100, fractionDigits: 1))%"
        }
        return nil
    }

    /// True when the low-water target is reached: the point where an episode ends.
    public func recovered(_ fs: FilesystemStats) -> Bool {
        Self.availableRatio(fs) >= targetRatio && Int64(clamping: fs.availableBytes) >= actBelowBytes
            && Self.inodesRatio(fs) >= targetInodesRatio
    }

    /// The next hysteresis state: under pressure it stays on until recovered.
    public func nextState(active: Bool, _ fs: FilesystemStats) -> Bool {
        active ? !recovered(fs) : pressure(fs) != nil
    }

    /// Bytes still to free to reach the target (0 when there).
    public func bytesToTarget(_ fs: FilesystemStats) -> Int64 {
        let needed = max(Double(fs.sizeBytes) * targetRatio, Double(actBelowBytes)) - Double(fs.availableBytes)
        return max(0, Int64(needed.rounded(.up)))
    }

    static func availableRatio(_ fs: FilesystemStats) -> Double {
        fs.sizeBytes == 0 ? 1 : Double(fs.availableBytes) / Double(fs.sizeBytes)
    }

    static func inodesRatio(_ fs: FilesystemStats) -> Double {
        fs.files == 0 ? 1 : Double(fs.filesFree) / Double(fs.files)  // filesystems without inode limits report 0
    }
}

/// The escalation ladder's steps, in order.
public enum DiskStep: String, Sendable, CaseIterable, Codable {
    case buildCache = "build_cache"
    case danglingImages = "dangling_images"
    case containerLogs = "container_logs"
    case stoppedContainers = "stopped_containers"
    case unusedImages = "unused_images"
    case volumes = "volumes"
}

extension DiskStep {
    /// What a step frees space on: removing images cannot help a filesystem that holds only logs.
    public var frees: Set<HostStatus.DockerDataRole> {
        switch self {
        case .buildCache, .danglingImages, .unusedImages: [.imageStore]
        case .stoppedContainers: [.imageStore, .logs]  // a writable layer and its log files
        case .containerLogs: [.logs]
        case .volumes: [.dataRoot]
        }
    }
}

/// A filesystem holding Docker data that the disk thresholds apply to: the data root's (`path`
/// nil: measured by the policy's own `measure`), or another one (containerd's root, the logs').
public struct WatchedFilesystem: Sendable, Equatable {
    public var path: String?
    public var holds: Set<HostStatus.DockerDataRole>
    /// How metrics name it: its path (the data root's too, once known).
    public var name: String
    public init(path: String?, holds: Set<HostStatus.DockerDataRole>, name: String? = nil) {
        self.path = path
        self.holds = holds
        self.name = name ?? path ?? "data_root"
    }
    /// Everything on the data root's filesystem (before the disk collector has looked).
    public static let dataRootOnly = WatchedFilesystem(path: nil, holds: Set(HostStatus.DockerDataRole.allCases))
}

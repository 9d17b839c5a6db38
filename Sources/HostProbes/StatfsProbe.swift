import FoundationEssentials
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// Filesystem figures from statvfs, in bytes and inodes.
public struct FilesystemStats: Sendable, Equatable {
    public var sizeBytes: UInt64
    public var freeBytes: UInt64
    public var availableBytes: UInt64
    public var files: UInt64
    public var filesFree: UInt64
    /// The filesystem itself is read-only, not merely the watchdog's view of it
    /// (see `StatfsProbe.filesystemReadOnly`).
    public var readOnly: Bool
    /// The device of the path (stat's `st_dev`): two paths with the same one are on the same
    /// filesystem (statvfs's `f_fsid` is 0 on some filesystems). 0: unknown.
    public var device: UInt64 = 0

    public init(sizeBytes: UInt64, freeBytes: UInt64, availableBytes: UInt64, files: UInt64, filesFree: UInt64, readOnly: Bool, device: UInt64 = 0) {
        self.sizeBytes = sizeBytes
        self.freeBytes = freeBytes
        self.availableBytes = availableBytes
        self.files = files
        self.filesFree = filesFree
        self.readOnly = readOnly
        self.device = device
    }
}

public enum StatfsError: Error, Sendable, Equatable, CustomStringConvertible {
    case failed(path: String, errno: Int32)
    /// statvfs did not return within the timeout; it is abandoned on its thread.
    case timedOut(path: String)
    /// An earlier statvfs is still stuck, so no new one is started (one stuck thread at most).
    case stillHung(path: String)

    public var description: String {
        switch self {
        case .failed(let path, let code): return "statvfs \(path): \(String(cString: strerror(code)))"
        case .timedOut(let path): return "statvfs \(path) did not return in time (hung mount?)"
        case .stillHung(let path): return "statvfs \(path) is still hung from an earlier round"
        }
    }
}

/// Runs statvfs with a deadline.
///
/// statvfs on a dead network mount can block forever and cannot be interrupted, which once hung
/// node_exporter until it ran out of descriptors. Each call runs on a short-lived thread; if it
/// misses the deadline the thread is left to finish on its own and no further call starts until it
/// has, so a hung mount costs one thread, never more.
public final class StatfsProbe: Sendable {
    /// Whether a statvfs thread is running, and the answer of the current call. One lock for both:
    /// the thread hands over its answer and stops being in flight in one step, so a call right
    /// after the answer never finds the probe still busy (it once did, and a removal lost its bytes).
    private struct Slot {
        var inFlight = false
        var call = 0
        var answer: (call: Int, result: Result<FilesystemStats, StatfsError>)?
    }
    private let slot = Mutex(Slot())
    /// Replaceable for tests that simulate a hung mount.
    private let statvfsCall: @Sendable (String) -> Result<FilesystemStats, StatfsError>

    public init(statvfsCall: @escaping @Sendable (String) -> Result<FilesystemStats, StatfsError> = StatfsProbe.systemStatvfs) {
        self.statvfsCall = statvfsCall
    }

    public var isHung: Bool { slot.withLock { $0.inFlight } }

    public func stats(path: String, timeout: Duration) -> Result<FilesystemStats, StatfsError> {
        let call = slot.withLock { s -> Int? in
            if s.inFlight { return nil }
            s.inFlight = true
            s.call += 1
            s.answer = nil
            return s.call
        }
        guard let call else { return .failure(.stillHung(path: path)) }
        let statvfsCall = self.statvfsCall
        let deadline = ContinuousClock.now + timeout
        startThread(name: "statvfs") { [slot] in
            let result = statvfsCall(path)
            slot.withLock { s in
                s.answer = (call, result)
                s.inFlight = false
            }
        }
        // Waited for on the monotonic clock (a semaphore's timeout is wall-clock time on Linux).
        var result: Result<FilesystemStats, StatfsError>?
        let answered = MonotonicWait.until(deadline) {
            result = slot.withLock { s in s.answer.flatMap { $0.call == call ? $0.result : nil } }
            return result != nil
        }
        guard answered, let result else { return .failure(.timedOut(path: path)) }
        return result
    }

    /// statvfs plus, when it reports read-only, a look at the superblock in mountinfo (see
    /// `filesystemReadOnly`). Both run here, inside the timed call, so nothing new can block sampling.
    public static let systemStatvfs: @Sendable (String) -> Result<FilesystemStats, StatfsError> = { path in
        var buffer = statvfs()
        guard statvfs(path, &buffer) == 0 else { return .failure(.failed(path: path, errno: errno)) }
        let mountFlagReadOnly = (buffer.f_flag & UInt(ST_RDONLY)) != 0
        let readOnly =
            mountFlagReadOnly
            && filesystemReadOnly(resolvedPath: resolved(path), mountinfo: MountInfo.readSystem())
        let fragment = UInt64(buffer.f_frsize)
        var st = stat()
        let device = stat(path, &st) == 0 ? UInt64(st.st_dev) : 0
        return .success(
            FilesystemStats(
                sizeBytes: UInt64(buffer.f_blocks) * fragment,
                freeBytes: UInt64(buffer.f_bfree) * fragment,
                availableBytes: UInt64(buffer.f_bavail) * fragment,
                files: UInt64(buffer.f_files),
                filesFree: UInt64(buffer.f_ffree),
                readOnly: readOnly, device: device))
    }

    /// Whether a path that statvfs calls read-only is on a read-only filesystem.
    ///
    /// statvfs's `ST_RDONLY` is set when the mount *or* the superblock is read-only (the kernel ORs
    /// both), so a writable answer needs no second look. A read-only one may only be the watchdog's
    /// own view: a read-only bind mount (systemd `ProtectSystem=strict`, a container's
    /// `-v /:/host:ro`) of a filesystem Docker writes to. Then the superblock options in mountinfo
    /// decide; when mountinfo is unreadable or says nothing for the path, the statvfs answer stands.
    public static func filesystemReadOnly(resolvedPath: String, mountinfo: String?) -> Bool {
        guard let mountinfo, let superblock = MountInfo.superblockReadOnly(mountinfo: mountinfo, path: resolvedPath) else {
            return true
        }
        return superblock
    }

    /// The absolute path without symlinks or `..`, as mountinfo names mount points.
    static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }
}

import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Locking

/// One line of the audit log, and one entry of `/api/v1/actions`.
public struct AuditRecord: Sendable, Equatable, Codable {
    public var time: Date
    /// Groups the lines of one action (planned, started, finished or failed).
    public var actionID: String
    public var policy: String
    public var action: String
    /// planned, started, finished, failed; `interrupted` (written at the next start for an action
    /// whose process died before it ended); `skipped` (a policy gave up on a target: autoheal's cap).
    public var phase: String
    public var dryRun: Bool
    public var reason: String
    /// What the action is aimed at (container names, image tags or IDs, a command).
    public var targets: [String]
    /// What was removed or restarted, as Docker reported it.
    public var removed: [String]
    /// Free bytes gained on the Docker root's filesystem across the action (statvfs before/after).
    public var bytesReclaimed: Int64?
    public var error: String?
    /// Disk actions: what the plan estimated removing the targets frees (the engine's size fields).
    public var estimatedBytes: Int64? = nil
    /// Disk actions: whether free space was back at the target afterwards (the episode ended there).
    public var targetReached: Bool? = nil
}

/// The append-only JSON-lines audit log.
///
/// Every action is written before it runs and after it ends. If the "planned" line cannot be
/// written the action does not run: an action nobody can audit is not taken.
public final class AuditLog: Sendable {
    public let path: String
    private let lock = Mutex(())

    public init(path: String) {
        self.path = path
    }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The end of an audit log as read back at start.
    enum Tail {
        case missing
        case failure(String)
        /// The last bytes (at most the limit), whether they begin inside the file, and its mtime.
        case tail([UInt8], startsMidLine: Bool, modified: Date)
    }

    /// Reads at most the last `byteLimit` bytes of the log at `path`.
    static func readTail(path: String, byteLimit: Int) -> Tail {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .missing : .failure("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let modified = Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
        let size = Int(st.st_size)
        let start = max(0, size - byteLimit)
        var bytes = [UInt8](repeating: 0, count: size - start)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, $0.count - filled, off_t(start + filled)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            filled += n
        }
        guard filled == bytes.count else { return .failure("cannot read \(path): \(filled) of \(bytes.count) bytes") }
        return .tail(bytes, startsMidLine: start > 0, modified: modified)
    }

    /// Ends a line left without its newline (a process killed mid-write), so that the next record
    /// starts on a line of its own and both stay readable.
    public func endTornLine() {
        lock.withLock { _ in
            let fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let end = lseek(fd, 0, SEEK_END)
            guard end > 0 else { return }
            var last: UInt8 = 0
            guard pread(fd, &last, 1, end - 1) == 1, last != 0x0A else { return }
            var newline: UInt8 = 0x0A
            _ = write(fd, &newline, 1)
            _ = fsync(fd)
        }
    }

    public func append(_ record: AuditRecord) throws(WriteError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        guard var line = try? encoder.encode(record) else { throw WriteError(description: "cannot encode audit record") }
        line.append(0x0A)
        let result: Result<Void, WriteError> = lock.withLock { _ in
            let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
            if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                return .failure(WriteError(description: "cannot open audit log \(path): \(String(cString: strerror(errno)))"))
            }
            defer { close(fd) }
            let end = lseek(fd, 0, SEEK_END)
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == line.count else {
                let reason = written < 0 ? String(cString: strerror(errno)) : "short write (\(written) of \(line.count) bytes; disk full?)"
                // On a full disk the last page may take part of a line: cut it off again, or the next
                // record would be glued to half of this one and the log would no longer parse.
                if written > 0 && end >= 0 { _ = ftruncate(fd, end) }
                return .failure(WriteError(description: "cannot write audit log \(path): \(reason)"))
            }
            guard fsync(fd) == 0 else {
                return .failure(WriteError(description: "cannot sync audit log \(path): \(String(cString: strerror(errno)))"))
            }
            return .success(())
        }
        try result.get()
    }
}

/// Host paths as the watchdog sees them: behind `collector.disk.host_prefix` (e.g. `/host`) when it
/// runs in a container with the host's filesystem mounted there, unchanged otherwise.
public enum HostPath {
    public static func resolve(_ path: String, hostPrefix: String) -> String {
        if hostPrefix.isEmpty { return path }
        return (hostPrefix.hasSuffix("/") ? String(hostPrefix.dropLast()) : hostPrefix) + path
    }
}

import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// Sizes of regular files with stat(2): FoundationEssentials' file attributes do not give a size
/// the same way on every platform, and a stat is all a log measurement needs.
public enum FileSize {
    /// The size of the file at `path`, nil when it cannot be stat'ed.
    public static func of(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// The bytes the file at `path` takes on disk (allocated blocks, as du and df count them): a log
    /// whose content was released with ``releaseContent(_:)`` keeps its size but takes nothing.
    public static func allocated(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_blocks) * 512
    }

    public struct ReleaseFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Frees the disk blocks of the file's current content and keeps its size: what dockerd's
    /// json-file writer keeps appending to stays at the offsets it knows. (Cutting the file to zero
    /// instead makes Docker 23+ `docker logs --tail` spin at 100% CPU until the container restarts:
    /// its reader trusts the writer's size.) Returns the length released.
    public static func releaseContent(_ path: String) throws(ReleaseFailed) -> Int64 {
        var length: Int64 = 0
        let rc = cwd_punch_hole(path, &length)
        guard rc == 0 else {
            throw ReleaseFailed(description: "releasing the blocks of \(path): \(String(cString: strerror(rc)))")
        }
        return length
    }
}

/// The bytes a directory tree takes on disk (allocated blocks, as df counts them), walked with
/// lstat and readdir, never following symlinks or crossing into another filesystem, and bounded:
/// Docker's `tmp` is normally nearly empty, and a runaway one must not make a round slow.
public enum DirectorySize {
    /// Allocated bytes under `path` (nil when it cannot be read), and whether the walk stopped at
    /// `maxEntries` (the figure is then a lower bound).
    public static func of(_ path: String, maxEntries: Int = 20_000) -> (bytes: Int64, truncated: Bool)? {
        var top = stat()
        guard lstat(path, &top) == 0 else { return nil }
        var total: Int64 = 0
        var visited = 0
        var pending = [path]
        while let dir = pending.popLast() {
            guard let handle = opendir(dir) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                visited += 1
                if visited > maxEntries { return (total + Int64(top.st_blocks) * 512, true) }
                let child = dir + "/" + name
                var st = stat()
                guard lstat(child, &st) == 0 else { continue }
                total += Int64(st.st_blocks) * 512
                if (st.st_mode & S_IFMT) == S_IFDIR && st.st_dev == top.st_dev { pending.append(child) }
            }
        }
        return (total + Int64(top.st_blocks) * 512, false)
    }
}

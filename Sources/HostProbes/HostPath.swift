/// Host paths as the watchdog sees them: behind `collector.disk.host_prefix` (e.g. `/host`) when it
/// runs in a container with the host's filesystem mounted there, unchanged otherwise.
public enum HostPath {
    public static func resolve(_ path: String, hostPrefix: String) -> String {
        if hostPrefix.isEmpty { return path }
        return (hostPrefix.hasSuffix("/") ? String(hostPrefix.dropLast()) : hostPrefix) + path
    }
}

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
}

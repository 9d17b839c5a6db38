/// Host paths as the watchdog sees them: behind `collector.disk.host_prefix` (e.g. `/host`) when it
/// runs in a container with the host's filesystem mounted there, unchanged otherwise.
public enum HostPath {
    public static func resolve(_ path: String, hostPrefix: String) -> String {
        if hostPrefix.isEmpty { return path }
        return (hostPrefix.hasSuffix("/") ? String(hostPrefix.dropLast()) : hostPrefix) + path
    }
}

import Locking

/// The version this binary reports in `--version`, on the landing page and in
/// `docker_watchdog_build_info`.
public struct BuildInfo: Sendable {
    public var version: String
    public var revision: String
    public var branch: String = "unknown"
    public var buildDate: String = "unknown"
    public var swiftVersion: String

    /// As stamped by the build (`BuildStamp`; `scripts/package.sh` stamps release builds).
    public static let current = BuildInfo(
        version: BuildStamp.version,
        revision: BuildStamp.revision,
        branch: BuildStamp.branch,
        buildDate: BuildStamp.buildDate,
        swiftVersion: {
            #if compiler(>=6.3)
                return "6.3"
            #elseif compiler(>=6.2)
                return "6.2"
            #elseif compiler(>=6.1)
                return "6.1"
            #else
                return "6.0"
            #endif
        }())
}

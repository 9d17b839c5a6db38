/// The version this binary reports in `--version`, on the landing page and in
/// `docker_watchdog_build_info`.
public struct BuildInfo: Sendable {
    public var version: String
    public var revision: String
    public var swiftVersion: String

    public static let current = BuildInfo(
        version: "0.1.0",
        revision: "unknown",
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

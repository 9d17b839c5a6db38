import CSystemShims

/// What the build stamped into the binary: version, git revision, branch and build date.
///
/// SwiftPM has no build-time variables, so the values are C macros of `CSystemShims`, set by the
/// release build (`scripts/package.sh`: `-Xcc -DDOCKER_WATCHDOG_VERSION='"1.2.3"'` and so on); a
/// plain `swift build` reports `0.1.0-dev` and `unknown`. It lives here because `Locking` is the
/// foundation module that already wraps `CSystemShims`.
public enum BuildStamp {
    public static let version = String(cString: cwd_build_version())
    public static let revision = String(cString: cwd_build_revision())
    public static let branch = String(cString: cwd_build_branch())
    public static let buildDate = String(cString: cwd_build_date())
}

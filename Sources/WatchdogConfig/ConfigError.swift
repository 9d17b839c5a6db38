/// What `ConfigLoader.load` decided the process should do.
public enum ConfigCommand: Sendable, Equatable {
    /// Start the watchdog with this configuration.
    case run(WatchdogConfiguration)
    /// `--config.check`: the configuration is valid; report and exit 0. `file` is the
    /// configuration file that was read (nil when none was given).
    case check(WatchdogConfiguration, file: String?)
    /// `-h`/`--help`: print this text to stdout and exit 0.
    case help(String)
    /// `--version`: print the version and exit 0.
    case version
}

/// A rejected configuration. The caller prints `description` to stderr and exits with status 2.
///
/// `key` names what is wrong in the vocabulary of the place it came from: a registry key
/// (`web.listen_address`) for a bad value in any source or a bad key in the file, the flag as typed
/// (`--web.listen-adress`) for an unknown flag, the variable name for an unknown environment
/// variable, and `config.file` for a file that cannot be read or is not YAML.
///
/// `source` says where to look: `config.yaml:12` (the path as given, and the 1-based line),
/// `flag --web.listen-address`, `env DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS`, `command line`,
/// `environment`, or `default`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let key: String
    public let source: String
    public let reason: String

    public init(key: String, source: String, reason: String) {
        self.key = key
        self.source = source
        self.reason = reason
    }

    /// `invalid configuration: web.listen_address (config.yaml:12): expected host:port, got "abc"`
    public var description: String {
        "invalid configuration: \(key) (\(source)): \(reason)"
    }
}

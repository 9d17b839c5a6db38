/// The fully resolved, validated configuration of docker-watchdog.
///
/// Every field's initial value *is* the documented default: `ConfigReference` renders the
/// defaults column of `--help` and of the README table by reading `WatchdogConfiguration.defaults`
/// through the registry (`ConfigRegistry.keys`), so a default is written exactly once, here.
///
/// Adding a configuration key means adding one field below (with its default) and one entry in
/// `ConfigRegistry.core`; a collector's keys live next to the collector instead (its settings
/// struct in `collectors`, its keys in its `CollectorDefinition`). Parsing from the file, the
/// environment and the flags, `--help`, the Markdown reference and the tests that guard them all
/// follow from the entry.
///
/// Values in here are already validated (ranges, positivity, syntax), so consumers never re-check.
public struct WatchdogConfiguration: Sendable, Equatable {
    public var docker = Docker()
    public var web = Web()
    /// Each collector's settings, declared by the collector itself (`collector.NAME.*`).
    public var collectors = CollectorSettingsStore()
    public var remediation = Remediation()
    public var log = Log()

    /// A configuration with every key at its documented default.
    public init() {}

    /// Every key at its documented default; what an empty configuration file yields.
    public static let defaults = WatchdogConfiguration()

    /// How to reach the Docker Engine API.
    public struct Docker: Sendable, Equatable {
        /// `docker.host`: where the Engine listens.
        public var host: DockerHost = .unix(path: "/var/run/docker.sock")
        /// `docker.read_only`: send nothing but GET requests; every remediation is off.
        public var readOnly: Bool = false
        /// `docker.api_version`: empty means "negotiate with `/version`"; otherwise a pinned `1.NN`.
        public var apiVersion: String = ""
        /// `docker.connect_timeout`: deadline for establishing the connection (unix or TCP).
        public var connectTimeout: Duration = .seconds(2)
        /// `docker.request_timeout`: total deadline of one API call, connecting included.
        public var requestTimeout: Duration = .seconds(10)
        /// `docker.tls_verify`: TLS to a tcp:// host, verifying the daemon (the CLI's DOCKER_TLS_VERIFY).
        public var tlsVerify: Bool = false
        /// `docker.cert_path`: the directory with ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH).
        public var certPath: String = ""
        public init() {}
    }

    /// The HTTP server that serves `/metrics`.
    public struct Web: Sendable, Equatable {
        /// `web.listen_address`: one or more addresses (the flag repeats); host "" means all interfaces.
        public var listenAddresses = [ListenAddress(host: "", port: 9734)]
        /// `web.systemd_socket`: serve on the sockets systemd passes (LISTEN_FDS) instead.
        public var systemdSocket: Bool = false
        /// The first listen address (setting it replaces them all).
        public var listenAddress: ListenAddress {
            get { listenAddresses[0] }
            set { listenAddresses = [newValue] }
        }
        /// `web.telemetry_path`: always starts with "/".
        public var telemetryPath: String = "/metrics"
        /// `web.max_connections`: concurrent connections in total.
        public var maxConnections: Int = 64
        /// `web.max_connections_per_ip`: concurrent connections from one client address.
        public var maxConnectionsPerIP: Int = 16
        /// `web.connection_timeout`: idle/slow client connections are closed after this.
        public var connectionTimeout: Duration = .seconds(10)
        /// `web.request_header_timeout`: a new connection's first request must be complete by then.
        public var requestHeaderTimeout: Duration = .seconds(3)
        /// `web.config_file`: TLS and basic auth (`WebConfig`); empty means plain HTTP, no authentication.
        public var configFile: String = ""
        public init() {}
    }

    /// What the watchdog may do to the host, and how carefully.
    public struct Remediation: Sendable, Equatable {
        /// `remediation.dry_run`: plan and report every action, run none (overrides each policy).
        public var dryRun: Bool = false
        /// `remediation.interval`: how often the policies are evaluated.
        public var interval: Duration = .seconds(15)
        /// `remediation.audit_log`: the append-only JSON-lines audit log.
        public var auditLog: String = "/var/lib/docker-watchdog/audit.jsonl"
        /// `remediation.protect_label`: the label selector that protects any object.
        public var protectLabel: LabelSelector = "docker-watchdog.protect=true"
        /// `remediation.keep_pattern`: regular expression on image tags, container and volume names.
        public var keepPattern: String = ""
        /// `remediation.webhook_url`: `http://host:port/path` told of every action; empty: none.
        public var webhookURL: String = ""
        public var disk = Disk()
        public var daemon = Daemon()
        public var autoheal = Autoheal()
        public init() {}

        /// Disk self-healing.
        public struct Disk: Sendable, Equatable {
            public var enabled: Bool = true
            public var dryRun: Bool = false
            public var actBelowRatio: Double = 0.10
            public var actBelowBytes: Int64 = 5 << 30
            public var actBelowInodesRatio: Double = 0.10
            public var targetRatio: Double = 0.20
            public var targetInodesRatio: Double = 0.20
            /// Comma-separated steps of the ladder that may run.
            public var steps: String = "build_cache,dangling_images"
            public var buildCacheKeep: Int64 = 0
            public var minAge: Duration = .seconds(3600)
            public var namedVolumeLabel: LabelSelector = .none
            /// The `container_logs` step: json-file logs above this size may be truncated.
            public var logsTruncateAbove: Int64 = 100 << 20
            /// Containers opt in to log truncation with this label (or all, with `logsAll`).
            public var logsLabel: LabelSelector = "docker-watchdog.truncate-logs=true"
            public var logsAll: Bool = false
            public var cooldown: Duration = .seconds(600)
            public init() {}
        }

        /// Guarded restart of a daemon that stopped answering (`remediation.daemon.*`).
        public struct Daemon: Sendable, Equatable {
            public var enabled: Bool = false
            public var dryRun: Bool = false
            /// Consecutive failed `/_ping` probes before acting...
            public var failures: Int = 3
            /// ...spanning at least this long, from the start of the first failed probe.
            public var minSpan: Duration = .seconds(30)
            /// Run with `/bin/sh -c`.
            public var restartCommand: String = "systemctl restart docker"
            /// dockerd's pidfile, for the SIGUSR1 stack dump; empty: no stack dump.
            public var pidFile: String = "/var/run/docker.pid"
            /// Deadline of the restart command, and then of the daemon's first answer.
            public var verifyTimeout: Duration = .seconds(120)
            public var cooldown: Duration = .seconds(900)
            /// At most this many restarts in any `window`.
            public var maxRestarts: Int = 3
            public var window: Duration = .seconds(6 * 3600)
            public init() {}
        }

        /// Restarts of unhealthy containers (`remediation.autoheal.*`).
        public struct Autoheal: Sendable, Equatable {
            public var enabled: Bool = true
            public var dryRun: Bool = false
            /// `key=value` (or `key`) that opts a container in.
            public var label: LabelSelector = "docker-watchdog.autoheal=true"
            /// Every container with a health check, labelled or not.
            public var all: Bool = false
            public var minUnhealthy: Duration = .seconds(60)
            public var backoff: Duration = .seconds(30)
            public var maxBackoff: Duration = .seconds(1800)
            /// Consecutive restarts without the container turning healthy, then it is left alone.
            public var maxRestarts: Int = 5
            /// Restart a compose project's unhealthy members together.
            public var stack: Bool = false
            public init() {}
        }
    }

    /// Logging.
    public struct Log: Sendable, Equatable {
        /// `log.level`
        public var level: LogLevel = .info
        /// `log.format`
        public var format: LogFormat = .logfmt
        public init() {}
    }
}

/// A TCP listen address. `host` is "" for all interfaces, a hostname, an IPv4 address or an
/// IPv6 address *without* brackets; `description` adds the brackets back.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    /// 0...65535; 0 asks the kernel for a free port (useful in tests).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, `:port` or `[v6]:port`: the same syntax the parser accepts.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Where the Docker Engine API is reached. `http://` input is normalised to `.tcp`.
public enum DockerHost: Sendable, Hashable, CustomStringConvertible {
    /// A unix socket; `path` is absolute.
    case unix(path: String)
    /// Plain TCP (no TLS); `host` is an IPv6 address without brackets when it contains ":".
    case tcp(host: String, port: Int)

    /// `unix:///path` or `tcp://host:port`: the same syntax the parser accepts.
    public var description: String {
        switch self {
        case .unix(let path):
            return "unix://\(path)"
        case .tcp(let host, let port):
            return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }
}

/// Log levels; the raw values equal swift-log's `Logger.Level` raw values, so
/// `Logger.Level(rawValue: level.rawValue)!` is total.
public enum LogLevel: String, Sendable, CaseIterable, Equatable {
    case trace, debug, info, notice, warning, error, critical
}

/// Log line encodings.
public enum LogFormat: String, Sendable, CaseIterable, Equatable {
    case logfmt, json
}

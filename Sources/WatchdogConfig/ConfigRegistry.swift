/// One configuration key: its name, its type, its documentation and where it lives in
/// `WatchdogConfiguration`. Type-erased so keys of different value types share one array.
///
/// The flag and environment variable names are *derived* from the key name rather than written
/// down, so they cannot drift apart: `web.listen_address` is `--web.listen-address` and
/// `DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS`.
public struct ConfigKey: Sendable {
    /// Dotted lower_snake path, also the YAML nesting (`web:` → `listen_address:`).
    public let name: String
    /// Type column of the reference, e.g. `duration (> 0)`.
    let summary: String
    /// Value placeholder in `--help`.
    let placeholder: String
    /// Bool keys may be given as a bare `--flag`.
    let isBool: Bool
    /// One or two sentences for `--help` and the README; say why, not only what.
    let doc: String
    /// Extra environment variables read for this key, lower precedence than the derived one
    /// (e.g. `DOCKER_HOST` for `docker.host`), in decreasing precedence.
    let envAliases: [String]
    /// Extra flag names (without dashes) accepted for this key, e.g. the exporter-toolkit spelling
    /// `web.config.file` of `web.config_file`.
    let flagAliases: [String]
    /// The flag may be given several times; the values are joined with commas.
    let repeatable: Bool
    /// The flag's spelling when it is not derived from the name (see `flagName`).
    let flagSpelling: String?

    /// Parses `raw` and stores it in the configuration.
    let apply: @Sendable (inout WatchdogConfiguration, String) throws(ValueError) -> Void
    /// The key's current value, rendered in the syntax `apply` accepts.
    let render: @Sendable (WatchdogConfiguration) -> String
    /// Whether `apply(render(c))` reproduces the value in `c`; a registry self-check for tests.
    let roundTrips: @Sendable (WatchdogConfiguration) -> Bool

    public init<V>(
        _ name: String,
        _ path: WritableKeyPath<WatchdogConfiguration, V> & Sendable,
        _ type: ValueType<V>,
        envAliases: [String] = [],
        flagAliases: [String] = [],
        repeatable: Bool = false,
        flag: String? = nil,
        _ doc: String
    ) {
        self.repeatable = repeatable
        self.flagSpelling = flag
        // The derived spelling keeps working next to a chosen one.
        self.flagAliases = flagAliases + (flag.map { _ in [String(name.map { $0 == "_" ? "-" : $0 })] } ?? [])
        self.name = name
        self.summary = type.summary
        self.placeholder = type.placeholder
        self.isBool = type.isBool
        self.doc = doc
        self.envAliases = envAliases
        self.apply = { (config: inout WatchdogConfiguration, raw: String) throws(ValueError) in
            config[keyPath: path] = try type.parse(raw)
        }
        self.render = { config in type.format(config[keyPath: path]) }
        self.roundTrips = { config in
            (try? type.parse(type.format(config[keyPath: path]))) == config[keyPath: path]
        }
    }

    /// `--web.listen-address`
    var flag: String { "--" + flagName }
    /// `web.listen-address`: the flag without its dashes, as looked up while parsing arguments.
    /// Derived from the key's name, unless the key names its flag (`flagSpelling`), as
    /// `web.config_file` does with the exporter-toolkit's `--web.config.file`; the derived one is
    /// then an alias.
    var flagName: String { flagSpelling ?? derivedFlagName }
    var derivedFlagName: String { String(name.map { $0 == "_" ? "-" : $0 }) }
    /// `DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS`
    var env: String { ConfigRegistry.envPrefix + String(name.uppercased().map { $0 == "." ? "_" : $0 }) }
    /// The documented default, read from `WatchdogConfiguration.defaults`.
    var defaultText: String { render(.defaults) }
}

/// A rule that involves more than one key. Kept in the registry so `--help` can list them.
struct CrossCheck: Sendable {
    let doc: String
    /// Returns the error to report, if the rule is broken. `origin` tells where a key's value came
    /// from, so the message can blame the key the user actually set.
    let check: @Sendable (WatchdogConfiguration, (String) -> Origin) -> ConfigError?
}

/// Which layer a value came from; higher layers win.
enum Layer: Int, Comparable, Sendable {
    case defaults, file, environment, flags
    static func < (a: Layer, b: Layer) -> Bool { a.rawValue < b.rawValue }
}

/// Where one key's effective value came from.
struct Origin: Sendable, Equatable {
    let layer: Layer
    /// `config.yaml:12`, `flag --x`, `env X` or `default`.
    let source: String
    static let defaults = Origin(layer: .defaults, source: "default")
}

/// The single source of truth for configuration keys: the watchdog's own (`core`) and those its
/// collectors declare next to their code (`adding(_:before:)`; the Watchdog module's
/// `ConfigRegistry.watchdog` has them all). Everything that reads keys (the loader, `--help`, the
/// reference tables, the reload diff) is given a registry, so there is no global list to register in.
public struct ConfigRegistry: Sendable {
    static let envPrefix = "DOCKER_WATCHDOG_"

    /// Every key, in the order shown by `--help` and the reference table.
    let keys: [ConfigKey]
    /// Rules spanning several keys.
    let crossChecks: [CrossCheck]
    let byName: [String: ConfigKey]
    let byFlagName: [String: ConfigKey]
    /// Every proper prefix of a key (`collector`, `collector.daemon`, ...): the YAML mappings.
    let sections: Set<String>

    init(keys: [ConfigKey], crossChecks: [CrossCheck]) {
        self.keys = keys
        self.crossChecks = crossChecks
        byName = Dictionary(keys.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        byFlagName = Dictionary(
            keys.flatMap { key in ([key.flagName] + key.flagAliases).map { ($0, key) } }, uniquingKeysWith: { a, _ in a })
        var sections = Set<String>()
        for key in keys {
            var parts = key.name.split(separator: ".")
            parts.removeLast()
            while !parts.isEmpty {
                sections.insert(parts.joined(separator: "."))
                parts.removeLast()
            }
        }
        self.sections = sections
    }

    /// The names of every key, in order.
    public var keyNames: [String] { keys.map(\.name) }

    /// This registry with `extra` keys inserted before the first key whose name starts with
    /// `prefix` (at the end if none does). A key whose name is already taken is a programming
    /// error.
    public func adding(_ extra: [ConfigKey], before prefix: String) -> ConfigRegistry {
        for key in extra { precondition(byName[key.name] == nil, "configuration key \(key.name) declared twice") }
        let at = keys.firstIndex { $0.name.hasPrefix(prefix) } ?? keys.endIndex
        var all = keys
        all.insert(contentsOf: extra, at: at)
        return ConfigRegistry(keys: all, crossChecks: crossChecks)
    }

    /// The watchdog's own keys (docker, web, remediation, log) and its rules; no collector's.
    public static let core = ConfigRegistry(keys: coreKeys, crossChecks: coreCrossChecks)

    static let coreKeys: [ConfigKey] = [
        // MARK: docker
        ConfigKey(
            "docker.host", \.docker.host, .dockerHost, envAliases: ["DOCKER_HOST"],
            "Docker Engine endpoint: unix:///path or tcp://host:port (http:// is read as tcp://; TLS with docker.tls_verify; ssh is not supported). DOCKER_HOST is honoured, below DOCKER_WATCHDOG_DOCKER_HOST, so the watchdog finds the same daemon as the docker CLI."
        ),
        ConfigKey(
            "docker.tls_verify", \.docker.tlsVerify, .bool, envAliases: ["DOCKER_TLS_VERIFY"],
            "Talk TLS to a tcp:// docker.host and verify the daemon's certificate and name against ca.pem, presenting cert.pem and key.pem from docker.cert_path, as the docker CLI does with DOCKER_TLS_VERIFY (honoured, below DOCKER_WATCHDOG_DOCKER_TLS_VERIFY)."
        ),
        ConfigKey(
            "docker.cert_path", \.docker.certPath, .optionalAbsolutePath, envAliases: ["DOCKER_CERT_PATH"],
            "Directory with ca.pem, cert.pem and key.pem for docker.tls_verify (DOCKER_CERT_PATH is honoured)."),
        ConfigKey(
            "docker.api_version", \.docker.apiVersion, .apiVersion,
            "Pin an Engine API version (e.g. 1.43) instead of negotiating it from /version; empty negotiates. Pin only to work around a daemon that misreports its version."),
        ConfigKey(
            "docker.read_only", \.docker.readOnly, .bool,
            "Least privilege: the Docker client refuses every request that is not a GET (nothing on the host can be changed, whatever else is configured) and every remediation policy is off. Pair it with a socket proxy that allows only the GET endpoints listed in docs/security.md."
        ),
        ConfigKey(
            "docker.connect_timeout", \.docker.connectTimeout, .duration(positive: true),
            "Deadline for connecting to the Engine. Short on purpose: a socket that does not accept within seconds means a hung daemon, which is what the watchdog must report. Must not exceed docker.request_timeout."
        ),
        ConfigKey(
            "docker.request_timeout", \.docker.requestTimeout, .duration(positive: true),
            "Total deadline of one API call, connecting included (the system_df collector has its own, collector.system_df.timeout)."),

        // MARK: web
        ConfigKey(
            "web.listen_address", \.web.listenAddresses, .listenAddresses, repeatable: true,
            "Addresses of the metrics HTTP server: host:port, :port (all interfaces) or [ipv6]:port; several comma-separated, or the flag repeated (--web.listen-address a --web.listen-address b), as in the Prometheus exporter-toolkit."
        ),
        ConfigKey(
            "web.systemd_socket", \.web.systemdSocket, .bool,
            "Serve on the listening sockets systemd passes (socket activation: LISTEN_FDS, LISTEN_PID) instead of web.listen_address."),
        ConfigKey(
            "web.telemetry_path", \.web.telemetryPath, .urlPath,
            "URL path that serves the metrics."),
        ConfigKey(
            "web.max_connections", \.web.maxConnections, .integer(1...10_000),
            "Concurrent HTTP connections in total, so a misbehaving client cannot exhaust the watchdog's file descriptors; at the limit, the connection that has waited longest for a request is closed to admit the new one (a new one is refused only when every connection is being answered)."
        ),
        ConfigKey(
            "web.max_connections_per_ip", \.web.maxConnectionsPerIP, .integer(1...10_000),
            "Concurrent HTTP connections from one client address (effectively capped by web.max_connections); at the limit, that address's connection that has waited longest for a request is closed to admit the new one."
        ),
        ConfigKey(
            "web.connection_timeout", \.web.connectionTimeout, .duration(positive: true),
            "Idle or slow HTTP connections are closed after this, so stalled clients do not hold connection slots."),
        ConfigKey(
            "web.request_header_timeout", \.web.requestHeaderTimeout, .duration(positive: true),
            "A new connection's first request must be complete (headers and body) within this, however slowly it trickles in; a scraper sends it at once. At web.max_connections (or web.max_connections_per_ip) the connection that has waited longest for its request is closed to make room for a new one, so idle or trickling connections cannot starve scrapes."
        ),
        ConfigKey(
            "web.config_file", \.web.configFile, .string(summary: "file path or empty", placeholder: "PATH"),
            flag: "web.config.file",
            "Web config file (exporter-toolkit format) with TLS and basic-auth settings for every HTTP endpoint; see \"Securing the endpoint\" in docs/security.md. Empty: plain HTTP without authentication. The file is read at start; its basic_auth_users are re-read on SIGHUP and its certificate, key and client CA every 2 s (they rotate without a restart); turning TLS on or off needs a restart."
        ),

        // MARK: remediation
        ConfigKey(
            "remediation.dry_run", \.remediation.dryRun, .bool,
            "Plan and report every remediation action (audit log, metrics, /api/v1/plan) without running any; overrides every policy."),
        ConfigKey(
            "remediation.interval", \.remediation.interval, .duration(positive: true),
            "How often the remediation policies are evaluated (one at a time: at most one action runs at any moment)."),
        ConfigKey(
            "remediation.audit_log", \.remediation.auditLog,
            .string(summary: "file path", placeholder: "PATH") { raw in
                raw.hasPrefix("/") ? nil : "expected an absolute path, got \(quoted(raw))"
            },
            "Append-only JSON-lines audit log: every action is written before it runs and after it ends. An action whose first line cannot be written is not run."),
        ConfigKey(
            "remediation.protect_label", \.remediation.protectLabel, .labelSelector,
            "Container, image and volume label that protects the object from every remediation: key (any value), key=value, or key= (the empty value)."),
        ConfigKey(
            "remediation.keep_pattern", \.remediation.keepPattern, .regularExpression,
            "Regular expression on image tags, container names and volume names that are never removed (empty: none)."),
        ConfigKey(
            "remediation.webhook_url", \.remediation.webhookURL,
            .string(summary: "http URL", placeholder: "URL") { raw in
                if raw.isEmpty { return nil }
                guard raw.hasPrefix("http://"), let rest = raw.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
                    let colon = rest.lastIndex(of: ":"), Int(rest[rest.index(after: colon)...]) != nil
                else { return "expected http://host:port/path, got \(quoted(raw))" }
                return nil
            },
            "Receiver (http://host:port/path) POSTed a JSON record of every action, with a 5 s deadline on a queue of its own so a dead receiver never delays healing; empty: none."),
        ConfigKey(
            "remediation.disk.enabled", \.remediation.disk.enabled, .bool,
            "Free space on the Docker root automatically when it runs low."),
        ConfigKey(
            "remediation.disk.dry_run", \.remediation.disk.dryRun, .bool,
            "Plan and report the disk ladder without removing anything."),
        ConfigKey(
            "remediation.disk.act_below_ratio", \.remediation.disk.actBelowRatio, .ratio(),
            "Act when available space of the Docker root's filesystem falls below this share of its size."),
        ConfigKey(
            "remediation.disk.act_below_bytes", \.remediation.disk.actBelowBytes, .byteSize(),
            "Act when available space falls below this many bytes (and keep going until it is above it again)."),
        ConfigKey(
            "remediation.disk.act_below_inodes_ratio", \.remediation.disk.actBelowInodesRatio, .ratio(),
            "Act when free inodes fall below this share."),
        ConfigKey(
            "remediation.disk.target_ratio", \.remediation.disk.targetRatio, .ratio(),
            "Stop once available space is back at this share (the low-water mark; keep it above act_below_ratio so the watchdog never flaps)."),
        ConfigKey(
            "remediation.disk.target_inodes_ratio", \.remediation.disk.targetInodesRatio, .ratio(),
            "Stop only once free inodes are back at this share."),
        ConfigKey(
            "remediation.disk.steps", \.remediation.disk.steps, .diskSteps,
            "Comma-separated ladder steps that may run, always in this order: build_cache (BuildKit prunes least recently used first), dangling_images (oldest first), container_logs (json-file logs of opted-in containers above remediation.disk.logs_truncate_above, largest first, truncated), stopped_containers (exited longest ago first), unused_images (least recently built or tagged first), volumes (anonymous unused volumes only, plus named ones carrying remediation.disk.named_volume_label). Each object is checked against every rule and removed one by one until the target is reached."
        ),
        ConfigKey(
            "remediation.disk.build_cache_keep", \.remediation.disk.buildCacheKeep, .byteSize(),
            "Build cache to keep when pruning it (BuildKit removes the least recently used records first)."),
        ConfigKey(
            "remediation.disk.min_age", \.remediation.disk.minAge, .duration(positive: true),
            "Stopped containers (since they exited) and images, dangling ones included (since the later of built and last pulled or tagged), younger than this are never removed."),
        ConfigKey(
            "remediation.disk.named_volume_label", \.remediation.disk.namedVolumeLabel, .labelSelector,
            "Label selector (key, key=value or key=) that makes a named, unused volume removable by the volumes step; empty: named volumes are never removed."),
        ConfigKey(
            "remediation.disk.logs_truncate_above", \.remediation.disk.logsTruncateAbove, .byteSize(),
            "The container_logs step releases a json-file log (frees its blocks, keeps its size) only when it takes more than this."),
        ConfigKey(
            "remediation.disk.logs_label", \.remediation.disk.logsLabel, .labelSelector,
            "Label selector (key, key=value or key=) by which a container opts in to log truncation by the container_logs step."),
        ConfigKey(
            "remediation.disk.logs_all", \.remediation.disk.logsAll, .bool,
            "Let the container_logs step release the json-file log of every container without the protection label, not only those carrying remediation.disk.logs_label."),
        ConfigKey(
            "remediation.disk.cooldown", \.remediation.disk.cooldown, .duration(positive: true),
            "Wait this long before running the ladder again after an episode that did not reach the target (or a dry run)."),
        ConfigKey(
            "remediation.daemon.enabled", \.remediation.daemon.enabled, .bool,
            "Restart a Docker daemon that stopped answering. Off by default: without live-restore a restart stops every container on the host, a decision the operator must opt in to."),
        ConfigKey(
            "remediation.daemon.dry_run", \.remediation.daemon.dryRun, .bool,
            "Plan and report daemon restarts (audit log, metrics, /api/v1/plan) without signalling dockerd or running the restart command."),
        ConfigKey(
            "remediation.daemon.failures", \.remediation.daemon.failures, .integer(1...1000),
            "Consecutive failed /_ping probes (timeouts or errors) before a restart is considered; one slow answer is not an outage."),
        ConfigKey(
            "remediation.daemon.min_span", \.remediation.daemon.minSpan, .duration(positive: true),
            "The failed probes must also span at least this long (from the start of the first one), so a burst of quick failures does not restart a daemon that is only busy for a moment."),
        ConfigKey(
            "remediation.daemon.restart_command", \.remediation.daemon.restartCommand,
            .string(summary: "shell command", placeholder: "COMMAND") { raw in
                trimmedWhitespace(raw).isEmpty ? "expected a command, got an empty string" : nil
            },
            "Command that restarts the daemon, run with /bin/sh -c; a non-zero exit status or running past remediation.daemon.verify_timeout is a failed restart. Restarting dockerd is the service manager's job, not an API call."
        ),
        ConfigKey(
            "remediation.daemon.pid_file", \.remediation.daemon.pidFile, .optionalAbsolutePath,
            "dockerd's pidfile. Before a restart the watchdog sends SIGUSR1 to that pid, and dockerd writes a goroutine stack dump (goroutine-stacks-*.log in its exec root, the path in its log): what maintainers ask for. Empty: no stack dump."
        ),
        ConfigKey(
            "remediation.daemon.verify_timeout", \.remediation.daemon.verifyTimeout, .duration(positive: true),
            "Deadline of the restart command, and then again of the daemon's first /_ping answer after it; a daemon that does not answer by then is a failed restart."),
        ConfigKey(
            "remediation.daemon.cooldown", \.remediation.daemon.cooldown, .duration(positive: true),
            "Minimum time between two restarts (or planned restarts in a dry run), so a daemon that is slow to come back is not restarted again while it starts."),
        ConfigKey(
            "remediation.daemon.max_restarts", \.remediation.daemon.maxRestarts, .integer(1...100),
            "At most this many restarts in any remediation.daemon.window. Past the cap the policy stops, reports itself suppressed and waits for a human: it restarts again only after the daemon has answered once and the window has room."
        ),
        ConfigKey(
            "remediation.daemon.window", \.remediation.daemon.window, .duration(positive: true),
            "The sliding window of remediation.daemon.max_restarts."),
        ConfigKey(
            "remediation.autoheal.enabled", \.remediation.autoheal.enabled, .bool,
            "Restart unhealthy containers that opted in. On by default because it touches only containers carrying remediation.autoheal.label (or every container with remediation.autoheal.all)."),
        ConfigKey(
            "remediation.autoheal.dry_run", \.remediation.autoheal.dryRun, .bool,
            "Plan and report container restarts without restarting anything."),
        ConfigKey(
            "remediation.autoheal.label", \.remediation.autoheal.label, .labelSelector,
            "Container label that opts a container in to autoheal: key (any value), key=value, or key= (the empty value); empty: only remediation.autoheal.all opts containers in."),
        ConfigKey(
            "remediation.autoheal.all", \.remediation.autoheal.all, .bool,
            "Autoheal every unhealthy container, labelled or not (never those carrying remediation.protect_label). Off by default: restarting a container its owner did not opt in can lose work in flight."
        ),
        ConfigKey(
            "remediation.autoheal.min_unhealthy", \.remediation.autoheal.minUnhealthy, .duration(positive: true),
            "A container must have been unhealthy this long before it is restarted, so a brief failing probe during load does not bounce it."),
        ConfigKey(
            "remediation.autoheal.backoff", \.remediation.autoheal.backoff, .duration(positive: true),
            "Wait after the first restart of a container before the next one; doubles with every further restart that did not make the container healthy."),
        ConfigKey(
            "remediation.autoheal.max_backoff", \.remediation.autoheal.maxBackoff, .duration(positive: true),
            "Upper bound of the doubling backoff between restarts of one container."),
        ConfigKey(
            "remediation.autoheal.max_restarts", \.remediation.autoheal.maxRestarts, .integer(1...1000),
            "Consecutive restarts of one container that did not make it healthy; then the container is left alone (and the policy reports itself suppressed) until it turns healthy again. A restart that does not help is not repeated forever."
        ),
        ConfigKey(
            "remediation.autoheal.stack", \.remediation.autoheal.stack, .bool,
            "When a container of a compose project is restarted, restart the project's other unhealthy opted-in members with it (services that failed together often recover only together)."),

        // MARK: log
        ConfigKey(
            "log.level", \.log.level, .enumeration(placeholder: "LEVEL"),
            "Minimum severity that is logged."),
        ConfigKey(
            "log.format", \.log.format, .enumeration(placeholder: "FORMAT"),
            "Log line encoding: logfmt for people, json for log shippers."),
    ]

    /// Rules spanning several keys. Deliberately few: each one can turn a change of a single key
    /// into an error about another. Timeouts longer than their interval are allowed everywhere,
    /// because every collector is single-flight (an overrun delays the next run, nothing piles up).
    static let coreCrossChecks: [CrossCheck] = [
        CrossCheck(
            doc: "docker.read_only turns every remediation policy off: enabling one explicitly as well is a contradiction, refused rather than silently ignored.",
            check: { config, origin in
                guard config.docker.readOnly else { return nil }
                let r = config.remediation
                for (key, enabled) in [
                    ("remediation.disk.enabled", r.disk.enabled), ("remediation.daemon.enabled", r.daemon.enabled),
                    ("remediation.autoheal.enabled", r.autoheal.enabled),
                ] where enabled && origin(key).layer > .defaults {
                    return ConfigError(
                        key: key, source: origin(key).source,
                        reason: "cannot be true with docker.read_only (\(origin("docker.read_only").source)): a read-only watchdog changes nothing on the host")
                }
                return nil
            }),
        CrossCheck(
            doc: "remediation.disk.target_ratio must be above remediation.disk.act_below_ratio, or the watchdog would stop as soon as it starts and start again at once.",
            check: { config, origin in
                guard config.remediation.disk.targetRatio <= config.remediation.disk.actBelowRatio else { return nil }
                let key = origin("remediation.disk.target_ratio")
                return ConfigError(
                    key: "remediation.disk.target_ratio", source: key.source,
                    reason: "must be above remediation.disk.act_below_ratio (\(config.remediation.disk.actBelowRatio)), got \(config.remediation.disk.targetRatio)")
            }),
        CrossCheck(
            doc: "docker.tls_verify needs a tcp:// docker.host and a docker.cert_path holding readable ca.pem, cert.pem and key.pem.",
            check: { config, origin in
                guard config.docker.tlsVerify else { return nil }
                let key = origin("docker.tls_verify")
                if case .unix = config.docker.host {
                    return ConfigError(key: "docker.tls_verify", source: key.source, reason: "TLS needs a tcp:// docker.host, got \(config.docker.host)")
                }
                let dir = config.docker.certPath
                guard !dir.isEmpty else {
                    return ConfigError(
                        key: "docker.cert_path", source: origin("docker.cert_path").source,
                        reason: "docker.tls_verify is on: set the directory with ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH)")
                }
                for file in ["ca.pem", "cert.pem", "key.pem"] {
                    do throws(ConfigLoader.FileReadError) {
                        _ = try ConfigLoader.readFile(dir + "/" + file)
                    } catch {
                        return ConfigError(
                            key: "docker.cert_path", source: origin("docker.cert_path").source, reason: "cannot read \(dir)/\(file): \(error.reason)")
                    }
                }
                return nil
            }),
        CrossCheck(
            doc: "docker.connect_timeout must not exceed docker.request_timeout: the request timeout includes connecting, so a longer connect timeout could never take effect.",
            check: { config, origin in
                guard config.docker.connectTimeout > config.docker.requestTimeout else { return nil }
                let connect = origin("docker.connect_timeout")
                let request = origin("docker.request_timeout")
                // Blame whichever key was set by the more specific source; on a tie, the connect timeout.
                if request.layer > connect.layer {
                    return ConfigError(
                        key: "docker.request_timeout", source: request.source,
                        reason:
                            "must not be shorter than docker.connect_timeout (\(formatDuration(config.docker.connectTimeout)), \(connect.source)), got \(formatDuration(config.docker.requestTimeout)); lower docker.connect_timeout as well"
                    )
                }
                return ConfigError(
                    key: "docker.connect_timeout", source: connect.source,
                    reason:
                        "must not exceed docker.request_timeout (\(formatDuration(config.docker.requestTimeout)), \(request.source)), which includes connecting; got \(formatDuration(config.docker.connectTimeout))"
                )
            }),
    ]
}

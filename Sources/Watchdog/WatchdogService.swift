import CurlTransport
import DockerEngine
import Dispatch
import FoundationEssentials
import TextFormatting
import Logging
import MicroHTTPServer
import Locking
import WatchdogConfig
import HostProbes
import Web
import Remediation
import Collectors
import Containers
import Sampling

/// The whole watchdog: collectors on their own threads, the metrics store, and the HTTP server.
///
/// `start()` never needs the daemon: with Docker down or hung the server still comes up and reports
/// `docker_daemon_up 0`, because a watchdog that dies with the thing it watches is no watchdog.
public final class WatchdogService: Sendable {
    public let configuration: WatchdogConfiguration
    public let store: MetricsStore
    public let host: HostStatus
    private let runners: [CollectorRunner]
    /// Container health history and state; nil when the containers collector is off.
    public let tracker: ContainerTracker?
    /// The remediation engine (its policies, plan and ledger of actions).
    public let remediation: RemediationEngine
    private let logger: Logger
    private let servers = Mutex<[HTTPServer]>([])
    /// Ends the certificate watch at stop.
    private let certificateWatch = StopSignal()
    private let security = Mutex<WebSecurity?>(nil)

    public init(configuration: WatchdogConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let endpoint: TransportEndpoint
        switch configuration.docker.host {
        case .unix(let path): endpoint = .unixSocket(path: path)
        case .tcp(let host, let port): endpoint = .tcp(host: host, port: port)
        }
        let dockerConfig = configuration.docker
        let tls: TransportTLS? =
            dockerConfig.tlsVerify
            ? TransportTLS(
                caFile: dockerConfig.certPath + "/ca.pem", certFile: dockerConfig.certPath + "/cert.pem",
                keyFile: dockerConfig.certPath + "/key.pem") : nil
        let stats = DockerRequestStats()
        let versions = APIVersionCache()
        let pinned = APIVersion(configuration.docker.apiVersion)
        // One client per sampling thread: a client serialises its calls, and a slow /system/df must
        // never delay a liveness probe.
        @Sendable func client() -> DockerClient {
            DockerClient(
                endpoint: endpoint, connectTimeout: configuration.docker.connectTimeout,
                requestTimeout: configuration.docker.requestTimeout, pinnedVersion: pinned,
                readOnly: configuration.docker.readOnly, versionCache: versions, stats: stats, tls: tls)
        }
        let host = HostStatus()
        let store = MetricsStore(apiStats: stats)
        let context = CollectorContext(configuration: configuration, host: host, logger: logger, makeClient: client)
        var collectors = CollectorList.all.filter { $0.isEnabled(configuration) }.map { $0.make(context) }
        self.tracker = context.existing(ContainerTracker.self)
        self.host = host
        self.store = store
        self.remediation = Self.makeRemediation(configuration, client: client(), host: host, tracker: self.tracker, logger: logger)
        collectors.append(RemediationLoop(engine: remediation))
        let runners = collectors.map { CollectorRunner(collector: $0, store: store, logger: logger) }
        for runner in runners {
            // Weak: the runner holds the collector, which holds what calls this back.
            runner.collector.bind { [weak runner] in runner?.runSoon() }
        }
        self.runners = runners
    }

    static func makeRemediation(
        _ configuration: WatchdogConfiguration, client: DockerClient, host: HostStatus, tracker: ContainerTracker? = nil, logger: Logger
    ) -> RemediationEngine {
        // Read-only: every policy off (the configuration refuses an explicit `enabled: true` next to
        // it), and the clients refuse non-GET requests anyway, as a second wall.
        var r = configuration.remediation
        if configuration.docker.readOnly {
            r.disk.enabled = false
            r.daemon.enabled = false
            r.autoheal.enabled = false
        }
        let ledger = ActionLedger(
            audit: AuditLog(path: r.auditLog), logger: logger, webhook: Webhook(url: r.webhookURL, logger: logger))
        let docker = DockerRemediationClient(client: client)
        let probe = StatfsProbe()
        let statfsTimeout = configuration.collectors[DiskCollector.config].statfsTimeout
        let configuredPath = configuration.collectors[DiskCollector.config].path
        // Measures the same filesystem the disk collector reports, fresh for every decision. Before
        // the disk collector has learned the Docker root (the first seconds after start), it asks
        // Docker itself, so that a host already below the mark is healed in the first round.
        let learnedRoot = Mutex<String?>(nil)
        let hostPrefix = configuration.collectors[DiskCollector.config].hostPrefix
        let measure: @Sendable () -> FilesystemStats? = {
            var path = configuredPath.isEmpty ? host.disk.path : configuredPath
            if path == nil {
                var root = host.daemon.rootDir ?? learnedRoot.withLock { $0 }
                if root == nil, let asked = try? client.info().dockerRootDir, !asked.isEmpty {
                    learnedRoot.withLock { $0 = asked }
                    root = asked
                }
                path = root.map { DiskCollector.path(ofRoot: $0, hostPrefix: hostPrefix) }
            }
            guard let path else { return nil }
            return try? probe.stats(path: path, timeout: statfsTimeout).get()
        }
        let d = r.disk
        let steps = d.steps.split(separator: ",").compactMap { DiskStep(rawValue: String($0.trimmingWhitespace())) }
        let disk = DiskRemediation(
            settings: .init(
                enabled: d.enabled, dryRun: r.dryRun || d.dryRun,
                thresholds: DiskThresholds(
                    actBelowRatio: d.actBelowRatio, actBelowBytes: d.actBelowBytes, actBelowInodesRatio: d.actBelowInodesRatio,
                    targetRatio: d.targetRatio, targetInodesRatio: d.targetInodesRatio),
                steps: steps, buildCacheKeepBytes: d.buildCacheKeep, minAge: d.minAge, protectLabel: r.protectLabel,
                keepPattern: r.keepPattern, namedVolumeLabel: d.namedVolumeLabel, cooldown: d.cooldown,
                logsTruncateAbove: d.logsTruncateAbove, logsLabel: d.logsLabel, logsAll: d.logsAll),
            docker: docker, measure: measure, ledger: ledger, logFiles: SystemLogFiles(hostPrefix: hostPrefix),
            // The filesystems the disk collector found holding Docker data; until it has looked,
            // the data root's alone, holding everything.
            layout: {
                let filesystems = host.filesystems
                guard let first = filesystems.first else { return [.dataRootOnly] }
                return [WatchedFilesystem(path: nil, holds: first.holds, name: first.path)]
                    + filesystems.dropFirst().map { WatchedFilesystem(path: $0.path, holds: $0.holds) }
            },
            measurePath: { try? probe.stats(path: $0, timeout: statfsTimeout).get() })
        let dm = r.daemon
        // The verification pings get a client of their own (same endpoint, deadlines and stats).
        let pinger = DockerClient(
            endpoint: client.endpoint, connectTimeout: client.connectTimeout, requestTimeout: client.requestTimeout,
            pinnedVersion: client.pinnedVersion, readOnly: client.readOnly, versionCache: client.versionCache, stats: client.stats,
            tls: client.tls)
        let daemon = DaemonRestartPolicy(
            settings: .init(
                enabled: dm.enabled, dryRun: r.dryRun || dm.dryRun, failures: dm.failures, minSpan: dm.minSpan,
                restartCommand: dm.restartCommand, pidFile: dm.pidFile, verifyTimeout: dm.verifyTimeout, cooldown: dm.cooldown,
                maxRestarts: dm.maxRestarts, window: dm.window),
            status: { host.daemon }, control: SystemDaemonControl(client: pinger), ledger: ledger, logger: logger)
        let a = r.autoheal
        let autoheal = AutohealPolicy(
            settings: .init(
                enabled: a.enabled, dryRun: r.dryRun || a.dryRun, label: a.label, all: a.all, minUnhealthy: a.minUnhealthy,
                backoff: a.backoff, maxBackoff: a.maxBackoff, maxRestarts: a.maxRestarts, stack: a.stack, protectLabel: r.protectLabel),
            containers: { tracker?.containers }, docker: docker, ledger: ledger, logger: logger)
        // Evaluated in this order, one at a time: disk, then daemon, then autoheal.
        return RemediationEngine(interval: r.interval, ledger: ledger, policies: [disk, daemon, autoheal])
    }

    /// Starts sampling and serving. Throws if the listen address cannot be bound, or (as a
    /// `ConfigError`) if the web config file is invalid.
    ///
    /// - Parameter webSecurity: TLS and basic auth already read from `web.config_file` (the entry point
    ///   reads it first to exit with status 2 on a bad file); nil reads it here.
    public func start(webSecurity: WebSecurity? = nil) throws {
        let web = configuration.web
        let guardian = try webSecurity ?? WebSecurity(configuration: configuration)
        let runners = self.runners
        let router = WebRouter(
            telemetryPath: configuration.web.telemetryPath, store: store, host: host, tracker: tracker, remediation: remediation,
            gate: guardian, liveness: { runners.map { ($0.collector.name, $0.isAlive()) } })
        let targets: [HTTPListenTarget] =
            web.systemdSocket ? try HTTPListenTarget.systemdSockets() : web.listenAddresses.map { .tcp(host: $0.host, port: $0.port) }
        var started: [HTTPServer] = []
        do {
            for target in targets {
                started.append(
                    try HTTPServer(
                        listen: target,
                        options: HTTPServerOptions(
                            threading: .pool(threads: 2), maxConnections: web.maxConnections,
                            maxConnectionsPerIP: web.maxConnectionsPerIP,
                            connectionTimeoutSeconds: max(1, Int(web.connectionTimeout.components.seconds)),
                            maxRequestBodyBytes: 64 << 10, tls: guardian.tls, requestHeaderTimeout: web.requestHeaderTimeout,
                            onServerMessage: ServerMessages(logger: logger, count: { [store] in store.countServerError() }).receive),
                        handler: router.handle))
            }
        } catch {
            // One address that cannot be bound stops the start: none is served half-way.
            for server in started { server.stop() }
            throw error
        }
        servers.withLock { $0 = started }
        if guardian.tls != nil { watchCertificates(guardian) }
        security.withLock { $0 = guardian }
        // Before the first evaluation: earlier processes' cool-downs, backoffs and caps go on, and
        // actions they left unfinished are marked interrupted.
        remediation.restoreFromAuditLog()
        for runner in runners {
            runner.start()
            runner.collector.startBackground()
        }
        logger.info(
            "docker-watchdog started",
            metadata: [
                "listen": "\(zip(targets, started).map { Self.listenDescription($0, $1.port) }.joined(separator: ","))",
                "docker_host": "\(configuration.docker.host)",
                "read_only": "\(configuration.docker.readOnly)",
                "tls": "\(guardian.tls == nil ? "off" : guardian.tls?.clientCAPEM == nil ? "on" : "client-cert")",
                "basic_auth_users": "\(guardian.authenticator.userNames.count)",
                "version": "\(BuildInfo.current.version)",
            ])
    }

    /// Re-reads the TLS files every few seconds and hands renewed material to every server, so a
    /// certificate replaced on disk is served on the next handshake without a restart.
    private func watchCertificates(_ guardian: WebSecurity) {
        let stop = certificateWatch
        startThread(name: "tls-watch") { [weak self] in
            var lastError: String?
            while true {
                stop.wait(until: .now + .seconds(2))
                if stop.isStopped { return }
                guard let self else { return }
                do {
                    guard let renewed = try guardian.renewedTLS() else { continue }
                    for server in self.servers.withLock({ $0 }) { try server.replaceTLS(renewed) }
                    lastError = nil
                    self.logger.notice("TLS certificate renewed from disk", metadata: ["web_config_file": "\(guardian.path ?? "")"])
                } catch {
                    let text = "\(error)"
                    if text != lastError {
                        self.logger.error("cannot load the renewed TLS certificate; serving the previous one", metadata: ["error": "\(text)"])
                    }
                    lastError = text
                }
            }
        }
    }

    /// TLS and basic auth of the running server; `webSecurity?.reload()` re-reads the basic-auth users
    /// (for SIGHUP). nil before `start()`.
    public var webSecurity: WebSecurity? { security.withLock { $0 } }

    /// The TCP port the (first) server is bound to (useful with port 0).
    public var port: Int? { servers.withLock { $0.first?.port } }

    /// `host:port` as logged, the bound port filled in (`*` for every interface).
    static func listenDescription(_ target: HTTPListenTarget, _ port: Int?) -> String {
        switch target {
        case .tcp(let host, let configured):
            let shown = host.isEmpty ? "*" : host.contains(":") ? "[\(host)]" : host
            return "\(shown):\(port ?? configured)"
        case .unixSocket(let path): return "unix:\(path)"
        case .inheritedSocket(let fd): return "systemd-fd\(fd)" + (port.map { ":\($0)" } ?? "")
        }
    }

    /// Stops the server first (no new scrapes), then every sampling loop at once, waiting at most
    /// `limit` in all for rounds in progress (a remediation action among them) to finish.
    ///
    /// Bounded so that SIGTERM ends the process in time (Docker sends SIGKILL 10 s after SIGTERM by
    /// default) even when a round is stuck on a hung daemon: such a round has its own deadlines and
    /// changes nothing when the process exits under it. Returns false if some round was still
    /// running at the limit.
    @discardableResult
    public func stop(within limit: Duration = .seconds(8)) -> Bool {
        certificateWatch.stop()
        let running = servers.withLock { s -> [HTTPServer] in
            defer { s = [] }
            return s
        }
        for server in running { server.stop() }
        let group = DispatchGroup()
        let unfinished = Mutex<[String]>([])
        for runner in runners {
            DispatchQueue.global().async(group: group) {
                if !runner.stop(timeout: limit) { unfinished.withLock { $0.append(runner.collector.name) } }
            }
        }
        for runner in runners {
            DispatchQueue.global().async(group: group) { runner.collector.stopBackground(timeout: limit) }
        }
        let inTime = group.wait(timeout: .now() + seconds(limit) + 0.5) == .success
        let stuck = unfinished.withLock { $0 }.sorted()
        if stuck.isEmpty && inTime {
            logger.info("docker-watchdog stopped")
        } else {
            logger.warning("docker-watchdog stopped with rounds still running", metadata: ["collectors": "\(stuck.joined(separator: ","))"])
        }
        return stuck.isEmpty && inTime
    }
}

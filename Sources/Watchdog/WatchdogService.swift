import CurlTransport
import DockerEngine
import Dispatch
import FoundationEssentials
import TextFormatting
import Logging
import MicroHTTPServer
import Locking
import WatchdogConfig

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
    private let streamer: EventStreamer?
    /// The remediation engine (its policies, plan and ledger of actions).
    public let remediation: RemediationEngine
    private let logger: Logger
    private let server = Mutex<HTTPServer?>(nil)
    private let security = Mutex<WebSecurity?>(nil)

    public init(configuration: WatchdogConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let endpoint: TransportEndpoint
        switch configuration.docker.host {
        case .unix(let path): endpoint = .unixSocket(path: path)
        case .tcp(let host, let port): endpoint = .tcp(host: host, port: port)
        }
        let stats = DockerRequestStats()
        let versions = APIVersionCache()
        let pinned = APIVersion(configuration.docker.apiVersion)
        // One client per sampling thread: a client serialises its calls, and a slow /system/df must
        // never delay a liveness probe.
        func client() -> DockerClient {
            DockerClient(
                endpoint: endpoint, connectTimeout: configuration.docker.connectTimeout,
                requestTimeout: configuration.docker.requestTimeout, pinnedVersion: pinned,
                readOnly: configuration.docker.readOnly, versionCache: versions, stats: stats)
        }
        let host = HostStatus()
        let store = MetricsStore(apiStats: stats)
        let c = configuration.collectors
        let systemDFGate = SystemDFGate()
        var collectors: [any Collector] = [
            DaemonCollector(
                client: client(), host: host, interval: c.daemon.interval, timeout: c.daemon.timeout,
                infoInterval: c.daemon.infoInterval, logger: logger),
            DiskCollector(
                client: client(), host: host, interval: c.disk.interval, statfsTimeout: c.disk.statfsTimeout,
                path: c.disk.path, hostPrefix: c.disk.hostPrefix),
            SystemDFCollector(
                client: client(), host: host, interval: c.systemDF.interval, timeout: c.systemDF.timeout, gate: systemDFGate),
            ProcessCollector(interval: c.process.interval),
        ]
        if c.buildCache.enabled {
            collectors.append(BuildCacheCollector(
                client: client(), gate: systemDFGate, interval: c.buildCache.interval, timeout: c.systemDF.timeout,
                logger: logger))
        }
        if c.containers.enabled {
            let keys = c.containers.labels.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
            let tracker = ContainerTracker(
                historySize: c.containers.historySize, labelKeys: Self.labelKeysRead(configuration, containerLabels: keys))
            let streamer = EventStreamer(client: client(), tracker: tracker, logger: logger)
            collectors.append(ContainerCollector(
                client: client(), tracker: tracker, streamer: streamer,
                settings: .init(
                    interval: c.containers.interval, resyncInterval: c.containers.resyncInterval,
                    inspectTimeout: c.containers.inspectTimeout, maxInspectsPerRound: c.containers.maxInspectsPerRound,
                    maxStreakInspectsPerRound: c.containers.maxStreakInspectsPerRound,
                    maxSeries: c.containers.maxSeries, include: c.containers.include, exclude: c.containers.exclude,
                    labelKeys: keys)))
            self.tracker = tracker
            self.streamer = streamer
        } else {
            self.tracker = nil
            self.streamer = nil
        }
        self.host = host
        self.store = store
        self.remediation = Self.makeRemediation(configuration, client: client(), host: host, tracker: self.tracker, logger: logger)
        collectors.append(remediation)
        self.runners = collectors.map { CollectorRunner(collector: $0, store: store, logger: logger) }
        // docker_watchdog_events_stream_up is published with the containers collector's rounds:
        // when the stream connects or breaks, that collector runs a round at once.
        if let streamer, let containers = runners.first(where: { $0.collector is ContainerCollector }) {
            // Weak: the runner holds the collector, which holds the streamer, which holds this.
            streamer.observeConnection { [weak containers] in containers?.runSoon() }
        }
    }

    /// The container label keys anything reads from the tracker: the compose project and service
    /// (series labels, stacks), `collector.containers.labels`, and the autoheal opt-in and
    /// protection labels (the key of `key=value`). The tracker and the lists it is fed keep only
    /// these; the disk policy lists containers itself, with every label.
    static func labelKeysRead(_ configuration: WatchdogConfiguration, containerLabels: [String]) -> Set<String> {
        var keys: Set<String> = ["com.docker.compose.project", "com.docker.compose.service"]
        keys.formUnion(containerLabels)
        for spec in [configuration.remediation.autoheal.label, configuration.remediation.protectLabel] where !spec.isEmpty {
            keys.insert(String(spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]))
        }
        return keys
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
        let statfsTimeout = configuration.collectors.disk.statfsTimeout
        let configuredPath = configuration.collectors.disk.path
        // Measures the same filesystem the disk collector reports, fresh for every decision.
        let measure: @Sendable () -> FilesystemStats? = {
            guard let path = configuredPath.isEmpty ? host.disk.path : configuredPath else { return nil }
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
                keepPattern: r.keepPattern, namedVolumeLabel: d.namedVolumeLabel, cooldown: d.cooldown),
            docker: docker, measure: measure, ledger: ledger)
        let dm = r.daemon
        // The verification pings get a client of their own (same endpoint, deadlines and stats).
        let pinger = DockerClient(
            endpoint: client.endpoint, connectTimeout: client.connectTimeout, requestTimeout: client.requestTimeout,
            pinnedVersion: client.pinnedVersion, readOnly: client.readOnly, versionCache: client.versionCache, stats: client.stats)
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
        let runners = self.runners
        let router = WebRouter(
            telemetryPath: configuration.web.telemetryPath, store: store, host: host, tracker: tracker, remediation: remediation,
            liveness: { runners.map { ($0.collector.name, $0.isAlive()) } })
        let web = configuration.web
        let guardian = try webSecurity ?? WebSecurity(configuration: configuration)
        let httpServer = try HTTPServer(
            listen: .tcp(host: web.listenAddress.host, port: web.listenAddress.port),
            options: HTTPServerOptions(
                threading: .pool(threads: 2), maxConnections: web.maxConnections,
                maxConnectionsPerIP: web.maxConnectionsPerIP,
                connectionTimeoutSeconds: max(1, Int(web.connectionTimeout.components.seconds)),
                maxRequestBodyBytes: 64 << 10, tls: guardian.tls,
                onServerMessage: ServerMessages(logger: logger, count: { [store] in store.countServerError() }).receive),
            // Every endpoint sits behind the same gate, /healthz included, as in the exporter-toolkit.
            handler: { [store] request in
                guard let refusal = guardian.check(request) else { return router.handle(request) }
                store.countUnauthorized()
                return refusal
            })
        server.withLock { $0 = httpServer }
        security.withLock { $0 = guardian }
        for runner in runners { runner.start() }
        streamer?.start()
        logger.info("docker-watchdog started", metadata: [
            "listen": "\(web.listenAddress.host.isEmpty ? "*" : web.listenAddress.host):\(httpServer.port ?? web.listenAddress.port)",
            "docker_host": "\(configuration.docker.host)",
            "read_only": "\(configuration.docker.readOnly)",
            "tls": "\(guardian.tls == nil ? "off" : guardian.tls?.clientCAPEM == nil ? "on" : "client-cert")",
            "basic_auth_users": "\(guardian.authenticator.userNames.count)",
            "version": "\(BuildInfo.current.version)",
        ])
    }

    /// TLS and basic auth of the running server; `webSecurity?.reload()` re-reads the basic-auth users
    /// (for SIGHUP). nil before `start()`.
    public var webSecurity: WebSecurity? { security.withLock { $0 } }

    /// The TCP port the server is bound to (useful with port 0).
    public var port: Int? { server.withLock { $0?.port } }

    /// Stops the server first (no new scrapes), then every sampling loop at once, waiting at most
    /// `limit` in all for rounds in progress (a remediation action among them) to finish.
    ///
    /// Bounded so that SIGTERM ends the process in time (Docker sends SIGKILL 10 s after SIGTERM by
    /// default) even when a round is stuck on a hung daemon: such a round has its own deadlines and
    /// changes nothing when the process exits under it. Returns false if some round was still
    /// running at the limit.
    @discardableResult
    public func stop(within limit: Duration = .seconds(8)) -> Bool {
        let running = server.withLock { s -> HTTPServer? in
            defer { s = nil }
            return s
        }
        running?.stop()
        let group = DispatchGroup()
        let unfinished = Mutex<[String]>([])
        for runner in runners {
            DispatchQueue.global().async(group: group) {
                if !runner.stop(timeout: limit) { unfinished.withLock { $0.append(runner.collector.name) } }
            }
        }
        if let streamer {
            DispatchQueue.global().async(group: group) { streamer.stop(timeout: limit) }
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

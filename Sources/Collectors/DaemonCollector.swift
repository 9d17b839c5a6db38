import DockerEngine
import Exposition
import FoundationEssentials
import Logging
import Locking
import Sampling

/// Probes the Docker daemon's liveness with `/_ping` and refreshes what it says about itself.
///
/// A hung daemon accepts connections and never answers, so every probe carries its own deadline
/// (`timeout`); a failed probe counts, never blocks. `/info` and `/version` are refreshed on a slower
/// cadence and right after the daemon comes back (it may have been upgraded or reconfigured).
public final class DaemonCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public let timeout: Duration
    public let infoInterval: Duration
    public var maxRoundDuration: Duration { timeout * 3 }

    /// Upper bounds of the ping latency histogram, in seconds: from a healthy local socket
    /// (sub-millisecond) to a daemon on its way to hanging (seconds).
    public static let pingBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct State {
        var histogram = Histogram(upperBounds: DaemonCollector.pingBuckets)
        var probes: UInt64 = 0
        var failures: [String: UInt64] = [:]
        var consecutiveFailures = 0
        var failingSince: Date?
        var failingSinceInstant: ContinuousClock.Instant?
        var lastSuccess: Date?
        var lastInfoRefresh: ContinuousClock.Instant?
        var wasUp = false
        /// The daemon answered a probe before: a later answer after failures is a comeback.
        var answeredBefore = false
        var info: DockerInfo?
        var version: DockerVersion?
    }

    private let client: DockerClient
    private let host: HostStatus
    private let logger: Logger
    private let state = Mutex(State())

    public init(client: DockerClient, host: HostStatus, interval: Duration, timeout: Duration, infoInterval: Duration, logger: Logger) {
        self.client = client
        self.host = host
        self.interval = interval
        self.timeout = timeout
        self.infoInterval = infoInterval
        self.logger = logger
    }

    public func collect() -> CollectionResult {
        var error: String?
        var pingSeconds: Double?
        var failure: DockerError?
        let probeStarted = Date()
        let probeStartedInstant = ContinuousClock.now
        do {
            let result = try client.ping(timeout: timeout)
            pingSeconds = seconds(result.duration)
        } catch let e {
            failure = e
            error = "ping: \(e)"
        }
        let (cameBack, needInfo, returned) = state.withLock { s -> (Bool, Bool, Bool) in
            s.probes += 1
            if let pingSeconds {
                s.histogram.observe(pingSeconds)
                s.consecutiveFailures = 0
                s.failingSince = nil
                s.failingSinceInstant = nil
                s.lastSuccess = Date()
            } else if let failure {
                s.failures[failure.kind, default: 0] += 1
                s.consecutiveFailures += 1
                if s.failingSince == nil {
                    s.failingSince = probeStarted
                    s.failingSinceInstant = probeStartedInstant
                }
            }
            let up = pingSeconds != nil
            let cameBack = up && !s.wasUp
            let returned = cameBack && s.answeredBefore
            s.wasUp = up
            if up { s.answeredBefore = true }
            let stale = s.lastInfoRefresh.map { ContinuousClock.now - $0 >= infoInterval } ?? true
            return (cameBack, up && (cameBack || stale), returned)
        }
        if cameBack {
            // A daemon back from an outage may have been upgraded: negotiate again. Not at the first
            // answer: the version the other collectors negotiated a moment ago is current.
            if returned { client.versionCache.invalidate() }
            logger.info("docker daemon answers", metadata: ["endpoint": "\(client.endpoint)"])
        } else if let failure, state.withLock({ $0.consecutiveFailures }) == 1 {
            logger.warning("docker daemon probe failed", metadata: ["endpoint": "\(client.endpoint)", "error": "\(failure)"])
        }
        if needInfo {
            do {
                let version = try client.version(timeout: timeout, maxAge: .seconds(5))  // the start-up negotiation's answer, if that was just now
                let info = try client.info(timeout: timeout)
                state.withLock { s in
                    s.version = version
                    s.info = info
                    s.lastInfoRefresh = .now
                }
            } catch let e {
                error = "info: \(e)"
            }
        }
        updateHostStatus(up: pingSeconds != nil, pingSeconds: pingSeconds, error: error)
        return CollectionResult(families: families(), error: error)
    }

    /// Copies what this round learned to the shared host status (landing page, disk collector).
    private func updateHostStatus(up: Bool, pingSeconds: Double?, error: String?) {
        let (info, version, consecutive, failingSince, failingSinceInstant) = state.withLock {
            ($0.info, $0.version, $0.consecutiveFailures, $0.failingSince, $0.failingSinceInstant)
        }
        let negotiated = client.versionCache.current
        host.updateDaemon { d in
            d.up = up
            if up { d.everAnswered = true }
            if let pingSeconds { d.lastPingSeconds = pingSeconds }
            d.consecutiveFailures = consecutive
            d.failingSince = failingSince
            d.failingSinceInstant = failingSinceInstant
            d.lastError = error
            if let info {
                d.serverVersion = info.serverVersion
                d.storageDriver = info.driver
                d.rootDir = info.dockerRootDir
                d.liveRestore = info.liveRestoreEnabled
            }
            if let version {
                d.engine = version.engine
                d.apiVersion = negotiated.map { "\($0) (daemon \(version.apiVersion))" } ?? version.apiVersion
            }
        }
    }

    private func families() -> [MetricFamily] {
        state.withLock { s in
            var result: [MetricFamily] = [
                MetricCatalog.daemonUp.family(value: s.wasUp ? 1 : 0),
                MetricCatalog.pingDuration.histogram([([], s.histogram)]),
                MetricCatalog.probes.family(value: Double(s.probes)),
                MetricCatalog.probeFailures.family(
                    ["unreachable", "timeout", "http", "decode", "transfer"].map { ([Label("reason", $0)], Double(s.failures[$0] ?? 0)) }),
                MetricCatalog.consecutiveFailures.family(value: Double(s.consecutiveFailures)),
                MetricCatalog.lastProbeSuccess.family(value: s.lastSuccess?.timeIntervalSince1970 ?? 0),
            ]
            if let info = s.info {
                result.append(
                    MetricCatalog.daemonInfo.family(
                        value: 1,
                        labels: [
                            Label("engine", s.version?.engine.rawValue ?? ""),
                            Label("server_version", info.serverVersion ?? ""),
                            Label("api_version", s.version?.apiVersion ?? ""),
                            Label("storage_driver", info.driver ?? ""),
                            Label("root_dir", info.dockerRootDir ?? ""),
                            Label("live_restore", (info.liveRestoreEnabled ?? false) ? "true" : "false"),
                        ]))
                result.append(MetricCatalog.liveRestore.family(value: (info.liveRestoreEnabled ?? false) ? 1 : 0))
            }
            return result
        }
    }
}

extension DaemonCollector {
    /// `collector.daemon.*`: `/_ping` liveness and the `/info` + `/version` description.
    public static let definition = CollectorDefinition(
        name: "daemon", metrics: MetricCatalog.daemonMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[DaemonCollector.config].enabled },
        make: { context in
            let c = context.configuration.collectors[DaemonCollector.config]
            return DaemonCollector(
                client: context.makeClient(), host: context.host, interval: c.interval, timeout: c.timeout,
                infoInterval: c.infoInterval, logger: context.logger)
        })
}

import DockerEngine
import Locking
import Logging
import WatchdogConfig

/// One collector as the watchdog knows it: its name, the metric families it exports, whether the
/// configuration turns it on, and how to build it.
///
/// Declared once, next to the collector (`static let definition` in its file), and listed once
/// (`CollectorList.all` in the Watchdog module); the service, the metrics reference, `--help`'s
/// `--collector.NAME` / `--no-collector.NAME` and the tests all read that list. This is
/// node_exporter's `registerCollector`, without its global side effects.
public struct CollectorDefinition: Sendable {
    /// The `collector` label and the `collector.NAME.*` configuration section.
    public let name: String
    /// Every family the collector exports, in reference order.
    public let metrics: [MetricDescriptor]
    /// Its `collector.NAME.*` configuration keys (`collector.NAME.enabled` first), declared next
    /// to it; `ConfigRegistry.watchdog` adds them to the watchdog's own.
    public let configKeys: [ConfigKey]
    /// `collector.NAME.enabled`.
    public let isEnabled: @Sendable (WatchdogConfiguration) -> Bool
    /// Builds the collector; called once, only when it is enabled.
    public let make: @Sendable (CollectorContext) -> any Collector

    public init(
        name: String, metrics: [MetricDescriptor], configKeys: [ConfigKey], isEnabled: @escaping @Sendable (WatchdogConfiguration) -> Bool,
        make: @escaping @Sendable (CollectorContext) -> any Collector
    ) {
        self.name = name
        self.metrics = metrics
        self.configKeys = configKeys
        self.isEnabled = isEnabled
        self.make = make
    }
}

/// What building a collector may use; one per watchdog, shared by every collector.
public final class CollectorContext: Sendable {
    public let configuration: WatchdogConfiguration
    /// Daemon and disk state shared between collectors and remediation.
    public let host: HostStatus
    public let logger: Logger
    private let clientFactory: @Sendable () -> DockerClient
    private let objects = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init(
        configuration: WatchdogConfiguration, host: HostStatus, logger: Logger,
        makeClient: @escaping @Sendable () -> DockerClient
    ) {
        self.configuration = configuration
        self.host = host
        self.logger = logger
        self.clientFactory = makeClient
    }

    /// A Docker client of the collector's own: a client serialises its calls, and a slow
    /// `/system/df` must never delay a liveness probe.
    public func makeClient() -> DockerClient { clientFactory() }

    /// The one object of type `T` that collectors share (e.g. the `/system/df` gate of the
    /// system_df and build_cache collectors, or the container tracker that remediation and the
    /// status page read); made by the first caller.
    public func shared<T: Sendable>(_ type: T.Type = T.self, make: () -> T) -> T {
        objects.withLock { objects in
            if let existing = objects[ObjectIdentifier(type)] as? T { return existing }
            let made = make()
            objects[ObjectIdentifier(type)] = made
            return made
        }
    }

    /// The shared object of type `T` if a collector made one.
    public func existing<T: Sendable>(_ type: T.Type) -> T? {
        objects.withLock { $0[ObjectIdentifier(type)] as? T }
    }
}

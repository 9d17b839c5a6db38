import Exposition

/// The description of one exported metric: the single source for its name, type, help and labels.
///
/// Collectors build their families from these descriptors, the README's metrics table is checked
/// against `MetricCatalog.all` by a test, and another test checks that every family in a real
/// scrape is in the catalog, so the documentation cannot drift from the output.
public struct MetricDescriptor: Sendable {
    /// Base name: counters without `_total`, info metrics without `_info`.
    public let name: String
    public let type: MetricType
    public let help: String
    public let labels: [String]
    /// The collector that exports it ("core" for the watchdog's own bookkeeping).
    public let collector: String

    public init(name: String, type: MetricType, help: String, labels: [String], collector: String) {
        self.name = name
        self.type = type
        self.help = help
        self.labels = labels
        self.collector = collector
    }

    /// The name of the samples as they appear in the text format.
    public var exportedName: String {
        switch type {
        case .counter: return name + "_total"
        case .info: return name + "_info"
        case .gauge, .histogram: return name
        }
    }

    public func family(_ series: [([Label], Double)]) -> MetricFamily {
        switch type {
        case .counter: return .counter(name, help: help, series)
        case .info: return .info(name, help: help, series: series.map { $0.0 })
        case .gauge, .histogram: return .gauge(name, help: help, series)
        }
    }

    /// A family from ready samples: a gauge takes them as they are (no copy); other types go
    /// through ``family(_:)``.
    public func family(samples: [Sample]) -> MetricFamily {
        guard type == .gauge else { return family(samples.map { ($0.labels, $0.value) }) }
        return MetricFamily(name: name, help: help, type: .gauge, samples: samples)
    }

    public func family(value: Double, labels: [Label] = []) -> MetricFamily {
        family([(labels, value)])
    }

    public func histogram(_ series: [([Label], Histogram)]) -> MetricFamily {
        .histogram(name, help: help, series)
    }
}

/// Every metric docker-watchdog exports. Host metrics start with `docker_`, the watchdog's own
/// with `docker_watchdog_`.
public enum MetricCatalog {
    // MARK: core (the watchdog itself)

    public static let buildInfo = MetricDescriptor(
        name: "docker_watchdog_build", type: .info,
        help: "Version, git revision and branch, build date of docker-watchdog, and the Swift compiler that built it.",
        labels: ["version", "revision", "branch", "build_date", "swift_version"], collector: "core")
    public static let collectorDuration = MetricDescriptor(
        name: "docker_watchdog_collector_duration_seconds", type: .gauge,
        help: "Duration of the collector's most recent sampling round. Metrics are served from the latest sample, not collected on scrape.",
        labels: ["collector"], collector: "core")
    public static let collectorSuccess = MetricDescriptor(
        name: "docker_watchdog_collector_success", type: .gauge,
        help: "1 if the collector's most recent sampling round succeeded, 0 if it failed.",
        labels: ["collector"], collector: "core")
    public static let collectorLastSuccess = MetricDescriptor(
        name: "docker_watchdog_collector_last_success_timestamp_seconds", type: .gauge,
        help: "Unix time of the collector's last successful sampling round (0 if none yet); shows how stale its metrics are.",
        labels: ["collector"], collector: "core")
    public static let collectorLastRound = MetricDescriptor(
        name: "docker_watchdog_collector_last_round_timestamp_seconds", type: .gauge,
        help: "Unix time the collector's most recent sampling round ended, successful or not; a stuck sampling loop stops moving it.",
        labels: ["collector"], collector: "core")
    public static let collectorInterval = MetricDescriptor(
        name: "docker_watchdog_collector_interval_seconds", type: .gauge,
        help: "The collector's configured sampling interval, for judging staleness in alerts.",
        labels: ["collector"], collector: "core")
    public static let collectorRuns = MetricDescriptor(
        name: "docker_watchdog_collector_runs", type: .counter,
        help: "Sampling rounds the collector has run.",
        labels: ["collector"], collector: "core")
    public static let collectorFailures = MetricDescriptor(
        name: "docker_watchdog_collector_failures", type: .counter,
        help: "Sampling rounds of the collector that failed.",
        labels: ["collector"], collector: "core")
    public static let apiRequests = MetricDescriptor(
        name: "docker_watchdog_docker_api_requests", type: .counter,
        help: "Requests the watchdog sent to the Docker Engine API, by endpoint.",
        labels: ["endpoint"], collector: "core")
    public static let apiErrors = MetricDescriptor(
        name: "docker_watchdog_docker_api_errors", type: .counter,
        help: "Docker Engine API requests that failed or gave an answer that could not be decoded, by endpoint and kind (unreachable, timeout, http, decode, transfer).",
        labels: ["endpoint", "kind"], collector: "core")

    /// The watchdog's own bookkeeping, exported by the store whatever collectors run.
    public static let coreMetrics: [MetricDescriptor] =
        [
            buildInfo, collectorDuration, collectorSuccess, collectorLastSuccess, collectorLastRound, collectorInterval,
            collectorRuns, collectorFailures, apiRequests, apiErrors,
        ] + reloadMetrics

    /// The metrics reference table (README, docs) for `descriptors`, in their order.
    public static func markdownTable(_ descriptors: [MetricDescriptor]) -> String {
        var lines = ["| metric | type | labels | collector | description |", "| --- | --- | --- | --- | --- |"]
        for d in descriptors {
            let type: String
            switch d.type {
            case .gauge: type = "gauge"
            case .counter: type = "counter"
            case .histogram: type = "histogram"
            case .info: type = "info"
            }
            let labels = d.labels.isEmpty ? "" : d.labels.map { "`\($0)`" }.joined(separator: ", ")
            lines.append("| `\(d.exportedName)` | \(type) | \(labels) | \(d.collector) | \(d.help.replacing("|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

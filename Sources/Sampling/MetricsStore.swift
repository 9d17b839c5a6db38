import DockerEngine
import Exposition
import FoundationEssentials
import Locking
import ResponseBodies

/// The latest sample of one collector, with the bookkeeping that makes staleness visible.
public struct CollectorStatus: Sendable {
    public var name: String
    public var families: [MetricFamily]
    public var success: Bool
    public var error: String?
    public var duration: Duration
    public var lastSuccess: Date?
    public var lastRound: Date
    public var runs: UInt64
    public var failures: UInt64
    /// The collector's configured interval, exported so alerts can judge staleness against it.
    public var interval: Duration = .zero
}

/// A rendered `/metrics` body, ready to send: every scrape of one generation sends the same
/// buffer, without copying it.
public struct RenderedMetrics: Sendable {
    /// The body in pieces, sent back to back: the kept per-family lines (or compressed pieces)
    /// themselves, so serving a body holds no second, joined copy of it.
    public var segments: [SharedBytes]
    public var contentType: String
    public var gzipped: Bool

    public init(segments: [[UInt8]], contentType: String, gzipped: Bool) {
        self.segments = segments.map { SharedBytes(borrowing: $0) }
        self.contentType = contentType
        self.gzipped = gzipped
    }

    /// The body joined (for tests and tools; the server sends `segments`).
    public var body: [UInt8] { SharedBytes.joined(segments) }
}

/// Holds the latest sample of every collector and renders it for scrapes.
///
/// Collectors publish; scrapes only read. Rendering happens at most once per format and encoding
/// for each published generation, so a scrape costs a dictionary lookup and a copy, whatever the
/// daemon is doing. And that render is incremental: each metric family's rendered lines (and, for
/// gzip, its compressed piece) are kept and reused while the family is unchanged, so the first
/// scrape after a new sample renders and compresses only the families that changed (a few small
/// ones, usually) and concatenates the rest.
public final class MetricsStore: Sendable {
    private struct State {
        var statuses: [String: CollectorStatus] = [:]
        var apiCounts = DockerRequestStats.Counts()
        var generation: UInt64 = 0
        var reload = ReloadStatus(successful: true, lastSuccess: Date(), restartRequired: false)
        var unauthorized: UInt64 = 0
        var serverErrors: UInt64 = 0
        var cache: [CacheKey: RenderedMetrics] = [:]
        /// Per format (key: OpenMetrics or not): every family's last rendered lines.
        var fragments: [Bool: RenderFragmentCache] = [:]
        /// Per format: every family's last compressed piece and the lines it compresses.
        var pieces: [Bool: [String: PieceEntry]] = [:]
    }

    private struct PieceEntry {
        var header: [UInt8]
        var samples: [UInt8]
        var piece: Gzip.Piece
    }

    private struct CacheKey: Hashable {
        var openMetrics: Bool
        var gzip: Bool
    }

    private let state = Mutex(State())
    private let apiStats: DockerRequestStats?
    private let buildInfo: MetricFamily

    public init(apiStats: DockerRequestStats?, buildInfo: BuildInfo = .current) {
        self.apiStats = apiStats
        self.buildInfo = MetricCatalog.buildInfo.family(
            value: 1,
            labels: [
                Label("version", buildInfo.version), Label("revision", buildInfo.revision), Label("branch", buildInfo.branch),
                Label("build_date", buildInfo.buildDate), Label("swift_version", buildInfo.swiftVersion),
            ])
    }

    /// Replaces a collector's sample and invalidates the rendered bodies.
    public func publish(_ status: CollectorStatus) {
        let counts = apiStats?.snapshot()
        state.withLock { s in
            s.statuses[status.name] = status
            if let counts { s.apiCounts = counts }
            s.generation &+= 1
            s.cache.removeAll(keepingCapacity: true)
        }
    }

    public var statuses: [String: CollectorStatus] { state.withLock { $0.statuses } }

    /// The outcome of the last configuration (re)load, exported with the watchdog's own metrics.
    public struct ReloadStatus: Sendable, Equatable {
        public var successful: Bool
        public var lastSuccess: Date
        public var restartRequired: Bool
        public init(successful: Bool, lastSuccess: Date, restartRequired: Bool) {
            self.successful = successful
            self.lastSuccess = lastSuccess
            self.restartRequired = restartRequired
        }
    }

    public var reloadStatus: ReloadStatus { state.withLock { $0.reload } }
    /// What the HTTP endpoint counts about itself.
    public struct HTTPCounts: Sendable, Equatable {
        public var unauthorized: UInt64
        public var serverErrors: UInt64
    }

    public var httpCounts: HTTPCounts { state.withLock { HTTPCounts(unauthorized: $0.unauthorized, serverErrors: $0.serverErrors) } }

    /// Records a reload (SIGHUP) and invalidates the rendered bodies.
    public func setReloadStatus(_ status: ReloadStatus) {
        state.withLock { s in
            s.reload = status
            s.generation &+= 1
            s.cache.removeAll(keepingCapacity: true)
        }
    }

    /// Counts a request answered 401 (bodies rendered before it no longer show the count).
    public func countUnauthorized() {
        state.withLock { s in
            s.unauthorized += 1
            s.generation &+= 1
            s.cache.removeAll(keepingCapacity: true)
        }
    }

    /// Counts a connection the HTTP server reported it could not serve (see ``ServerMessages``).
    public func countServerError() {
        state.withLock { s in
            s.serverErrors += 1
            s.generation &+= 1
            s.cache.removeAll(keepingCapacity: true)
        }
    }

    /// The body for a scrape in `format`, gzip-compressed when `gzip` is true.
    public func render(format: ExpositionFormat, gzip: Bool) -> RenderedMetrics {
        let om = format == .openMetrics
        let key = CacheKey(openMetrics: om, gzip: gzip)
        let (generation, cached, statuses, counts, reload, http, fragmentCache, pieceCache, otherFormat) = state.withLock { s in
            (
                s.generation, s.cache[key], s.statuses, s.apiCounts, s.reload, HTTPCounts(unauthorized: s.unauthorized, serverErrors: s.serverErrors),
                s.fragments[om] ?? RenderFragmentCache(), s.pieces[om] ?? [:],
                s.fragments[!om]
            )
        }
        if let cached { return cached }
        var fragmentsKept = fragmentCache
        var fragments = ExpositionRenderer.renderFragments(
            families(statuses: statuses, counts: counts, reload: reload, http: http), format: format, cache: &fragmentsKept)
        // Most families render to the same lines in both formats (every per-container gauge):
        // a fresh fragment equal to the other format's takes that array, so the two formats
        // keep one copy of them between them.
        if let otherFormat {
            for k in fragments.indices where !fragments[k].reused {
                if let shared = otherFormat.samples(of: fragments[k].name), shared == fragments[k].samples {
                    fragments[k].samples = shared
                    fragmentsKept.share(shared, for: fragments[k].name)
                }
            }
        }
        var segments: [[UInt8]] = []
        var compressed = false
        var piecesKept: [String: PieceEntry]?
        if gzip {
            var fresh: [String: PieceEntry] = [:]
            var pieces: [Gzip.Piece] = []
            for fragment in fragments {
                if let known = pieceCache[fragment.name], known.header == fragment.header, known.samples == fragment.samples {
                    pieces.append(known.piece)
                    fresh[fragment.name] = known
                } else if let piece = Gzip.piece(fragment.bytes) {
                    pieces.append(piece)
                    fresh[fragment.name] = PieceEntry(header: fragment.header, samples: fragment.samples, piece: piece)
                } else {
                    pieces = []  // zlib failed: send the body uncompressed
                    break
                }
            }
            if pieces.count == fragments.count {
                segments = [Gzip.memberHeader] + pieces.map(\.deflated) + [Gzip.memberTrailer(pieces)]
                compressed = true
                piecesKept = fresh
            }
        }
        if !compressed { segments = fragments.flatMap { [$0.header, $0.samples] } }
        let rendered = RenderedMetrics(segments: segments, contentType: format.contentType, gzipped: compressed)
        state.withLock { s in
            // The fragment caches are valid whatever was published meanwhile (entries are keyed
            // by content); the body only for the generation it was rendered from.
            s.fragments[om] = fragmentsKept
            if let piecesKept { s.pieces[om] = piecesKept }
            if s.generation == generation { s.cache[key] = rendered }
        }
        Allocator.releaseFreeMemorySoon()
        return rendered
    }

    /// The kept lines of family `name` in one format, for tests that check what the two formats share.
    func keptSamples(_ name: String, openMetrics: Bool) -> [UInt8]? {
        state.withLock { $0.fragments[openMetrics]?.samples(of: name) }
    }

    /// Every family to serve: the collectors' own plus the bookkeeping about them.
    func families(
        statuses: [String: CollectorStatus], counts: DockerRequestStats.Counts, reload: ReloadStatus? = nil, http: HTTPCounts? = nil
    ) -> [MetricFamily] {
        var result = [buildInfo]
        if let http {
            result.append(MetricCatalog.unauthorizedRequests.family(value: Double(http.unauthorized)))
            result.append(MetricCatalog.serverErrors.family(value: Double(http.serverErrors)))
        }
        if let reload {
            result.append(MetricCatalog.configReloadSuccessful.family(value: reload.successful ? 1 : 0))
            result.append(MetricCatalog.configReloadSuccessTime.family(value: reload.lastSuccess.timeIntervalSince1970))
            result.append(MetricCatalog.configRestartRequired.family(value: reload.restartRequired ? 1 : 0))
        }
        let ordered = statuses.values.sorted { $0.name < $1.name }
        for status in ordered { result.append(contentsOf: status.families) }
        func series(_ value: (CollectorStatus) -> Double) -> [([Label], Double)] {
            ordered.map { ([Label("collector", $0.name)], value($0)) }
        }
        result.append(MetricCatalog.collectorDuration.family(series { seconds($0.duration) }))
        result.append(MetricCatalog.collectorSuccess.family(series { $0.success ? 1 : 0 }))
        result.append(MetricCatalog.collectorLastSuccess.family(series { $0.lastSuccess?.timeIntervalSince1970 ?? 0 }))
        result.append(MetricCatalog.collectorLastRound.family(series { $0.lastRound.timeIntervalSince1970 }))
        result.append(MetricCatalog.collectorInterval.family(series { seconds($0.interval) }))
        result.append(MetricCatalog.collectorRuns.family(series { Double($0.runs) }))
        result.append(MetricCatalog.collectorFailures.family(series { Double($0.failures) }))
        if apiStats != nil {
            result.append(
                MetricCatalog.apiRequests.family(
                    counts.requests.sorted { $0.key < $1.key }.map { ([Label("endpoint", $0.key)], Double($0.value)) }))
            var errors: [([Label], Double)] = []
            for (endpoint, kinds) in counts.failures {
                for (kind, n) in kinds { errors.append(([Label("endpoint", endpoint), Label("kind", kind)], Double(n))) }
            }
            result.append(MetricCatalog.apiErrors.family(errors))
        }
        return result
    }
}

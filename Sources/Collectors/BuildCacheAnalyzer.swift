import DockerEngine
import FoundationEssentials
import WatchdogConfig

/// Turns successive lists of BuildKit cache records (from `/system/df`) into cache hit and miss
/// counts, and summarises one list into bounded per-type figures.
///
/// BuildKit keeps one record per cached result (a build step's layer, a base-image layer, a synced
/// build context, a `RUN --mount=type=cache` directory). A build that reuses a record raises its
/// `UsageCount` by one when it lets go of it; a build that cannot reuse anything creates a new
/// record, which has `UsageCount` 1 once that build lets go of it. So between two samples:
///
/// - a record in both whose `UsageCount` rose by n was reused n times: **n hits**;
/// - a record that is new was built: **1 miss**, plus `UsageCount − 1` hits if later builds in the
///   same interval already reused it;
/// - a record in the earlier sample and not the later was pruned: nothing is counted.
///
/// What is deliberately not counted:
///
/// - the **first sample**: it is the baseline (its records are counted as `first_sample` in
///   ``uncounted``);
/// - a new record still **in use or never released** (`InUse`, or `UsageCount` 0): a build is
///   running. BuildKit lists temporary records mid-build (mutable layers, the context being
///   synced) that are merged or replaced when the build ends; such a record is judged at the first
///   sample that shows it released, and never counted if it goes away first;
/// - a new record **created well before the previous sample** (more than ``clockSlack``) that was
///   not seen then: it was not built in this interval (a different daemon now answers at the
///   socket, or its data root was swapped). It joins the baseline as `predates_previous_sample`;
/// - a record whose `UsageCount` **went down**: its count was reset (a daemon whose BuildKit state
///   was replaced). It is re-baselined as `usage_count_decreased`, never counted as negative hits.
///
/// A daemon restart keeps every record and its count (they live in BuildKit's on-disk metadata),
/// so it needs no special case and counts nothing.
///
/// Records are keyed by `record_type` (BuildKit's `Type`, folded to a fixed set so labels stay
/// bounded) and `origin`: `base_image` for the layers of a `FROM` image (`regular` records whose
/// description BuildKit writes as "pulled from …" or "from local …", or leaves empty with the
/// containerd image store), `build` for everything else. Base-image layers are reused by every
/// build that starts from the image, hit or miss, so they are kept apart from the build steps' own
/// results.
///
/// This is the `usage_count` method, the only one on engines without BuildKit's build history
/// (Docker 20.10), where BuildKit 0.8 raises `UsageCount` of every record a build loads, so the
/// hits equal the CACHED steps. From BuildKit 0.12 (Docker 26, 28) only the build's final record is
/// raised: a fully cached rebuild counts one hit. There the `build_history` collector's step
/// counters are exact, and `docker_build_cache_hit_rate_method_info` says which method applies.
///
/// The counters are unavailable (``countersForExport()`` is nil) until a sample has shown at least
/// one record: a daemon without BuildKit records (legacy builder only, or nothing built yet) has no
/// hit rate, which is not the same as a rate of zero.
public struct BuildCacheAnalyzer: Sendable {
    /// BuildKit's record types; anything else is reported as `other`.
    public static let knownRecordTypes = [
        "regular", "source.local", "source.git.checkout", "exec.cachemount", "internal", "frontend",
    ]
    /// How far a new record's `CreatedAt` may lie before the previous sample and still count as
    /// built since: room for a daemon clock a little off the watchdog's.
    public static let clockSlack: TimeInterval = 60

    /// Where a record's content came from.
    public enum Origin: String, Sendable, Hashable, Comparable, CaseIterable {
        /// A layer of a base image (`FROM`), pulled or taken from the local image store.
        case baseImage = "base_image"
        /// Anything a build made: step results, synced contexts, cache mounts.
        case build

        public static func < (a: Origin, b: Origin) -> Bool { a.rawValue < b.rawValue }
    }

    /// The labels of one hit/miss series.
    public struct Key: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var recordType: String
        public var origin: Origin

        public init(_ recordType: String, _ origin: Origin) {
            self.recordType = recordType
            self.origin = origin
        }

        public static func < (a: Key, b: Key) -> Bool {
            (a.recordType, a.origin) < (b.recordType, b.origin)
        }

        public var description: String { "\(recordType)/\(origin.rawValue)" }

        /// Build steps' own results: the series the hit ratio is computed from.
        public static let buildSteps = Key("regular", .build)
    }

    /// Why records joined the baseline without being counted.
    public enum UncountedReason: String, Sendable, Hashable, CaseIterable, Comparable {
        case firstSample = "first_sample"
        case predatesPreviousSample = "predates_previous_sample"
        case usageCountDecreased = "usage_count_decreased"

        public static func < (a: UncountedReason, b: UncountedReason) -> Bool { a.rawValue < b.rawValue }
    }

    /// What one sample added.
    public struct Delta: Sendable, Equatable {
        public var hits: [Key: UInt64] = [:]
        public var misses: [Key: UInt64] = [:]
        public var uncounted: [UncountedReason: UInt64] = [:]
        /// Records of the baseline that are gone.
        public var pruned = 0
        /// New records left for a later sample (in use or never released).
        public var pending = 0

        public init() {}

        public var totalHits: UInt64 { hits.values.reduce(0, +) }
        public var totalMisses: UInt64 { misses.values.reduce(0, +) }
    }

    /// Counter values to export.
    public struct Counters: Sendable, Equatable {
        public var hits: [Key: UInt64]
        public var misses: [Key: UInt64]
        public var uncounted: [UncountedReason: UInt64]
    }

    private struct Tracked: Sendable {
        var usageCount: Int
    }

    /// nil until the first sample.
    private var baseline: [String: Tracked]?
    /// New records of the last sample that were still in use or unreleased.
    private var pending: Set<String> = []
    private var previousSampleAt: Date?
    private var hits: [Key: UInt64] = [:]
    private var misses: [Key: UInt64] = [:]
    private var uncounted: [UncountedReason: UInt64] = [:]
    /// Whether any sample has shown a record.
    public private(set) var recordsSeen = false
    /// What the exporter shows; lags the totals by one sample when the counters first appear.
    private var published: Counters?
    /// Record types outside `knownRecordTypes` seen so far (exported as `other` from then on).
    private var sawOtherType = false

    public init() {}

    /// Folds BuildKit's `Type` into the bounded label set.
    public static func recordType(_ type: String) -> String {
        knownRecordTypes.contains(type) ? type : "other"
    }

    /// `base_image` for the layers BuildKit took from an image (its descriptions "pulled from <ref>"
    /// in BuildKit and moby, "from local <ref>" for moby's local image store, and no description at
    /// all with the containerd image store, whose snapshotter makes the base layer's record without
    /// one), else `build`. Every record a build step makes carries a description ("mount / from
    /// exec ...", "local source for context").
    public static func origin(of record: BuildCacheRecord) -> Origin {
        guard record.type == "regular" else { return .build }
        let d = record.description
        return d.isEmpty || d.hasPrefix("pulled from ") || d.hasPrefix("from local") ? .baseImage : .build
    }

    public static func key(of record: BuildCacheRecord) -> Key {
        Key(recordType(record.type), origin(of: record))
    }

    /// A record no build holds any more and that some build has released at least once.
    static func isSettled(_ record: BuildCacheRecord) -> Bool {
        !record.inUse && record.usageCount > 0
    }

    /// Takes one sample: the complete list of records `/system/df` answered, and when the call
    /// started (wall clock; a record created before that is in the list).
    @discardableResult
    public mutating func observe(_ records: [BuildCacheRecord], sampledAt: Date) -> Delta {
        var delta = Delta()
        let wasAvailable = recordsSeen
        if !records.isEmpty { recordsSeen = true }
        if records.contains(where: { Self.recordType($0.type) == "other" }) { sawOtherType = true }

        var next: [String: Tracked] = [:]
        next.reserveCapacity(records.count)
        var nextPending: Set<String> = []

        if baseline == nil {
            for record in records {
                if Self.isSettled(record) {
                    next[record.id] = Tracked(usageCount: record.usageCount)
                    delta.uncounted[.firstSample, default: 0] += 1
                } else {
                    // Released after the baseline: judged then, like any build that ends later.
                    nextPending.insert(record.id)
                }
            }
        } else {
            let old = baseline ?? [:]
            let cutoff = previousSampleAt.map { $0.addingTimeInterval(-Self.clockSlack) }
            for record in records {
                let key = Self.key(of: record)
                if let seen = old[record.id] {
                    if record.usageCount > seen.usageCount {
                        delta.hits[key, default: 0] += UInt64(record.usageCount - seen.usageCount)
                    } else if record.usageCount < seen.usageCount {
                        delta.uncounted[.usageCountDecreased, default: 0] += 1
                    }
                    next[record.id] = Tracked(usageCount: record.usageCount)
                } else if !Self.isSettled(record) {
                    nextPending.insert(record.id)
                } else if !pending.contains(record.id), let cutoff, let created = record.createdAt, created < cutoff {
                    delta.uncounted[.predatesPreviousSample, default: 0] += 1
                    next[record.id] = Tracked(usageCount: record.usageCount)
                } else {
                    delta.misses[key, default: 0] += 1
                    if record.usageCount > 1 { delta.hits[key, default: 0] += UInt64(record.usageCount - 1) }
                    next[record.id] = Tracked(usageCount: record.usageCount)
                }
            }
            delta.pruned = old.keys.reduce(0) { $0 + (next[$1] == nil ? 1 : 0) }
        }
        delta.pending = nextPending.count

        for (k, n) in delta.hits { hits[k, default: 0] += n }
        for (k, n) in delta.misses { misses[k, default: 0] += n }
        for (k, n) in delta.uncounted { uncounted[k, default: 0] += n }
        baseline = next
        pending = nextPending
        previousSampleAt = sampledAt

        if recordsSeen {
            // Counters that appear must start at zero: Prometheus' rate() and increase() take a new
            // series' first value as its baseline, so whatever this sample counted is shown from
            // the next one on.
            published = wasAvailable ? totals() : zeroCounters()
        }
        return delta
    }

    /// The hit, miss and uncounted counters to export, every expected series present; nil while no
    /// sample has shown a BuildKit record (no hit rate can be measured).
    public func countersForExport() -> Counters? { published }

    /// Every key the counters are exported for, present at zero before anything is counted.
    public var exportedKeys: [Key] {
        var keys = Set(Self.knownRecordTypes.map { Key($0, .build) })
        keys.insert(Key("regular", .baseImage))
        if sawOtherType { keys.insert(Key("other", .build)) }
        keys.formUnion(hits.keys)
        keys.formUnion(misses.keys)
        return keys.sorted()
    }

    private func totals() -> Counters {
        var c = zeroCounters()
        for (k, n) in hits { c.hits[k] = n }
        for (k, n) in misses { c.misses[k] = n }
        for (k, n) in uncounted { c.uncounted[k] = n }
        return c
    }

    private func zeroCounters() -> Counters {
        let keys = exportedKeys
        return Counters(
            hits: Dictionary(uniqueKeysWithValues: keys.map { ($0, 0) }),
            misses: Dictionary(uniqueKeysWithValues: keys.map { ($0, 0) }),
            uncounted: Dictionary(uniqueKeysWithValues: UncountedReason.allCases.map { ($0, 0) }))
    }
}

/// Size and shape of the build cache at one sample, per record type.
public struct BuildCacheSummary: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var records = 0
        public var inUse = 0
        public var shared = 0
        /// Σ `Size` of records not shared (what `docker system df` reports as SIZE).
        public var sizeBytes: Int64 = 0
        /// Σ `Size` of shared records (their data is also held by images).
        public var sharedSizeBytes: Int64 = 0
        /// Σ `Size` of records neither shared nor in use.
        public var reclaimableBytes: Int64 = 0
        /// Oldest and newest `LastUsedAt` (`CreatedAt` for records never released), nil without records.
        public var leastRecentUse: Date?
        public var mostRecentUse: Date?

        public init() {}
    }

    /// Keyed by the folded record type; every known type is present, `other` only when seen.
    public var rows: [String: Row]

    public init(_ records: [BuildCacheRecord]) {
        var rows = Dictionary(uniqueKeysWithValues: BuildCacheAnalyzer.knownRecordTypes.map { ($0, Row()) })
        for record in records {
            let type = BuildCacheAnalyzer.recordType(record.type)
            var row = rows[type] ?? Row()
            row.records += 1
            if record.inUse { row.inUse += 1 }
            let size = max(record.size, 0)
            if record.shared {
                row.shared += 1
                row.sharedSizeBytes += size
            } else {
                row.sizeBytes += size
                if !record.inUse { row.reclaimableBytes += size }
            }
            if let used = record.lastUsedAt ?? record.createdAt {
                row.leastRecentUse = min(row.leastRecentUse ?? used, used)
                row.mostRecentUse = max(row.mostRecentUse ?? used, used)
            }
            rows[type] = row
        }
        self.rows = rows
    }

    /// Rows in label order.
    public var sorted: [(recordType: String, row: Row)] {
        rows.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

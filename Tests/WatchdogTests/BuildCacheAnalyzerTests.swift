import DockerEngine
import Foundation
import Testing
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import Locking
@testable import ResponseBodies

/// The hit/miss arithmetic on hand-made record sequences. The shapes (IDs aside) are what Debian's
/// dockerd 20.10 listed for the builds of `BuildCacheTests`: a base-image record "from local ",
/// one `regular` record per RUN/COPY step chained by parent, and `source.local` records for the
/// Dockerfile and the context.
@Suite("Build cache analyzer")
struct BuildCacheAnalyzerTests {
    typealias Key = BuildCacheAnalyzer.Key
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    static func record(
        _ id: String, _ type: String = "regular", uses: Int, inUse: Bool = false, shared: Bool = false, size: Int64 = 10,
        created: TimeInterval = 0, lastUsed: TimeInterval? = nil, description: String = "mount / from exec /bin/sh -c true"
    ) -> BuildCacheRecord {
        BuildCacheRecord(
            id: id, type: type, description: description, inUse: inUse, shared: shared, size: size,
            createdAt: at(created), lastUsedAt: uses > 0 ? at(lastUsed ?? created) : nil, usageCount: uses)
    }

    /// The records after the first build of FROM + RUN + COPY + RUN + COPY (k = 4 steps), each used once.
    static func firstBuild(uses: Int = 1, lastStep: String = "s4", created: TimeInterval = 100) -> [BuildCacheRecord] {
        [
            record("df", "source.local", uses: uses, created: created, description: "local source for dockerfile"),
            record("ctx", "source.local", uses: uses, created: created, description: "local source for context"),
            record("base", uses: uses, shared: true, created: created, description: "from local "),
            record("s1", uses: uses, shared: true, created: created),
            record("s2", uses: uses, shared: true, created: created, description: "fileop target"),
            record("s3", uses: uses, shared: true, created: created),
            record(lastStep, uses: 1, shared: true, created: created, description: "fileop target"),
        ]
    }

    @Test func firstSampleCountsNothingButMakesTheCountersAvailableAtZero() throws {
        var a = BuildCacheAnalyzer()
        #expect(a.countersForExport() == nil)
        let delta = a.observe(Self.firstBuild(uses: 5), sampledAt: Self.at(200))
        #expect(delta.totalHits == 0 && delta.totalMisses == 0)
        #expect(delta.uncounted == [.firstSample: 7])
        let c = try #require(a.countersForExport())
        #expect(c.hits.values.allSatisfy { $0 == 0 } && c.misses.values.allSatisfy { $0 == 0 })
        #expect(c.uncounted[.firstSample] == 0, "counters appear at zero; the first sample's own count shows next round")
        // Every expected series is there from the start, so rate() sees the first increment.
        #expect(Set(c.hits.keys) == Set(BuildCacheAnalyzer.knownRecordTypes.map { Key($0, .build) } + [Key("regular", .baseImage)]))

        a.observe(Self.firstBuild(uses: 5), sampledAt: Self.at(300))
        let later = try #require(a.countersForExport())
        #expect(later.uncounted[.firstSample] == 7)
        #expect(later.hits.values.reduce(0, +) == 0 && later.misses.values.reduce(0, +) == 0)
    }

    @Test func identicalRebuildHitsEveryStepAndLastInputChangeMissesOne() throws {
        var a = BuildCacheAnalyzer()
        a.observe([], sampledAt: Self.at(0))  // an empty daemon: baseline with no records
        #expect(a.countersForExport() == nil, "no records yet: the hit rate is unavailable, not zero")

        // Build 1: everything new.
        var d = a.observe(Self.firstBuild(), sampledAt: Self.at(200))
        #expect(d.misses == [Key.buildSteps: 4, Key("regular", .baseImage): 1, Key("source.local", .build): 2])
        #expect(d.totalHits == 0)
        // The counters appear at zero in this round and carry the misses from the next one on.
        #expect(a.countersForExport()?.misses[Key.buildSteps] == 0)

        // Build 2, identical: every record reused once (4 CACHED steps; the base image is not a step).
        d = a.observe(
            Self.firstBuild(uses: 2).map {
                var r = $0; if r.id == "s4" { r.usageCount = 2 }; return r
            },
            sampledAt: Self.at(400))
        #expect(d.hits == [Key.buildSteps: 4, Key("regular", .baseImage): 1, Key("source.local", .build): 2])
        #expect(d.totalMisses == 0)
        var c = try #require(a.countersForExport())
        #expect(c.misses[Key.buildSteps] == 4 && c.hits[Key.buildSteps] == 4)

        // Build 3, last input changed: s1..s3 reused, s4 untouched, s5 new.
        var third = Self.firstBuild(uses: 3)
        third[6].usageCount = 2
        third.append(Self.record("s5", uses: 1, shared: true, created: 500, description: "fileop target"))
        d = a.observe(third, sampledAt: Self.at(600))
        #expect(d.hits == [Key.buildSteps: 3, Key("regular", .baseImage): 1, Key("source.local", .build): 2])
        #expect(d.misses == [Key.buildSteps: 1])
        c = try #require(a.countersForExport())
        #expect(c.hits[Key.buildSteps] == 7 && c.misses[Key.buildSteps] == 5)
        #expect(c.hits[Key("exec.cachemount", .build)] == 0)
    }

    @Test func prunedRecordsCountNothingAndRebuildsAfterAPruneAreMisses() throws {
        var a = BuildCacheAnalyzer()
        a.observe(Self.firstBuild(uses: 2), sampledAt: Self.at(200))
        // `docker builder prune -af`: everything gone, nothing counted.
        var d = a.observe([], sampledAt: Self.at(300))
        #expect(d.pruned == 7)
        #expect(d.totalHits == 0 && d.totalMisses == 0 && d.uncounted.isEmpty)
        // The same build again: all rebuilt under new records.
        let rebuilt = Self.firstBuild(created: 350)
        d = a.observe(rebuilt, sampledAt: Self.at(400))
        #expect(d.misses == [Key.buildSteps: 4, Key("regular", .baseImage): 1, Key("source.local", .build): 2])
        #expect(d.totalHits == 0)
        // A partial prune (s4 and the context) and one new step: two gone, one miss, no hits.
        let partial = rebuilt.filter { $0.id != "s4" && $0.id != "ctx" } + [Self.record("x", uses: 1, created: 450)]
        d = a.observe(partial, sampledAt: Self.at(500))
        #expect(d.pruned == 2 && d.misses == [Key.buildSteps: 1] && d.totalHits == 0)
        let c = try #require(a.countersForExport())
        #expect(c.misses[Key.buildSteps] == 5 && c.hits.values.reduce(0, +) == 0)
    }

    @Test func aDaemonRestartKeepsCountsAndCountsNothing() throws {
        var a = BuildCacheAnalyzer()
        a.observe(Self.firstBuild(uses: 3), sampledAt: Self.at(200))
        // The daemon restarts between samples: BuildKit's metadata is on disk, nothing changes.
        let d = a.observe(Self.firstBuild(uses: 3), sampledAt: Self.at(300))
        #expect(d == BuildCacheAnalyzer.Delta())
    }

    @Test func usageCountsThatWentDownAreRebaselinedNotNegative() throws {
        var a = BuildCacheAnalyzer()
        a.observe(Self.firstBuild(uses: 5), sampledAt: Self.at(200))
        // The same IDs with counts reset (BuildKit state replaced under the daemon).
        var d = a.observe(Self.firstBuild(uses: 1), sampledAt: Self.at(300))
        #expect(d.totalHits == 0 && d.totalMisses == 0)
        #expect(d.uncounted == [.usageCountDecreased: 6])  // s4 was 1 and stays 1
        // Counting goes on from the new counts.
        d = a.observe(Self.firstBuild(uses: 2), sampledAt: Self.at(400))
        #expect(d.hits[Key.buildSteps] == 3 && d.totalMisses == 0)
    }

    @Test func recordsOlderThanThePreviousSampleAreNotMissesOfThisInterval() throws {
        var a = BuildCacheAnalyzer()
        a.observe(Self.firstBuild(uses: 2), sampledAt: Self.at(10_000))
        // Another daemon answers now (new data root): its records were all built long ago.
        let other = Self.firstBuild(uses: 4, created: 50).map {
            var r = $0; r.id = "other-" + r.id; return r
        }
        var d = a.observe(other, sampledAt: Self.at(10_300))
        #expect(d.totalMisses == 0 && d.totalHits == 0)
        #expect(d.uncounted == [.predatesPreviousSample: 7])
        #expect(d.pruned == 7)
        // Within the clock slack a record still counts as built in this interval.
        d = a.observe(other + [Self.record("late", uses: 1, created: 10_300 - 30)], sampledAt: Self.at(10_600))
        #expect(d.misses == [Key.buildSteps: 1])
    }

    @Test func recordsOfARunningBuildAreJudgedWhenReleasedAndTemporaryOnesNever() throws {
        var a = BuildCacheAnalyzer()
        a.observe(Self.firstBuild(), sampledAt: Self.at(200))
        // Mid-build (as dockerd 20.10 lists it): a mutable context copy and a mutable step layer,
        // both "regular", in use, never released; one committed step in use.
        let running =
            Self.firstBuild() + [
                Self.record("tmp-ctx", uses: 0, inUse: true, created: 250, description: "local source for context"),
                Self.record("tmp-run", uses: 0, inUse: true, created: 251),
                Self.record("x1", uses: 0, inUse: true, created: 252),
            ]
        var d = a.observe(running, sampledAt: Self.at(260))
        #expect(d.totalMisses == 0 && d.pending == 3)
        // A long step: the next sample still sees them all in use.
        d = a.observe(running, sampledAt: Self.at(600))
        #expect(d.totalMisses == 0 && d.pending == 3 && d.uncounted.isEmpty)
        // The build ends: the temporaries are gone (merged, committed under a new ID), x1 is
        // released. x1 is a miss although it was created long before the previous sample, because
        // that sample saw it pending.
        let done =
            Self.firstBuild() + [
                Self.record("x1", uses: 1, created: 252, lastUsed: 900),
                Self.record("x2", uses: 1, created: 899),
            ]
        d = a.observe(done, sampledAt: Self.at(1_000))
        #expect(d.misses == [Key.buildSteps: 2])
        #expect(d.pending == 0 && d.uncounted.isEmpty && d.pruned == 0)
    }

    @Test func aRecordBuiltAndReusedInOneIntervalIsOneMissAndTheRestHits() {
        var a = BuildCacheAnalyzer()
        a.observe([], sampledAt: Self.at(0))
        let d = a.observe([Self.record("m", "exec.cachemount", uses: 3, created: 10)], sampledAt: Self.at(100))
        #expect(d.misses == [Key("exec.cachemount", .build): 1])
        #expect(d.hits == [Key("exec.cachemount", .build): 2])
    }

    @Test func legacyBuilderOnlyNeverMakesTheCountersAvailable() {
        var a = BuildCacheAnalyzer()
        for i in 0..<5 { a.observe([], sampledAt: Self.at(Double(i) * 100)) }
        #expect(a.countersForExport() == nil)
        #expect(!a.recordsSeen)
    }

    @Test func unknownTypesFoldIntoOtherAndOriginsAreRecognised() {
        #expect(BuildCacheAnalyzer.recordType("regular") == "regular")
        #expect(BuildCacheAnalyzer.recordType("exec.cachemount") == "exec.cachemount")
        #expect(BuildCacheAnalyzer.recordType("source.http") == "other")
        #expect(BuildCacheAnalyzer.recordType("") == "other")
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", uses: 1, description: "pulled from docker.io/library/alpine:3")) == .baseImage)
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", uses: 1, description: "from local docker.io/library/busybox")) == .baseImage)
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", uses: 1, description: "mount / from exec /bin/sh -c pulled from x")) == .build)
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", "source.local", uses: 1, description: "pulled from x")) == .build)
        // The containerd image store's base layer: a regular record without a description.
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", uses: 1, description: "")) == .baseImage)
        #expect(BuildCacheAnalyzer.origin(of: Self.record("a", "source.local", uses: 1, description: "")) == .build)

        var a = BuildCacheAnalyzer()
        a.observe([], sampledAt: Self.at(0))
        a.observe([Self.record("h", "source.http", uses: 1, created: 50)], sampledAt: Self.at(100))
        a.observe([Self.record("h", "source.http", uses: 2, created: 50)], sampledAt: Self.at(200))
        #expect(a.countersForExport()?.misses[Key("other", .build)] == 1)
        #expect(a.countersForExport()?.hits[Key("other", .build)] == 1)
    }

    @Test func summaryMatchesDockerSystemDFArithmetic() throws {
        let records = [
            Self.record("a", uses: 1, shared: true, size: 1_000, created: 10, lastUsed: 20),
            Self.record("b", uses: 1, size: 300, created: 11, lastUsed: 50),
            Self.record("c", uses: 2, inUse: true, size: 200, created: 12, lastUsed: 40),
            Self.record("d", "exec.cachemount", uses: 1, size: 5, created: 13, lastUsed: 30),
            Self.record("e", "source.local", uses: 0, inUse: true, size: 7, created: 14),
        ]
        let s = BuildCacheSummary(records)
        let regular = try #require(s.rows["regular"])
        #expect(regular.records == 3 && regular.inUse == 1 && regular.shared == 1)
        #expect(regular.sizeBytes == 500 && regular.sharedSizeBytes == 1_000 && regular.reclaimableBytes == 300)
        #expect(regular.leastRecentUse == Self.at(20) && regular.mostRecentUse == Self.at(50))
        #expect(s.rows["source.local"]?.leastRecentUse == Self.at(14), "never released: CreatedAt stands in")
        #expect(s.rows["frontend"] == BuildCacheSummary.Row())
        #expect(s.rows["other"] == nil)
        // Summed over types, the same as docker system df's build cache row.
        let df = DiskUsageCategory.buildCache(records)
        #expect(s.rows.values.map(\.records).reduce(0, +) == df.totalCount)
        #expect(s.rows.values.map(\.inUse).reduce(0, +) == df.activeCount)
        #expect(s.rows.values.map(\.sizeBytes).reduce(0, +) == df.sizeBytes)
        #expect(s.rows.values.map(\.reclaimableBytes).reduce(0, +) == df.reclaimableBytes)
    }
}

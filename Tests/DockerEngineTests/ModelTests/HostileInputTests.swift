@testable import DockerEngine
import Foundation
import Testing

/// Inputs the fuzzer (fuzz/corpus/docker-json/crash-*) found to trap the decoders: each must now
/// decode to a bounded value or fail with the typed error.
@Suite("Hostile Docker answers")
struct HostileInputTests {
    /// `Size` values near Int64.max used to trap in the `docker system df` sums (overflow).
    @Test func diskUsageSumsSaturateInsteadOfTrapping() throws {
        let max = Int64.max
        let body = """
            {"LayersSize":\(max),"Images":[{"Id":"a","Containers":0,"Size":\(max),"SharedSize":\(Int64.min)}],
             "Containers":[{"Id":"c","State":"exited","SizeRw":\(max)},{"Id":"d","State":"running","SizeRw":\(max)}],
             "Volumes":[{"Name":"v","UsageData":{"Size":\(max),"RefCount":1}},{"Name":"w","UsageData":{"Size":\(max),"RefCount":0}}],
             "BuildCache":[{"ID":"x","Size":\(max),"InUse":true},{"ID":"y","Size":\(max)}]}
            """
        for rules in [DiskUsageRules.current, .cli20_10] {
            let usage = try SystemDiskUsage.decode(Data(body.utf8), rules: rules)
            #expect(usage.containers == DiskUsageCategory(totalCount: 2, activeCount: 1, sizeBytes: max, reclaimableBytes: max))
            #expect(usage.volumes?.sizeBytes == max)
            #expect(usage.buildCache?.sizeBytes == max)
            // Σ of both records saturates at max; the in-use one alone is max too: nothing reclaimable.
            #expect(usage.buildCache?.reclaimableBytes == 0)
        }
        let current = try SystemDiskUsage.decode(Data(body.utf8), rules: .current)
        #expect(current.images?.reclaimableBytes == max)  // max − min saturates
        #expect(current.volumes?.reclaimableBytes == 0)  // max − max
    }

    @Test func clampedArithmeticIsExactInRange() {
        #expect(Int64(5).clampedAdding(7) == 12)
        #expect(Int64.max.clampedAdding(1) == .max)
        #expect(Int64.min.clampedAdding(-1) == .min)
        #expect(Int64.min.clampedSubtracting(1) == .min)
        #expect(Int64(-1).clampedSubtracting(Int64.max) == Int64.min)  // exact, no overflow
    }

    /// An event `time` in seconds past 2262 does not fit in nanoseconds: it used to trap.
    @Test func eventTimeOutOfRangeIsATypedError() {
        let line = #"{"Type":"container","Action":"start","Actor":{"ID":"a"},"time":9223372036854775807}"#
        #expect {
            try DockerEvent.decode(Data(line.utf8))
        } throws: { error in
            (error as? ModelDecodingError)?.path == "time"
        }
        let fine = #"{"Type":"container","Action":"start","Actor":{"ID":"a"},"time":1700000000}"#
        #expect((try? DockerEvent.decode(Data(fine.utf8)))?.timeNano == 1_700_000_000_000_000_000)
    }
}

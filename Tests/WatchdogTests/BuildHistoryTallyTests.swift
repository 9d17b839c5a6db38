import Collectors
import DockerEngine
import Testing

/// Counting finished builds from successive reads of BuildKit's build history.
@Suite("Build history tally")
struct BuildHistoryTallyTests {
    static func record(
        _ ref: String, completed: Double, created: Double? = nil, cached: Int = 0, total: Int = 5, completedSteps: Int = 5,
        error: Int32? = nil
    ) -> BuildRecord {
        var r = BuildRecord()
        r.ref = ref
        r.createdAt = created ?? completed - 2
        r.completedAt = completed
        r.cachedSteps = cached
        r.totalSteps = total
        r.completedSteps = completedSteps
        r.errorCode = error
        return r
    }

    @Test func buildsBeforeTheStartAreBaselineNewOnesCountOnce() {
        var tally = BuildHistoryTally(countFrom: 1000)
        let old = Self.record("old", completed: 900)
        let first = tally.observe([old, Self.record("a", completed: 1001, cached: 2, total: 5, completedSteps: 5)])
        #expect(first == .init(counted: 1, baseline: 1))
        // The same records again, plus a failed and a canceled build: only those two count.
        let second = tally.observe([
            old, Self.record("a", completed: 1001), Self.record("f", completed: 1010, total: 4, completedSteps: 2, error: 2),
            Self.record("c", completed: 1020, created: 1000, total: 3, completedSteps: 1, error: 1),
        ])
        #expect(second == .init(counted: 2, baseline: 0))
        #expect(tally.builds == [.success: 1, .failure: 1, .canceled: 1])
        #expect(tally.cachedSteps == 2)
        #expect(tally.executedSteps == 3 + 2 + 1)
        #expect(tally.durations.count == 3)
        #expect(tally.durations.sum == 2 + 2 + 20)
        #expect(tally.lastCompleted == 1020)
    }

    @Test func refsThatLeftTheHistoryAreForgottenCutReadsKeepThem() {
        var tally = BuildHistoryTally(countFrom: 0)
        _ = tally.observe([Self.record("a", completed: 1), Self.record("b", completed: 2)])
        // A read cut at the record limit without "a": "a" is kept, so it is not counted again.
        _ = tally.observe([Self.record("b", completed: 2)], complete: false)
        #expect(tally.observe([Self.record("a", completed: 1)]).counted == 0)
        // A complete read without "b" forgets it (BuildKit pruned it).
        #expect(tally.observe([]).counted == 0)
        #expect(tally.lastCompleted == nil)
        #expect(tally.builds[.success] == 2)
    }
}

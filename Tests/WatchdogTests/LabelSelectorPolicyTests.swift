import Foundation
import Logging
import Testing
import WatchdogConfig
@testable import Remediation
@testable import Containers

/// Every policy reads a label selector the same way: `key` any value, `key=value` that value,
/// `key=` the empty value. (Disk protection used to read `key=` as "any value" and autoheal as
/// "the empty value".)
@Suite("One label-selector meaning in every policy")
struct LabelSelectorPolicyTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let cases: [(spec: String, matchesValue: Bool, matchesEmpty: Bool)] = [
        ("k", true, true), ("k=v", true, false), ("k=", false, true),
    ]
    static let withValue = ["k": "v"]
    static let withEmpty = ["k": ""]
    static let without = ["other": "v"]

    static func ledger() -> ActionLedger {
        ActionLedger(audit: AuditLog(path: "/tmp/label-selector-\(UUID().uuidString).jsonl"), logger: logger)
    }

    func disk(protect: LabelSelector = .none, named: LabelSelector = .none, host: FakeHost = FakeHost()) -> DiskRemediation {
        DiskRemediation(
            settings: .init(
                thresholds: DiskThresholds(actBelowRatio: 0.1, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.3, targetInodesRatio: 0.05),
                steps: [.volumes], protectLabel: protect, namedVolumeLabel: named),
            docker: host, measure: { host.stats() }, ledger: Self.ledger())
    }

    func autoheal(label: LabelSelector = .none, protect: LabelSelector = .none) -> AutohealPolicy {
        AutohealPolicy(
            settings: .init(label: label, protectLabel: protect), containers: { [] },
            docker: AutohealFakeDocker(clock: RemediationTestClock()), ledger: Self.ledger(), logger: Self.logger)
    }

    @Test(arguments: cases.indices)
    func diskProtection(_ i: Int) throws {
        let c = Self.cases[i]
        let policy = disk(protect: try LabelSelector(parsing: c.spec))
        #expect(policy.isProtected(Self.withValue) == c.matchesValue, "\(c.spec) on k=v")
        #expect(policy.isProtected(Self.withEmpty) == c.matchesEmpty, "\(c.spec) on k=''")
        #expect(!policy.isProtected(Self.without))
    }

    @Test(arguments: cases.indices)
    func diskNamedVolumes(_ i: Int) throws {
        let c = Self.cases[i]
        let host = FakeHost()
        host.volumes = [
            .init(name: "valued", size: 10, labels: Self.withValue), .init(name: "empty", size: 10, labels: Self.withEmpty),
            .init(name: "unlabelled", size: 10, labels: Self.without),
        ]
        let policy = disk(named: try LabelSelector(parsing: c.spec), host: host)
        let names = Set(try policy.candidates(.volumes).map(\.name))
        #expect(names.contains("valued") == c.matchesValue, "\(c.spec)")
        #expect(names.contains("empty") == c.matchesEmpty, "\(c.spec)")
        #expect(!names.contains("unlabelled"))
    }

    @Test(arguments: cases.indices)
    func autohealOptIn(_ i: Int) throws {
        let c = Self.cases[i]
        let policy = autoheal(label: try LabelSelector(parsing: c.spec))
        #expect(policy.isOptedIn(Self.withValue) == c.matchesValue, "\(c.spec)")
        #expect(policy.isOptedIn(Self.withEmpty) == c.matchesEmpty, "\(c.spec)")
        #expect(!policy.isOptedIn(Self.without))
    }

    @Test(arguments: cases.indices)
    func autohealProtection(_ i: Int) throws {
        let c = Self.cases[i]
        let policy = autoheal(protect: try LabelSelector(parsing: c.spec))
        #expect(policy.isProtected(Self.withValue) == c.matchesValue, "\(c.spec)")
        #expect(policy.isProtected(Self.withEmpty) == c.matchesEmpty, "\(c.spec)")
        #expect(!policy.isProtected(Self.without))
    }

    @Test func anEmptySelectorProtectsAndOptsInNothing() {
        #expect(!disk().isProtected(Self.withValue))
        #expect(!autoheal().isOptedIn(Self.withValue))
        #expect(!autoheal().isProtected(Self.withEmpty))
    }

    /// The dangling-images prune sends the selector to Docker as `label!=…` in the same syntax
    /// (Docker's filter reads `key=` as the empty value too).
    @Test func theDanglingPruneFilterCarriesTheCanonicalSpec() throws {
        #expect((try LabelSelector(parsing: "k=")).description == "k=")
        #expect((try LabelSelector(parsing: " k ")).description == "k")
    }
}

/// Podman names `busybox:latest` `docker.io/library/busybox:latest` (and its own builds
/// `localhost/name:tag`): a keep pattern written against the short name still keeps it.
@Suite("Keep pattern on qualified image names")
struct KeepPatternQualifiedNameTests {
    @Test func aQualifiedNameIsKeptByAPatternOnTheShortName() throws {
        let host = FakeHost()
        host.images = [
            .init(id: "sha256:b", tags: ["docker.io/library/busybox:latest"], created: 0, size: 10),
            .init(id: "sha256:l", tags: ["localhost/base:1"], created: 0, size: 10),
            .init(id: "sha256:o", tags: ["docker.io/library/other:1"], created: 0, size: 10),
        ]
        let ledger = ActionLedger(audit: AuditLog(path: "/tmp/keep-\(UUID().uuidString).jsonl"), logger: LabelSelectorPolicyTests.logger)
        let disk = DiskRemediation(
            settings: .init(
                thresholds: DiskThresholds(actBelowRatio: 0.1, actBelowBytes: 0, actBelowInodesRatio: 0.05, targetRatio: 0.3, targetInodesRatio: 0.05),
                steps: [.unusedImages], minAge: .seconds(1), keepPattern: "^(busybox|base):"),
            docker: host, measure: { host.stats() }, ledger: ledger)
        #expect(try disk.candidates(.unusedImages).map(\.id) == ["sha256:o"])
        #expect(DiskRemediation.familiarName("docker.io/library/busybox:latest") == "busybox:latest")
        #expect(DiskRemediation.familiarName("docker.io/grafana/grafana:11") == "grafana/grafana:11")
        #expect(DiskRemediation.familiarName("quay.io/prometheus/prometheus:v3") == "quay.io/prometheus/prometheus:v3")
    }
}

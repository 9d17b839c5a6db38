import Foundation
import Testing
import Watchdog
import Sampling
import Collectors
import Containers
import Remediation
import Web
import HostProbes
import Locking
import ResponseBodies
import WatchdogConfig

/// The README's reference tables must be exactly what the code generates.
///
/// Run with `UPDATE_README=1 swift test --filter ReadmeDriftTests` to rewrite them after changing a
/// configuration key or a metric.
@Suite("README matches the code", .serialized)
struct ReadmeDriftTests {
    static let readmePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md").path

    static let sections: [(name: String, generate: @Sendable () -> String)] = [
        ("configuration", { ConfigReference.markdownTable(registry: .watchdog) }),
        ("metrics", { MetricCatalog.markdownTable() }),
    ]

    static func markers(_ name: String) -> (begin: String, end: String) {
        ("<!-- BEGIN GENERATED \(name) table -->\n", "<!-- END GENERATED \(name) table -->")
    }

    static func section(_ name: String, in text: String) -> Range<String.Index>? {
        let (begin, end) = markers(name)
        guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) else { return nil }
        return b.upperBound..<e.lowerBound
    }

    @Test(arguments: sections.map(\.name))
    func generatedTableIsCurrent(_ name: String) throws {
        var text = try String(contentsOfFile: Self.readmePath, encoding: .utf8)
        let expected = Self.sections.first { $0.name == name }!.generate()
        let range = try #require(Self.section(name, in: text), "README.md lacks the markers of the \(name) table")
        if ProcessInfo.processInfo.environment["UPDATE_README"] == "1" {
            text.replaceSubrange(range, with: expected)
            try text.write(toFile: Self.readmePath, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(text[range]) == expected, "README \(name) table is stale: run UPDATE_README=1 swift test --filter ReadmeDriftTests")
    }

    @Test func everyMetricAndKeyIsDocumentedOnce() throws {
        let text = try String(contentsOfFile: Self.readmePath, encoding: .utf8)
        for d in MetricCatalog.all {
            #expect(text.components(separatedBy: "| `\(d.exportedName)` |").count == 2, "\(d.exportedName)")
        }
    }
}

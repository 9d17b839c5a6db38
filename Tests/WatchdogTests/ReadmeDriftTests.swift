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

/// The documentation's generated parts must be exactly what the code generates: the configuration
/// reference in docs/configuration.md, the metrics reference in docs/metrics.md (each between
/// `<!-- BEGIN GENERATED … table -->` and `<!-- END GENERATED … table -->`), and the example
/// configuration examples/docker-watchdog.yml (the whole file).
///
/// Run with `UPDATE_README=1 swift test --filter ReadmeDriftTests` to rewrite them after changing a
/// configuration key or a metric.
@Suite("The documentation matches the code", .serialized)
struct ReadmeDriftTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static var updating: Bool { ProcessInfo.processInfo.environment["UPDATE_README"] == "1" }

    static let regenerate = "run UPDATE_README=1 swift test --filter ReadmeDriftTests"

    /// Each generated table: its name in the markers, the file holding it, its generator.
    static let sections: [(name: String, file: String, generate: @Sendable () -> String)] = [
        ("configuration", "docs/configuration.md", { ConfigReference.markdownTable(registry: .watchdog) }),
        ("metrics", "docs/metrics.md", { MetricCatalog.markdownTable() }),
    ]

    static let exampleFile = "examples/docker-watchdog.yml"

    /// examples/docker-watchdog.yml: a comment, then what `docker-watchdog --config.check` prints
    /// (after its first line) when nothing is configured.
    static func example() -> String {
        """
        # docker-watchdog: every configuration key at its default. This is what
        # `docker-watchdog --config.check` prints when nothing is configured; generated from the code
        # (UPDATE_README=1 swift test --filter ReadmeDriftTests rewrites it, and fails when it differs).
        # What each key does, with its flag and environment variable: docs/configuration.md.
        # Copy it, keep the keys you change and delete the rest; flags and DOCKER_WATCHDOG_*
        # variables override the file. Check it: docker-watchdog --config.file FILE --config.check

        """ + ConfigReference.yamlDocument(for: .defaults, registry: .watchdog)
    }

    /// The documentation pages that may hold a reference row: the README and docs/*.md.
    static func allPages() throws -> [(name: String, text: String)] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: path("docs"))
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return try (["README.md"] + docs).map { ($0, try String(contentsOfFile: path($0), encoding: .utf8)) }
    }

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
        let entry = Self.sections.first { $0.name == name }!
        let file = Self.path(entry.file)
        var text = try String(contentsOfFile: file, encoding: .utf8)
        let expected = entry.generate()
        let range = try #require(Self.section(name, in: text), "\(entry.file) lacks the markers of the \(name) table")
        if Self.updating {
            text.replaceSubrange(range, with: expected)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(text[range]) == expected, "\(entry.file): the \(name) table is stale: \(Self.regenerate)")
    }

    @Test func exampleConfigurationIsCurrent() throws {
        let file = Self.path(Self.exampleFile)
        let expected = Self.example()
        if Self.updating {
            try FileManager.default.createDirectory(
                atPath: Self.path("examples"), withIntermediateDirectories: true)
            try expected.write(toFile: file, atomically: true, encoding: .utf8)
            return
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text == expected, "\(Self.exampleFile) is stale: \(Self.regenerate)")
    }

    /// Every metric has exactly one row in docs/metrics.md and every configuration key exactly one
    /// in docs/configuration.md, and neither has a row on any other page (README.md, docs/*.md).
    @Test func everyMetricAndKeyIsDocumentedOnce() throws {
        let pages = try Self.allPages()
        func rows(_ cell: String) -> [String: Int] {
            var found: [String: Int] = [:]
            for page in pages {
                let n = page.text.components(separatedBy: "| `\(cell)` |").count - 1
                if n > 0 { found[page.name] = n }
            }
            return found
        }
        for d in MetricCatalog.all {
            #expect(rows(d.exportedName) == ["docs/metrics.md": 1], "\(d.exportedName)")
        }
        let keys = ConfigRegistry.watchdog.keyNames
        #expect(!keys.isEmpty)
        for key in keys {
            #expect(rows(key) == ["docs/configuration.md": 1], "\(key)")
        }
    }
}

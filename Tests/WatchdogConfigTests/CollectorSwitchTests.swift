import Testing
import Watchdog
@testable import WatchdogConfig

/// Every collector has an `enabled` key, and node_exporter's `--collector.NAME` /
/// `--no-collector.NAME` flags set it.
@Suite("Collector switches")
struct CollectorSwitchTests {
    static let collectors = CollectorList.all.map(\.name)

    func load(_ arguments: [String]) throws -> WatchdogConfiguration {
        let command = try ConfigLoader.load(arguments: arguments, environment: [:], registry: registry, readFile: { _ in "" })
        guard case .run(let c) = command else { throw ConfigError(key: "", source: "", reason: "not a run") }
        return c
    }

    func enabled(_ c: WatchdogConfiguration, _ name: String) -> Bool {
        let key = registry.byName["collector.\(name).enabled"]!
        return key.render(c) == "true"
    }

    @Test func everyCollectorHasAnEnabledKeyOnByDefault() throws {
        #expect(Self.collectors == ["daemon", "disk", "system_df", "process", "containers", "logs", "build_cache", "build_history"])
        for definition in CollectorList.all {
            // Declared by the collector, its switch first, every key in its own section.
            #expect(definition.configKeys.first?.name == "collector.\(definition.name).enabled")
            #expect(definition.configKeys.allSatisfy { $0.name.hasPrefix("collector.\(definition.name).") })
            #expect(definition.isEnabled(.defaults))
            var off = WatchdogConfiguration.defaults
            try registry.byName["collector.\(definition.name).enabled"]!.apply(&off, "false")
            #expect(!definition.isEnabled(off), "\(definition.name): the enabled key does not reach isEnabled")
        }
        for name in Self.collectors {
            let key = try #require(registry.byName["collector.\(name).enabled"], "collector.\(name).enabled")
            #expect(key.isBool)
            #expect(key.flagAliases == ["collector." + name.replacing("_", with: "-")])
            #expect(enabled(.defaults, name))
        }
    }

    @Test func noCollectorFlagTurnsItOffAndCollectorFlagOn() throws {
        for name in Self.collectors {
            let flag = name.replacing("_", with: "-")
            let off = try load(["--no-collector.\(flag)"])
            #expect(!enabled(off, name), "--no-collector.\(flag)")
            for other in Self.collectors where other != name { #expect(enabled(off, other)) }
            let on = try load(["--no-collector.\(flag)", "--collector.\(flag)"])
            #expect(enabled(on, name), "--collector.\(flag) after --no-collector.\(flag)")
            #expect(!enabled(try load(["--collector.\(flag).enabled=false"]), name))
        }
    }

    @Test func noPrefixOnlyForBooleansAndWithoutAValue() {
        #expect(throws: ConfigError.self) { try load(["--no-collector.daemon.interval"]) }
        #expect(throws: ConfigError.self) { try load(["--no-collector.daemon=true"]) }
        #expect(throws: ConfigError.self) { try load(["--no-collector.nosuch"]) }
    }
}

/// A collector's settings live in the configuration without the configuration knowing their type.
@Suite("Collector settings store")
struct CollectorSettingsStoreTests {
    struct Example: Sendable, Equatable {
        var interval: Duration = .seconds(10)
        var enabled = true
    }
    static let key = CollectorSettingsKey("example", defaults: Example())
    static let other = CollectorSettingsKey("other", defaults: Example())

    @Test func unsetSectionsReadTheirDefaults() {
        let store = CollectorSettingsStore()
        #expect(store[Self.key] == Example())
    }

    @Test func sectionsAreKeptApartAndCompared() {
        var a = CollectorSettingsStore()
        a[Self.key].interval = .seconds(3)
        #expect(a[Self.key].interval == .seconds(3))
        #expect(a[Self.other].interval == .seconds(10))
        var b = CollectorSettingsStore()
        #expect(a != b)
        b[Self.key].interval = .seconds(3)
        #expect(a == b)
        b[Self.key].enabled = false
        #expect(a != b)
    }

    /// Setting a section back to its defaults equals never having set it, so a reload that
    /// restores a default reports no change.
    @Test func aSectionBackAtItsDefaultsEqualsAnUnsetOne() {
        var a = CollectorSettingsStore()
        a[Self.key].interval = .seconds(3)
        a[Self.key].interval = .seconds(10)
        #expect(a == CollectorSettingsStore())
    }

    @Test func keyPathsReachAField() {
        var c = WatchdogConfiguration()
        let path: WritableKeyPath<WatchdogConfiguration, Duration> & Sendable = \WatchdogConfiguration.collectors[Self.key].interval
        c[keyPath: path] = .seconds(7)
        #expect(c.collectors[Self.key].interval == .seconds(7))
        #expect(c != .defaults)
    }
}

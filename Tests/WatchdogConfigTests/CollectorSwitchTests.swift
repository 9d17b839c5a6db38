import Testing
@testable import WatchdogConfig

/// Every collector has an `enabled` key, and node_exporter's `--collector.NAME` /
/// `--no-collector.NAME` flags set it.
@Suite("Collector switches")
struct CollectorSwitchTests {
    static let collectors = ["daemon", "disk", "system_df", "process", "containers", "build_cache"]

    func load(_ arguments: [String]) throws -> WatchdogConfiguration {
        let command = try ConfigLoader.load(arguments: arguments, environment: [:], readFile: { _ in "" })
        guard case .run(let c) = command else { throw ConfigError(key: "", source: "", reason: "not a run") }
        return c
    }

    func enabled(_ c: WatchdogConfiguration, _ name: String) -> Bool {
        let key = ConfigRegistry.byName["collector.\(name).enabled"]!
        return key.render(c) == "true"
    }

    @Test func everyCollectorHasAnEnabledKeyOnByDefault() throws {
        for name in Self.collectors {
            let key = try #require(ConfigRegistry.byName["collector.\(name).enabled"], "collector.\(name).enabled")
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

/// Which keys differ between two configurations, by name: what a reload (SIGHUP) reports as
/// changed. Compared through each key's rendered value, so it covers every key in the registry.
public enum ConfigDiff {
    public static func changedKeys(_ a: WatchdogConfiguration, _ b: WatchdogConfiguration, registry: ConfigRegistry) -> [String] {
        registry.keys.filter { $0.render(a) != $0.render(b) }.map(\.name)
    }
}

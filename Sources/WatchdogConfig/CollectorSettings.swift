/// Names one collector's settings in the configuration: the collector declares its own
/// `Sendable & Equatable` settings struct and its keys next to its code (module Collectors), and
/// the configuration stores it here without knowing its type.
///
/// Keys reach a field through a key path with this as the subscript argument, e.g.
/// `\WatchdogConfiguration.collectors[DaemonCollector.settings].interval`.
public struct CollectorSettingsKey<Settings: Sendable & Equatable>: Sendable, Hashable {
    /// The collector's name, `NAME` of `collector.NAME.*`.
    public let name: String
    /// The settings when nothing was configured: every documented default.
    public let defaults: Settings

    public init(_ name: String, defaults: Settings) {
        self.name = name
        self.defaults = defaults
    }

    public static func == (a: Self, b: Self) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// Every collector's settings, by collector name. A collector that was never configured reads
/// its defaults; a section set back to its defaults is dropped, so two configurations with the
/// same effective settings compare equal.
public struct CollectorSettingsStore: Sendable, Equatable {
    private var sections: [String: any Sendable & Equatable] = [:]

    public init() {}

    public subscript<Settings>(key: CollectorSettingsKey<Settings>) -> Settings {
        get { sections[key.name] as? Settings ?? key.defaults }
        set {
            if newValue == key.defaults {
                sections[key.name] = nil
            } else {
                sections[key.name] = newValue
            }
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        guard a.sections.count == b.sections.count else { return false }
        for (name, value) in a.sections {
            guard let other = b.sections[name], Self.equal(value, other) else { return false }
        }
        return true
    }

    private static func equal<T: Equatable>(_ a: T, _ b: any Sendable & Equatable) -> Bool {
        (b as? T) == a
    }
}

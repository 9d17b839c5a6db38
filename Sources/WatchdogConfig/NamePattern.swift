/// A user's regular expression for names (`collector.containers.include`/`exclude`,
/// `remediation.disk.keep_pattern`), matched anywhere in the name (unanchored, like `grep`).
///
/// The standard library's `Regex` (the configuration check compiles patterns with it too, so what
/// the check accepts is what runs). `Regex<AnyRegexOutput>` is not `Sendable` because its output
/// type could hold anything; a compiled pattern is immutable (its lazily lowered program is
/// published atomically), and only `contains` is called on it, from any thread.
public struct NamePattern: @unchecked Sendable {
    private let regex: Regex<AnyRegexOutput>

    /// Nil for an empty pattern (no filter) or one that does not compile (the configuration
    /// check rejects those before the watchdog starts).
    public init?(_ pattern: String) {
        guard !pattern.isEmpty, let regex = try? Regex(pattern) else { return nil }
        self.regex = regex
    }

    public func matches(_ name: String) -> Bool { name.contains(regex) }
}

/// A label selector of the configuration (`remediation.protect_label`, `remediation.autoheal.label`,
/// `remediation.disk.named_volume_label`), parsed once when the configuration is read and used by
/// every policy with one meaning:
///
/// | spec | matches an object whose labels |
/// | --- | --- |
/// | `key` | have `key`, whatever its value (an empty one too) |
/// | `key=value` | have `key` with exactly `value` |
/// | `key=` | have `key` with the empty value |
/// | (empty) | nothing: the selector is off |
///
/// `key=` used to mean "any value" for protection and "the empty value" for autoheal; it now means
/// what it says everywhere, as Docker's `--filter label=key=` does.
public struct LabelSelector: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// nil for the empty selector, which matches nothing.
    public let key: String?
    /// nil: any value.
    public let value: String?

    /// The selector that matches nothing.
    public static let none = LabelSelector(key: nil, value: nil)

    private init(key: String?, value: String?) {
        self.key = key
        self.value = value
    }

    /// Parses `key`, `key=value` or `key=`; an empty spec is ``none``. The key is trimmed of
    /// surrounding white space; the value is kept as written.
    public init(parsing spec: String) throws(LabelSelectorError) {
        if spec.isEmpty {
            self = .none
            return
        }
        let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = trimmedWhitespace(parts[0])
        guard !key.isEmpty else { throw LabelSelectorError(reason: "the label key before \"=\" is empty") }
        guard !key.contains(where: { $0 == " " || $0 == "\t" || $0.isNewline }) else {
            throw LabelSelectorError(reason: "the label key \(quoted(key)) contains white space")
        }
        self.init(key: key, value: parts.count == 2 ? String(parts[1]) : nil)
    }

    /// Whether `labels` carry the selected label.
    public func matches(_ labels: [String: String]) -> Bool {
        guard let key, let actual = labels[key] else { return false }
        return value.map { $0 == actual } ?? true
    }

    public var isNone: Bool { key == nil }

    /// The spec it was parsed from, in canonical form (`key`, `key=value`, `key=` or empty).
    public var description: String {
        guard let key else { return "" }
        return value.map { "\(key)=\($0)" } ?? key
    }
}

/// Why a label selector was refused.
public struct LabelSelectorError: Error, Sendable, Equatable {
    public let reason: String
}

extension LabelSelector: ExpressibleByStringLiteral {
    /// For defaults and tests written in code; a literal that is not a valid selector is a
    /// programming error.
    public init(stringLiteral spec: String) {
        do {
            try self.init(parsing: spec)
        } catch {
            preconditionFailure("invalid label selector literal \(quoted(spec)): \(error.reason)")
        }
    }
}

/// A Docker Engine API version such as `1.41`.
public struct APIVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses `"1.41"` (also tolerates a leading `v`, as in request paths, and surrounding spaces).
    /// Returns nil for anything else (`"1"`, `"1.x"`, `"1.41.2"`, negative numbers).
    public init?(_ s: String) {
        var text = Substring(s)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        if text.first == "v" { text = text.dropFirst() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let major = Int(parts[0]), let minor = Int(parts[1])
        else { return nil }
        self.major = major
        self.minor = minor
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: APIVersion, b: APIVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    /// Debian's engine (dockerd 20.10).
    public static let v1_41 = APIVersion(major: 1, minor: 41)
    /// `?type=` filters on `/system/df`; `all` on `/volumes/prune`.
    public static let v1_42 = APIVersion(major: 1, minor: 42)
    /// Image summaries stop carrying `VirtualSize`.
    public static let v1_44 = APIVersion(major: 1, minor: 44)
    /// `/system/df` answers per-type usage objects (`ImageUsage`, ...).
    public static let v1_52 = APIVersion(major: 1, minor: 52)
}

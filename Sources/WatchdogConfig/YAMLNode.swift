/// A YAML document as a tree of nodes, each with the line and column it starts at: what the
/// configuration file and the web configuration file readers walk.
///
/// The text is read by libyaml (the C library Yams and PyYAML's C loader wrap),
/// through `YAMLEvents`, its thin wrapper; `YAMLComposer` builds the tree from libyaml's events
/// with the depth limit and the duplicate-key check. Not Yams: Yams imports Foundation, and with
/// it the watchdog binary linked the whole of Foundation, CoreFoundation and ICU (about 8 MB of
/// code and 36 MB of data) for nothing else.
///
/// Aliases are resolved while composing: `*a` yields the node anchored as `&a`, marks included, as
/// Yams' `compose` does.
enum YAMLNode: Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    /// A position in the text; both start at 1, and the column counts Unicode scalars (as libyaml).
    struct Mark: Sendable, Equatable, CustomStringConvertible {
        var line: Int
        var column: Int
        var description: String { "\(line):\(column)" }
    }

    struct Scalar: Sendable {
        enum Style: Sendable, Equatable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        /// The text after unescaping and line folding, untyped: `1.40` stays "1.40".
        var string: String
        var style: Style
        /// The tag as written and resolved (`!!str` → `tag:yaml.org,2002:str`); nil without one.
        var tag: String?
        var mark: Mark

        /// Null in the YAML core schema: a plain `~`, `null`, `Null`, `NULL` or nothing at all
        /// (`key:`), or anything tagged `!!null`. A quoted "null" or "" is a string.
        var isNull: Bool {
            if let tag { return tag == YAMLNode.coreTagPrefix + "null" }
            guard style == .plain else { return false }
            switch string {
            case "", "~", "null", "Null", "NULL": return true
            default: return false
            }
        }
    }

    struct Mapping: Sendable, RandomAccessCollection {
        var pairs: [(key: YAMLNode, value: YAMLNode)]
        var tag: String?
        var mark: Mark
        var isFlow: Bool

        var startIndex: Int { pairs.startIndex }
        var endIndex: Int { pairs.endIndex }
        subscript(position: Int) -> (key: YAMLNode, value: YAMLNode) { pairs[position] }
    }

    struct Sequence: Sendable, RandomAccessCollection {
        var nodes: [YAMLNode]
        var tag: String?
        var mark: Mark
        var isFlow: Bool

        var startIndex: Int { nodes.startIndex }
        var endIndex: Int { nodes.endIndex }
        subscript(position: Int) -> YAMLNode { nodes[position] }
    }

    static let coreTagPrefix = "tag:yaml.org,2002:"

    /// Where the node starts: its anchor or tag if it has one, else its first character (for a
    /// block mapping, its first key; for an empty value, just after the `:` or `-`).
    var mark: Mark {
        switch self {
        case .scalar(let s): return s.mark
        case .mapping(let m): return m.mark
        case .sequence(let s): return s.mark
        }
    }

    var tag: String? {
        switch self {
        case .scalar(let s): return s.tag
        case .mapping(let m): return m.tag
        case .sequence(let s): return s.tag
        }
    }

    /// A scalar that is null (see `Scalar.isNull`); collections never are.
    var isNull: Bool {
        if case .scalar(let s) = self { return s.isNull }
        return false
    }

    /// Parses one YAML document; nil for a text with no document (empty, or only comments).
    static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        try YAMLComposer.parseSingleDocument(text)
    }
}

/// A YAML text that could not be parsed: the problem, where it was found (`mark`), and for most
/// syntax errors what was being read and where that started (`context`, `contextMark`), in
/// libyaml's words ("did not find expected key" while parsing a block mapping at line 2).
struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    var problem: String
    var mark: YAMLNode.Mark
    var context: String?
    var contextMark: YAMLNode.Mark?
    /// For a mapping with a repeated key: the repeated keys (sorted); `mark` is the first
    /// occurrence of the first of them. Empty for other errors.
    var duplicateKeys: [String] = []

    var description: String {
        var text = "\(mark): \(problem)"
        if let context, let contextMark { text += " (\(context) at line \(contextMark.line))" }
        return text
    }
}

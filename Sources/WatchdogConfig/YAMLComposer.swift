import YAMLEvents

/// Builds the `YAMLNode` tree of one document from libyaml's events (`YAMLEventParser`): what
/// libyaml's own composer (and Yams' `compose`) does, with the watchdog's rules on top.
///
/// - Open collections are an explicit stack, not recursion, and a collection nested deeper than
///   `maxDepth` is refused at its start event: no stack, ours or libyaml's, grows with the input.
/// - Aliases are resolved: `*a` is the node anchored as `&a`, marks included. An alias to a node
///   still open (`&a [*a]`) is undefined, as in libyaml.
/// - A mapping with a key written twice is refused (`YAMLError.duplicateKeys`).
/// - A second document in the stream is refused.
struct YAMLComposer {
    /// Deeper nesting is refused (libyaml itself has no limit here).
    static let maxDepth = 256

    /// A collection whose end event has not come yet.
    private struct Open {
        var isMapping: Bool
        var anchor: String?
        var tag: String?
        var mark: YAMLNode.Mark
        var isFlow: Bool
        /// Items, or for a mapping keys and values alternately.
        var nodes: [YAMLNode] = []
    }

    private let text: String
    private let events: YAMLEventParser
    private var stack: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
    private var root: YAMLNode?

    private init(_ text: String) throws(YAMLError) {
        self.text = text
        do {
            events = try YAMLEventParser(text)
        } catch {
            throw YAMLError(error)
        }
    }

    static func parseSingleDocument(_ text: String) throws(YAMLError) -> YAMLNode? {
        var composer = try YAMLComposer(text)
        return try composer.run()
    }

    private mutating func run() throws(YAMLError) -> YAMLNode? {
        var documents = 0
        while true {
            let record: YAMLEventRecord
            do {
                record = try events.next()
            } catch {
                throw explained(YAMLError(error))
            }
            let start = YAMLNode.Mark(record.start)
            switch record.event {
            case .streamStart, .documentEnd:
                continue
            case .documentStart:
                guard documents == 0 else {
                    throw YAMLError(
                        problem: "but found another document", mark: start,
                        context: "expected a single document in the stream", contextMark: YAMLNode.Mark(line: 1, column: 1))
                }
                documents += 1
            case .streamEnd:
                return root
            case .alias(let name):
                guard let node = anchors[name] else { throw YAMLError(problem: "found undefined alias", mark: start) }
                attach(node)
            case .scalar(let value, let style, let anchor, let tag):
                let node = YAMLNode.scalar(YAMLNode.Scalar(string: value, style: YAMLNode.Scalar.Style(style), tag: Self.tag(tag), mark: start))
                if let anchor { anchors[anchor] = node }
                attach(node)
            case .sequenceStart(let anchor, let tag, let isFlow):
                try open(Open(isMapping: false, anchor: anchor, tag: Self.tag(tag), mark: start, isFlow: isFlow))
            case .mappingStart(let anchor, let tag, let isFlow):
                try open(Open(isMapping: true, anchor: anchor, tag: Self.tag(tag), mark: start, isFlow: isFlow))
            case .sequenceEnd, .mappingEnd:
                guard let done = stack.popLast() else { throw YAMLError(problem: "unbalanced collection end", mark: start) }
                let node: YAMLNode
                if done.isMapping {
                    var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                    pairs.reserveCapacity(done.nodes.count / 2)
                    for index in stride(from: 0, to: done.nodes.count - 1, by: 2) {
                        pairs.append((done.nodes[index], done.nodes[index + 1]))
                    }
                    try Self.checkDuplicates(pairs)
                    node = .mapping(YAMLNode.Mapping(pairs: pairs, tag: done.tag, mark: done.mark, isFlow: done.isFlow))
                } else {
                    node = .sequence(YAMLNode.Sequence(nodes: done.nodes, tag: done.tag, mark: done.mark, isFlow: done.isFlow))
                }
                if let anchor = done.anchor { anchors[anchor] = node }
                attach(node)
            }
        }
    }

    /// A tab where a token should start is the usual way to break a YAML file (an editor indenting
    /// with a tab); libyaml only says it "found character that cannot start any token".
    private func explained(_ error: YAMLError) -> YAMLError {
        guard error.problem == "found character that cannot start any token", character(at: error.mark) == "\t" else { return error }
        var explained = error
        explained.problem = "found a tab character where a token should start (indent with spaces: YAML does not allow tabs for indentation)"
        return explained
    }

    /// The character at a mark, lines counted as libyaml counts them (CRLF, CR, LF, NEL, LS, PS).
    private func character(at mark: YAMLNode.Mark) -> Unicode.Scalar? {
        var line = 1
        var column = 1
        var previous: Unicode.Scalar = " "
        for (index, c) in text.unicodeScalars.enumerated() {
            if index == 0 && c == "\u{FEFF}" { continue }
            if c == "\n" && previous == "\r" {
                // The second half of a CRLF: the line was counted at the CR.
                previous = c
                continue
            }
            if line == mark.line && column == mark.column { return c }
            if line > mark.line { return nil }
            if c == "\r" || c == "\n" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            previous = c
        }
        return nil
    }

    private mutating func open(_ collection: Open) throws(YAMLError) {
        guard stack.count < Self.maxDepth else {
            throw YAMLError(problem: "collections nested more than \(Self.maxDepth) levels deep", mark: collection.mark)
        }
        stack.append(collection)
    }

    private mutating func attach(_ node: YAMLNode) {
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].nodes.append(node)
        }
    }

    /// No tag and an empty tag are the same.
    private static func tag(_ tag: String?) -> String? {
        tag?.isEmpty == true ? nil : tag
    }

    // MARK: - Duplicate keys

    /// A key may appear once per mapping; as in Yams, keys are the same when their text and their
    /// resolved tag are (so `1` and `"1"` differ, `a` and `"a"` do not).
    private static func checkDuplicates(_ pairs: [(key: YAMLNode, value: YAMLNode)]) throws(YAMLError) {
        guard pairs.count > 1 else { return }
        var byText: [String: [Int]] = [:]
        for (index, pair) in pairs.enumerated() {
            byText[identity(pair.key), default: []].append(index)
        }
        var duplicates: [(text: String, mark: YAMLNode.Mark)] = []
        for indices in byText.values where indices.count > 1 {
            // Same text: group again by resolved tag, which needs the (slower) type resolution.
            var byTag: [String: [Int]] = [:]
            for index in indices { byTag[resolvedTag(pairs[index].key), default: []].append(index) }
            for group in byTag.values where group.count > 1 {
                let key = pairs[group[0]].key
                let text: String
                if case .scalar(let s) = key { text = s.string } else { text = "<uncovertable>" }
                duplicates.append((text, key.mark))
            }
        }
        guard !duplicates.isEmpty else { return }
        duplicates.sort { ($0.text, $0.mark.line, $0.mark.column) < ($1.text, $1.mark.line, $1.mark.column) }
        throw YAMLError(problem: "duplicated key", mark: duplicates[0].mark, duplicateKeys: duplicates.map(\.text))
    }

    /// The node's content without marks, styles or tags; equal for equal keys.
    private static func identity(_ node: YAMLNode) -> String {
        var out = ""
        var budget = 10_000  // a pathological alias bomb as a key: compare a prefix
        var pending: [YAMLNode] = [node]
        var closers: [(afterCount: Int, text: String)] = []
        // Iterative pre-order walk: a key nested `maxDepth` deep must not recurse either.
        while let next = pending.popLast(), budget > 0 {
            budget -= 1
            switch next {
            case .scalar(let s):
                out += "s\(s.string.utf8.count):" + s.string
            case .sequence(let s):
                out += "[\(s.nodes.count)"
                closers.append((pending.count, "]"))
                pending.append(contentsOf: s.nodes.reversed())
            case .mapping(let m):
                out += "{\(m.pairs.count)"
                closers.append((pending.count, "}"))
                for pair in m.pairs.reversed() {
                    pending.append(pair.value)
                    pending.append(pair.key)
                }
            }
            while let last = closers.last, pending.count <= last.afterCount {
                out += last.text
                closers.removeLast()
            }
        }
        return out
    }

    /// The tag a node resolves to under Yams' default resolver (YAML 1.1 types).
    static func resolvedTag(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let s):
            if let tag = s.tag { return tag }
            guard s.style == .plain else { return YAMLNode.coreTagPrefix + "str" }
            return YAMLNode.coreTagPrefix + YAMLTypeResolution.resolve(s.string)
        case .sequence(let s):
            return s.tag ?? YAMLNode.coreTagPrefix + "seq"
        case .mapping(let m):
            return m.tag ?? YAMLNode.coreTagPrefix + "map"
        }
    }
}

/// The implicit types of plain scalars (YAML 1.1, as Yams' default resolver): only used to decide
/// whether two keys with the same text are the same key, so it runs rarely.
enum YAMLTypeResolution {
    private static let rules: [(name: String, pattern: String)] = [
        ("bool", "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"),
        ("int", "[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"),
        ("float", "[-+]?(?:[0-9][0-9_]*)(?:\\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"),
        ("merge", "<<"),
        ("null", "~|null|Null|NULL|"),
        (
            "timestamp",
            "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?"
        ),
        ("value", "="),
    ]

    static func resolve(_ text: String) -> String {
        for rule in rules {
            guard let regex = try? Regex("^(?:" + rule.pattern + ")$") else { continue }
            if (try? regex.wholeMatch(in: text)) != nil { return rule.name }
        }
        return "str"
    }
}

extension YAMLNode.Mark {
    init(_ mark: YAMLMark) {
        self.init(line: mark.line, column: mark.column)
    }
}

extension YAMLNode.Scalar.Style {
    init(_ style: YAMLScalarStyle) {
        switch style {
        case .plain: self = .plain
        case .singleQuoted: self = .singleQuoted
        case .doubleQuoted: self = .doubleQuoted
        case .literal: self = .literal
        case .folded: self = .folded
        }
    }
}

extension YAMLError {
    /// libyaml's error as it is: its problem, mark and context. A control character is named by
    /// its code point, as the reader error gives only its value.
    init(_ error: YAMLEventError) {
        var problem = error.problem
        if error.kind == .reader, let character = error.character {
            problem += " (U+\(String(character, radix: 16, uppercase: true)))"
        }
        self.init(problem: problem, mark: YAMLNode.Mark(error.mark), context: error.context, contextMark: error.contextMark.map(YAMLNode.Mark.init))
    }
}

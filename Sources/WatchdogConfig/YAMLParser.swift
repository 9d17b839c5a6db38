/// A YAML 1.1 parser for one document, without Foundation (see `YAMLNode` for why we have one).
///
/// It is a port of libyaml's scanner and parser (the C library Yams wraps), reduced to what a
/// configuration reader needs: the scanner turns the text into libyaml's tokens, with the same
/// simple-key and indentation rules, and a recursive descent over the tokens builds the nodes
/// directly instead of emitting events. Porting rather than writing a fresh grammar keeps the edge
/// cases (what ends a plain scalar, how quoted and block scalars fold lines, where an empty value
/// is, which tab is an error) and the error lines the same as before; `YAMLParserTests` checks that
/// against Yams.
///
/// Supported: block and flow mappings and sequences, all five scalar styles with YAML's folding
/// and escapes, block scalar chomping and indentation indicators, comments, `---` and `...`,
/// `%YAML` and `%TAG` directives, tags (kept on the node, otherwise ignored), anchors and aliases
/// (resolved), `?` complex keys. Rejected: a second document, duplicate keys in one mapping,
/// nesting deeper than `maxDepth`, control characters, and everything libyaml rejects.
struct YAMLParser {
    /// Deeper nesting is refused (libyaml stops at 1000); it keeps the recursive descent's stack
    /// use bounded on small thread stacks.
    static let maxDepth = 256

    private var scanner: YAMLScanner
    private var anchors: [String: YAMLNode] = [:]
    private var tagHandles: [String: String] = [:]
    private var depth = 0

    init(_ text: String) {
        scanner = YAMLScanner(text)
    }

    // MARK: - Documents

    mutating func parseSingleDocument() throws(YAMLError) -> YAMLNode? {
        try scanner.checkCharacters()
        var token = try scanner.peek()
        guard token.type == .streamStart else { throw parserError("did not find expected <stream-start>", token.start) }
        scanner.skipToken()
        token = try scanner.peek()
        let root: YAMLNode
        if token.type != .versionDirective, token.type != .tagDirective, token.type != .documentStart, token.type != .streamEnd {
            // An implicit document: no directives, no "---".
            resetTagHandles()
            root = try parseNode(block: true, indentlessSequence: false)
        } else if token.type != .streamEnd {
            try processDirectives()
            token = try scanner.peek()
            guard token.type == .documentStart else { throw parserError("did not find expected <document start>", token.start) }
            scanner.skipToken()
            token = try scanner.peek()
            switch token.type {
            case .versionDirective, .tagDirective, .documentStart, .documentEnd, .streamEnd:
                root = emptyScalar(token.start)
            default:
                root = try parseNode(block: true, indentlessSequence: false)
            }
        } else {
            return nil  // no document at all
        }
        // The document's end: an optional "...", then the end of the text.
        token = try scanner.peek()
        if token.type == .documentEnd { scanner.skipToken() }
        token = try scanner.peek()
        while token.type == .documentEnd {
            scanner.skipToken()
            token = try scanner.peek()
        }
        switch token.type {
        case .streamEnd:
            return root
        case .versionDirective, .tagDirective, .documentStart:
            throw YAMLError(
                problem: "but found another document", mark: token.start.mark,
                context: "expected a single document in the stream", contextMark: YAMLNode.Mark(line: 1, column: 1))
        default:
            throw parserError("did not find expected <document start>", token.start)
        }
    }

    private mutating func resetTagHandles() {
        tagHandles = ["!": "!", "!!": YAMLNode.coreTagPrefix]
    }

    private mutating func processDirectives() throws(YAMLError) {
        resetTagHandles()
        var sawVersion = false
        var declared: Set<String> = []
        while true {
            let token = try scanner.peek()
            if token.type == .versionDirective {
                if sawVersion { throw parserError("found duplicate %YAML directive", token.start) }
                if token.major != 1 || (token.minor != 1 && token.minor != 2) {
                    throw parserError("found incompatible YAML document", token.start)
                }
                sawVersion = true
            } else if token.type == .tagDirective {
                if declared.contains(token.handle) { throw parserError("found duplicate %TAG directive", token.start) }
                declared.insert(token.handle)
                tagHandles[token.handle] = token.value
            } else {
                return
            }
            scanner.skipToken()
        }
    }

    // MARK: - Nodes

    private mutating func parseNode(block: Bool, indentlessSequence: Bool) throws(YAMLError) -> YAMLNode {
        var token = try scanner.peek()
        if token.type == .alias {
            scanner.skipToken()
            guard let node = anchors[token.value] else {
                throw YAMLError(problem: "found undefined alias", mark: token.start.mark)
            }
            return node
        }
        let start = token.start
        var anchor: String?
        var tagHandle: String?
        var tagSuffix = ""
        var tagMark = token.start
        if token.type == .anchor {
            anchor = token.value
            scanner.skipToken()
            token = try scanner.peek()
            if token.type == .tag {
                tagHandle = token.handle
                tagSuffix = token.value
                tagMark = token.start
                scanner.skipToken()
                token = try scanner.peek()
            }
        } else if token.type == .tag {
            tagHandle = token.handle
            tagSuffix = token.value
            tagMark = token.start
            scanner.skipToken()
            token = try scanner.peek()
            if token.type == .anchor {
                anchor = token.value
                scanner.skipToken()
                token = try scanner.peek()
            }
        }
        var tag: String?
        if let tagHandle {
            if tagHandle.isEmpty {
                tag = tagSuffix
            } else if let prefix = tagHandles[tagHandle] {
                tag = prefix + tagSuffix
            } else {
                throw YAMLError(
                    problem: "found undefined tag handle", mark: tagMark.mark,
                    context: "while parsing a node", contextMark: start.mark)
            }
        }
        if tag?.isEmpty == true { tag = nil }

        let node: YAMLNode
        if indentlessSequence && token.type == .blockEntry {
            node = try withDepth(start, token.start) { (p) throws(YAMLError) in try p.parseIndentlessSequence(start: start, tag: tag) }
        } else {
            switch token.type {
            case .scalar:
                scanner.skipToken()
                node = .scalar(YAMLNode.Scalar(string: token.value, style: token.style, tag: tag, mark: start.mark))
            case .flowSequenceStart:
                node = try withDepth(start, token.start) { (p) throws(YAMLError) in try p.parseFlowSequence(start: start, tag: tag) }
            case .flowMappingStart:
                node = try withDepth(start, token.start) { (p) throws(YAMLError) in try p.parseFlowMapping(start: start, tag: tag) }
            case .blockSequenceStart where block:
                node = try withDepth(start, token.start) { (p) throws(YAMLError) in try p.parseBlockSequence(start: start, tag: tag) }
            case .blockMappingStart where block:
                node = try withDepth(start, token.start) { (p) throws(YAMLError) in try p.parseBlockMapping(start: start, tag: tag) }
            default:
                if anchor != nil || tag != nil {
                    // Properties and no content: an empty scalar.
                    node = .scalar(YAMLNode.Scalar(string: "", style: .plain, tag: tag, mark: start.mark))
                } else {
                    throw YAMLError(
                        problem: "did not find expected node content", mark: token.start.mark,
                        context: block ? "while parsing a block node" : "while parsing a flow node", contextMark: start.mark)
                }
            }
        }
        if let anchor { anchors[anchor] = node }
        return node
    }

    private mutating func withDepth(
        _ start: YAMLScanner.Position, _ here: YAMLScanner.Position,
        _ body: (inout YAMLParser) throws(YAMLError) -> YAMLNode
    ) throws(YAMLError) -> YAMLNode {
        guard depth < Self.maxDepth else {
            throw YAMLError(
                problem: "collections nested more than \(Self.maxDepth) levels deep", mark: here.mark,
                context: "while parsing", contextMark: start.mark)
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    private func emptyScalar(_ position: YAMLScanner.Position) -> YAMLNode {
        .scalar(YAMLNode.Scalar(string: "", style: .plain, tag: nil, mark: position.mark))
    }

    private mutating func parseBlockSequence(start: YAMLScanner.Position, tag: String?) throws(YAMLError) -> YAMLNode {
        let contextMark = try scanner.peek().start
        scanner.skipToken()  // BLOCK-SEQUENCE-START
        var nodes: [YAMLNode] = []
        while true {
            let token = try scanner.peek()
            if token.type == .blockEntry {
                scanner.skipToken()
                let next = try scanner.peek()
                if next.type != .blockEntry && next.type != .blockEnd {
                    nodes.append(try parseNode(block: true, indentlessSequence: false))
                } else {
                    nodes.append(emptyScalar(token.end))
                }
            } else if token.type == .blockEnd {
                scanner.skipToken()
                return .sequence(YAMLNode.Sequence(nodes: nodes, tag: tag, mark: start.mark, isFlow: false))
            } else {
                throw YAMLError(
                    problem: "did not find expected '-' indicator", mark: token.start.mark,
                    context: "while parsing a block collection", contextMark: contextMark.mark)
            }
        }
    }

    /// A sequence as a mapping value at the key's own indentation (`key:\n- a\n- b`).
    private mutating func parseIndentlessSequence(start: YAMLScanner.Position, tag: String?) throws(YAMLError) -> YAMLNode {
        var nodes: [YAMLNode] = []
        while true {
            let token = try scanner.peek()
            guard token.type == .blockEntry else {
                return .sequence(YAMLNode.Sequence(nodes: nodes, tag: tag, mark: start.mark, isFlow: false))
            }
            scanner.skipToken()
            let next = try scanner.peek()
            if next.type != .blockEntry && next.type != .key && next.type != .value && next.type != .blockEnd {
                nodes.append(try parseNode(block: true, indentlessSequence: false))
            } else {
                nodes.append(emptyScalar(token.end))
            }
        }
    }

    private mutating func parseBlockMapping(start: YAMLScanner.Position, tag: String?) throws(YAMLError) -> YAMLNode {
        let contextMark = try scanner.peek().start
        scanner.skipToken()  // BLOCK-MAPPING-START
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        while true {
            var token = try scanner.peek()
            if token.type == .key {
                scanner.skipToken()
                let next = try scanner.peek()
                let key: YAMLNode
                if next.type != .key && next.type != .value && next.type != .blockEnd {
                    key = try parseNode(block: true, indentlessSequence: true)
                } else {
                    key = emptyScalar(token.end)
                }
                token = try scanner.peek()
                let value: YAMLNode
                if token.type == .value {
                    scanner.skipToken()
                    let next = try scanner.peek()
                    if next.type != .key && next.type != .value && next.type != .blockEnd {
                        value = try parseNode(block: true, indentlessSequence: true)
                    } else {
                        value = emptyScalar(token.end)
                    }
                } else {
                    value = emptyScalar(token.start)
                }
                pairs.append((key, value))
            } else if token.type == .blockEnd {
                scanner.skipToken()
                try checkDuplicates(pairs)
                return .mapping(YAMLNode.Mapping(pairs: pairs, tag: tag, mark: start.mark, isFlow: false))
            } else {
                throw YAMLError(
                    problem: "did not find expected key", mark: token.start.mark,
                    context: "while parsing a block mapping", contextMark: contextMark.mark)
            }
        }
    }

    private mutating func parseFlowSequence(start: YAMLScanner.Position, tag: String?) throws(YAMLError) -> YAMLNode {
        let contextMark = try scanner.peek().start
        scanner.skipToken()  // [
        var nodes: [YAMLNode] = []
        var first = true
        while true {
            var token = try scanner.peek()
            if token.type != .flowSequenceEnd {
                if !first {
                    guard token.type == .flowEntry else {
                        throw YAMLError(
                            problem: "did not find expected ',' or ']'", mark: token.start.mark,
                            context: "while parsing a flow sequence", contextMark: contextMark.mark)
                    }
                    scanner.skipToken()
                    token = try scanner.peek()
                }
                first = false
                if token.type == .key {
                    // A single-pair mapping: [a: 1, b].
                    nodes.append(try parseFlowSequencePair(keyToken: token))
                    continue
                } else if token.type != .flowSequenceEnd {
                    nodes.append(try parseNode(block: false, indentlessSequence: false))
                    continue
                }
            }
            scanner.skipToken()  // ]
            return .sequence(YAMLNode.Sequence(nodes: nodes, tag: tag, mark: start.mark, isFlow: true))
        }
    }

    private mutating func parseFlowSequencePair(keyToken: YAMLScanner.Token) throws(YAMLError) -> YAMLNode {
        scanner.skipToken()  // KEY
        var token = try scanner.peek()
        let key: YAMLNode
        if token.type != .value && token.type != .flowEntry && token.type != .flowSequenceEnd {
            key = try parseNode(block: false, indentlessSequence: false)
        } else if token.type == .flowSequenceEnd {
            key = emptyScalar(token.start)
        } else {
            scanner.skipToken()  // as libyaml: the ':' or ',' after an empty key is consumed here
            key = emptyScalar(token.end)
        }
        token = try scanner.peek()
        var value: YAMLNode?
        if token.type == .value {
            scanner.skipToken()
            token = try scanner.peek()
            if token.type != .flowEntry && token.type != .flowSequenceEnd {
                value = try parseNode(block: false, indentlessSequence: false)
            }
        }
        let pairs = [(key: key, value: value ?? emptyScalar(token.start))]
        return .mapping(YAMLNode.Mapping(pairs: pairs, tag: nil, mark: keyToken.start.mark, isFlow: true))
    }

    private mutating func parseFlowMapping(start: YAMLScanner.Position, tag: String?) throws(YAMLError) -> YAMLNode {
        let contextMark = try scanner.peek().start
        scanner.skipToken()  // {
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var first = true
        while true {
            var token = try scanner.peek()
            if token.type != .flowMappingEnd {
                if !first {
                    guard token.type == .flowEntry else {
                        throw YAMLError(
                            problem: "did not find expected ',' or '}'", mark: token.start.mark,
                            context: "while parsing a flow mapping", contextMark: contextMark.mark)
                    }
                    scanner.skipToken()
                    token = try scanner.peek()
                }
                first = false
                if token.type == .key {
                    scanner.skipToken()
                    let next = try scanner.peek()
                    let key: YAMLNode
                    if next.type != .value && next.type != .flowEntry && next.type != .flowMappingEnd {
                        key = try parseNode(block: false, indentlessSequence: false)
                    } else {
                        key = emptyScalar(next.start)
                    }
                    pairs.append((key, try parseFlowMappingValue()))
                    continue
                } else if token.type != .flowMappingEnd {
                    // A key without ':' ({a, b}): its value is empty.
                    let key = try parseNode(block: false, indentlessSequence: false)
                    pairs.append((key, emptyScalar(try scanner.peek().start)))
                    continue
                }
            }
            scanner.skipToken()  // }
            try checkDuplicates(pairs)
            return .mapping(YAMLNode.Mapping(pairs: pairs, tag: tag, mark: start.mark, isFlow: true))
        }
    }

    private mutating func parseFlowMappingValue() throws(YAMLError) -> YAMLNode {
        var token = try scanner.peek()
        if token.type == .value {
            scanner.skipToken()
            token = try scanner.peek()
            if token.type != .flowEntry && token.type != .flowMappingEnd {
                return try parseNode(block: false, indentlessSequence: false)
            }
        }
        return emptyScalar(token.start)
    }

    private func parserError(_ problem: String, _ position: YAMLScanner.Position) -> YAMLError {
        YAMLError(problem: problem, mark: position.mark)
    }

    // MARK: - Duplicate keys

    /// A key may appear once per mapping; as in Yams, keys are the same when their text and their
    /// resolved tag are (so `1` and `"1"` differ, `a` and `"a"` do not).
    private func checkDuplicates(_ pairs: [(key: YAMLNode, value: YAMLNode)]) throws(YAMLError) {
        guard pairs.count > 1 else { return }
        var byText: [String: [Int]] = [:]
        for (index, pair) in pairs.enumerated() {
            byText[Self.identity(pair.key), default: []].append(index)
        }
        var duplicates: [(text: String, mark: YAMLNode.Mark)] = []
        for indices in byText.values where indices.count > 1 {
            // Same text: group again by resolved tag, which needs the (slower) type resolution.
            var byTag: [String: [Int]] = [:]
            for index in indices { byTag[Self.resolvedTag(pairs[index].key), default: []].append(index) }
            for group in byTag.values where group.count > 1 {
                let key = pairs[group[0]].key
                let text: String
                if case .scalar(let s) = key { text = s.string } else { text = "<uncovertable>" }
                duplicates.append((text, key.mark))
            }
        }
        guard !duplicates.isEmpty else { return }
        duplicates.sort { ($0.text, $0.mark.line, $0.mark.column) < ($1.text, $1.mark.line, $1.mark.column) }
        throw YAMLError(
            problem: "duplicated key", mark: duplicates[0].mark,
            duplicateKeys: duplicates.map(\.text))
    }

    /// The node's content without marks, styles or tags; equal for equal keys.
    private static func identity(_ node: YAMLNode) -> String {
        var out = ""
        func walk(_ node: YAMLNode, _ budget: inout Int) {
            budget -= 1
            guard budget > 0 else { return }  // a pathological alias bomb as a key: compare a prefix
            switch node {
            case .scalar(let s):
                out += "s\(s.string.utf8.count):" + s.string
            case .sequence(let s):
                out += "[\(s.nodes.count)"
                for n in s.nodes { walk(n, &budget) }
                out += "]"
            case .mapping(let m):
                out += "{\(m.pairs.count)"
                for p in m.pairs { walk(p.key, &budget); walk(p.value, &budget) }
                out += "}"
            }
        }
        var budget = 10_000
        walk(node, &budget)
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

// MARK: - Scanner

/// libyaml's scanner: text → tokens. Simple keys (`key:` without `?`) are found by remembering
/// where a key could have started and inserting KEY (and BLOCK-MAPPING-START) tokens there once
/// the `:` turns up; indentation becomes BLOCK-*-START / BLOCK-END tokens.
struct YAMLScanner {
    enum TokenType: Sendable {
        case streamStart, streamEnd, versionDirective, tagDirective, documentStart, documentEnd
        case blockSequenceStart, blockMappingStart, blockEnd
        case flowSequenceStart, flowSequenceEnd, flowMappingStart, flowMappingEnd
        case blockEntry, flowEntry, key, value, alias, anchor, tag, scalar
    }

    /// libyaml's mark: all three count from 0; `index` counts Unicode scalars.
    struct Position: Sendable {
        var index: Int
        var line: Int
        var column: Int
        var mark: YAMLNode.Mark { YAMLNode.Mark(line: line + 1, column: column + 1) }
    }

    struct Token: Sendable {
        var type: TokenType
        var start: Position
        var end: Position
        /// Scalar text, anchor or alias name, tag suffix, %TAG prefix.
        var value = ""
        /// Tag handle (`!!`, `!`, `""` for a verbatim tag), %TAG handle.
        var handle = ""
        var style = YAMLNode.Scalar.Style.plain
        var major = 0
        var minor = 0
    }

    private struct SimpleKey {
        var possible: Bool
        var required: Bool
        var tokenNumber: Int
        var mark: Position
    }

    private let text: [Unicode.Scalar]
    private var position = Position(index: 0, line: 0, column: 0)
    private var tokens: [Token] = []
    private var head = 0
    private var tokensParsed = 0
    private var tokenAvailable = false
    private var streamStartProduced = false
    private var streamEndFetched = false
    private var indent = -1
    private var indents: [Int] = []
    private var simpleKeyAllowed = false
    private var simpleKeys: [SimpleKey] = []
    private var flowLevel = 0

    init(_ text: String) {
        self.text = Array(text.unicodeScalars)
    }

    // MARK: Characters

    private func at(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = position.index + offset
        return i < text.count ? text[i] : nil
    }

    private func check(_ c: Unicode.Scalar, _ offset: Int = 0) -> Bool { at(offset) == c }
    private func isZ(_ offset: Int = 0) -> Bool { at(offset) == nil }
    private func isBlank(_ offset: Int = 0) -> Bool { let c = at(offset); return c == " " || c == "\t" }
    private func isTab(_ offset: Int = 0) -> Bool { at(offset) == "\t" }
    private func isSpace(_ offset: Int = 0) -> Bool { at(offset) == " " }

    private func isBreak(_ offset: Int = 0) -> Bool {
        guard let c = at(offset) else { return false }
        return c == "\r" || c == "\n" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
    }

    private func isBreakZ(_ offset: Int = 0) -> Bool { isZ(offset) || isBreak(offset) }
    private func isBlankZ(_ offset: Int = 0) -> Bool { isBlank(offset) || isBreakZ(offset) }

    /// libyaml's IS_ALPHA: what anchors, directive names and tag handles are made of.
    private func isAlpha(_ offset: Int = 0) -> Bool {
        guard let c = at(offset) else { return false }
        switch c {
        case "0"..."9", "A"..."Z", "a"..."z", "_", "-": return true
        default: return false
        }
    }

    private func isDigit(_ offset: Int = 0) -> Bool {
        guard let c = at(offset) else { return false }
        return ("0"..."9").contains(c)
    }

    private func hexValue(_ offset: Int) -> UInt32? {
        guard let c = at(offset) else { return nil }
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }

    private func isDocumentIndicator() -> Bool {
        guard position.column == 0, isBlankZ(3) else { return false }
        return (check("-") && check("-", 1) && check("-", 2)) || (check(".") && check(".", 1) && check(".", 2))
    }

    private mutating func skip() {
        position.index += 1
        position.column += 1
    }

    private mutating func skipLine() {
        if check("\r") && check("\n", 1) {
            position.index += 2
        } else if isBreak() {
            position.index += 1
        } else {
            return
        }
        position.line += 1
        position.column = 0
    }

    private mutating func read(into string: inout String) {
        if let c = at() { string.unicodeScalars.append(c) }
        skip()
    }

    /// Consumes a line break, adding it to `string` normalised to "\n" (LS and PS are kept).
    private mutating func readLine(into string: inout String) {
        guard let c = at() else { return }
        if c == "\r" && check("\n", 1) {
            string += "\n"
            position.index += 2
        } else if c == "\r" || c == "\n" || c == "\u{85}" {
            string += "\n"
            position.index += 1
        } else if c == "\u{2028}" || c == "\u{2029}" {
            string.unicodeScalars.append(c)
            position.index += 1
        } else {
            return
        }
        position.line += 1
        position.column = 0
    }

    private func scannerError(_ context: String?, _ contextMark: Position, _ problem: String) -> YAMLError {
        YAMLError(problem: problem, mark: position.mark, context: context, contextMark: context == nil ? nil : contextMark.mark)
    }

    /// libyaml's reader refuses control characters (other than tab and line breaks) anywhere.
    func checkCharacters() throws(YAMLError) {
        var line = 0
        var column = 0
        var previous: Unicode.Scalar = " "
        for c in text {
            let v = c.value
            let printable =
                v == 0x09 || v == 0x0A || v == 0x0D || (0x20...0x7E).contains(v) || v == 0x85
                || (0xA0...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
            if !printable {
                throw YAMLError(
                    problem: "control characters are not allowed (U+\(String(v, radix: 16, uppercase: true)))",
                    mark: YAMLNode.Mark(line: line + 1, column: column + 1))
            }
            if c == "\n" && previous == "\r" {
                // The second half of a CRLF: the line was already counted.
            } else if c == "\r" || c == "\n" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}" {
                line += 1
                column = 0
            } else {
                column += 1
            }
            previous = c
        }
    }

    // MARK: Token queue

    mutating func peek() throws(YAMLError) -> Token {
        if !tokenAvailable { try fetchMoreTokens() }
        return tokens[head]
    }

    mutating func skipToken() {
        tokenAvailable = false
        tokensParsed += 1
        head += 1
        if head > 256 && head * 2 > tokens.count {
            tokens.removeFirst(head)
            head = 0
        }
    }

    private mutating func fetchMoreTokens() throws(YAMLError) {
        while true {
            var needMore = false
            if head == tokens.count {
                needMore = true
            } else {
                try staleSimpleKeys()
                for key in simpleKeys where key.possible && key.tokenNumber == tokensParsed {
                    needMore = true
                    break
                }
            }
            if !needMore { break }
            try fetchNextToken()
        }
        tokenAvailable = true
    }

    private mutating func enqueue(_ type: TokenType, _ start: Position, _ end: Position) {
        tokens.append(Token(type: type, start: start, end: end))
    }

    private mutating func fetchNextToken() throws(YAMLError) {
        if !streamStartProduced {
            indent = -1
            simpleKeys.append(SimpleKey(possible: false, required: false, tokenNumber: 0, mark: position))
            simpleKeyAllowed = true
            streamStartProduced = true
            enqueue(.streamStart, position, position)
            return
        }
        if streamEndFetched {
            enqueue(.streamEnd, position, position)
            return
        }
        try scanToNextToken()
        try staleSimpleKeys()
        unrollIndent(position.column)

        guard let c = at() else { return try fetchStreamEnd() }
        if position.column == 0 && c == "%" { return try fetchDirective() }
        if position.column == 0 && c == "-" && check("-", 1) && check("-", 2) && isBlankZ(3) {
            return try fetchDocumentIndicator(.documentStart)
        }
        if position.column == 0 && c == "." && check(".", 1) && check(".", 2) && isBlankZ(3) {
            return try fetchDocumentIndicator(.documentEnd)
        }
        switch c {
        case "[": return try fetchFlowCollectionStart(.flowSequenceStart)
        case "{": return try fetchFlowCollectionStart(.flowMappingStart)
        case "]": return try fetchFlowCollectionEnd(.flowSequenceEnd)
        case "}": return try fetchFlowCollectionEnd(.flowMappingEnd)
        case ",": return try fetchFlowEntry()
        default: break
        }
        if c == "-" && isBlankZ(1) { return try fetchBlockEntry() }
        if c == "?" && (flowLevel > 0 || isBlankZ(1)) { return try fetchKey() }
        if c == ":" && (flowLevel > 0 || isBlankZ(1)) { return try fetchValue() }
        if c == "*" { return try fetchAnchor(.alias) }
        if c == "&" { return try fetchAnchor(.anchor) }
        if c == "!" { return try fetchTag() }
        if c == "|" && flowLevel == 0 { return try fetchBlockScalar(literal: true) }
        if c == ">" && flowLevel == 0 { return try fetchBlockScalar(literal: false) }
        if c == "'" { return try fetchFlowScalar(single: true) }
        if c == "\"" { return try fetchFlowScalar(single: false) }

        let indicators: Set<Unicode.Scalar> = ["-", "?", ":", ",", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`"]
        if !(isBlankZ() || indicators.contains(c)) || (c == "-" && !isBlank(1))
            || (flowLevel == 0 && (c == "?" || c == ":") && !isBlankZ(1))
        {
            return try fetchPlainScalar()
        }
        if c == "\t" {
            throw scannerError(
                "while scanning for the next token", position,
                "found a tab character where a token should start (indent with spaces: YAML does not allow tabs for indentation)")
        }
        throw scannerError("while scanning for the next token", position, "found character that cannot start any token")
    }

    // MARK: Simple keys and indentation

    private mutating func staleSimpleKeys() throws(YAMLError) {
        for k in simpleKeys.indices {
            let key = simpleKeys[k]
            if key.possible && (key.mark.line < position.line || key.mark.index + 1024 < position.index) {
                if key.required {
                    throw scannerError("while scanning a simple key", key.mark, "could not find expected ':'")
                }
                simpleKeys[k].possible = false
            }
        }
    }

    private mutating func saveSimpleKey() throws(YAMLError) {
        let required = flowLevel == 0 && indent == position.column
        if simpleKeyAllowed {
            let key = SimpleKey(possible: true, required: required, tokenNumber: tokensParsed + (tokens.count - head), mark: position)
            try removeSimpleKey()
            simpleKeys[simpleKeys.count - 1] = key
        }
    }

    private mutating func removeSimpleKey() throws(YAMLError) {
        let key = simpleKeys[simpleKeys.count - 1]
        if key.possible && key.required {
            throw scannerError("while scanning a simple key", key.mark, "could not find expected ':'")
        }
        simpleKeys[simpleKeys.count - 1].possible = false
    }

    private mutating func increaseFlowLevel() {
        simpleKeys.append(SimpleKey(possible: false, required: false, tokenNumber: 0, mark: position))
        flowLevel += 1
    }

    private mutating func decreaseFlowLevel() {
        if flowLevel > 0 {
            flowLevel -= 1
            simpleKeys.removeLast()
        }
    }

    /// `number`: the token number to insert before, or nil to append.
    private mutating func rollIndent(_ column: Int, number: Int?, _ type: TokenType, _ mark: Position) {
        guard flowLevel == 0, indent < column else { return }
        indents.append(indent)
        indent = column
        let token = Token(type: type, start: mark, end: mark)
        if let number {
            tokens.insert(token, at: head + number - tokensParsed)
        } else {
            tokens.append(token)
        }
    }

    private mutating func unrollIndent(_ column: Int) {
        guard flowLevel == 0 else { return }
        while indent > column {
            enqueue(.blockEnd, position, position)
            indent = indents.removeLast()
        }
    }

    // MARK: Fetchers

    private mutating func fetchStreamEnd() throws(YAMLError) {
        if position.column != 0 {
            position.column = 0
            position.line += 1
        }
        unrollIndent(-1)
        try removeSimpleKey()
        simpleKeyAllowed = false
        streamEndFetched = true
        enqueue(.streamEnd, position, position)
    }

    private mutating func fetchDirective() throws(YAMLError) {
        unrollIndent(-1)
        try removeSimpleKey()
        simpleKeyAllowed = false
        tokens.append(try scanDirective())
    }

    private mutating func fetchDocumentIndicator(_ type: TokenType) throws(YAMLError) {
        unrollIndent(-1)
        try removeSimpleKey()
        simpleKeyAllowed = false
        let start = position
        skip(); skip(); skip()
        enqueue(type, start, position)
    }

    private mutating func fetchFlowCollectionStart(_ type: TokenType) throws(YAMLError) {
        try saveSimpleKey()
        increaseFlowLevel()
        simpleKeyAllowed = true
        let start = position
        skip()
        enqueue(type, start, position)
    }

    private mutating func fetchFlowCollectionEnd(_ type: TokenType) throws(YAMLError) {
        try removeSimpleKey()
        decreaseFlowLevel()
        simpleKeyAllowed = false
        let start = position
        skip()
        enqueue(type, start, position)
    }

    private mutating func fetchFlowEntry() throws(YAMLError) {
        try removeSimpleKey()
        simpleKeyAllowed = true
        let start = position
        skip()
        enqueue(.flowEntry, start, position)
    }

    private mutating func fetchBlockEntry() throws(YAMLError) {
        if flowLevel == 0 {
            guard simpleKeyAllowed else {
                throw scannerError(nil, position, "block sequence entries are not allowed in this context")
            }
            rollIndent(position.column, number: nil, .blockSequenceStart, position)
        }
        try removeSimpleKey()
        simpleKeyAllowed = true
        let start = position
        skip()
        enqueue(.blockEntry, start, position)
    }

    private mutating func fetchKey() throws(YAMLError) {
        if flowLevel == 0 {
            guard simpleKeyAllowed else {
                throw scannerError(nil, position, "mapping keys are not allowed in this context")
            }
            rollIndent(position.column, number: nil, .blockMappingStart, position)
        }
        try removeSimpleKey()
        simpleKeyAllowed = flowLevel == 0
        let start = position
        skip()
        enqueue(.key, start, position)
    }

    private mutating func fetchValue() throws(YAMLError) {
        let key = simpleKeys[simpleKeys.count - 1]
        if key.possible {
            tokens.insert(Token(type: .key, start: key.mark, end: key.mark), at: head + key.tokenNumber - tokensParsed)
            rollIndent(key.mark.column, number: key.tokenNumber, .blockMappingStart, key.mark)
            simpleKeys[simpleKeys.count - 1].possible = false
            simpleKeyAllowed = false
        } else {
            if flowLevel == 0 {
                guard simpleKeyAllowed else {
                    throw scannerError(nil, position, "mapping values are not allowed in this context")
                }
                rollIndent(position.column, number: nil, .blockMappingStart, position)
            }
            simpleKeyAllowed = flowLevel == 0
        }
        let start = position
        skip()
        enqueue(.value, start, position)
    }

    private mutating func fetchAnchor(_ type: TokenType) throws(YAMLError) {
        try saveSimpleKey()
        simpleKeyAllowed = false
        let start = position
        skip()
        var name = ""
        while isAlpha() { read(into: &name) }
        let end = position
        let terminators: Set<Unicode.Scalar> = ["?", ":", ",", "]", "}", "%", "@", "`"]
        if name.isEmpty || !(isBlankZ() || terminators.contains(at()!)) {
            throw scannerError(
                type == .anchor ? "while scanning an anchor" : "while scanning an alias", start,
                "did not find expected alphabetic or numeric character")
        }
        var token = Token(type: type, start: start, end: end)
        token.value = name
        tokens.append(token)
    }

    private mutating func fetchTag() throws(YAMLError) {
        try saveSimpleKey()
        simpleKeyAllowed = false
        let start = position
        var handle: String
        var suffix: String
        if check("<", 1) {
            handle = ""
            skip(); skip()
            suffix = try scanTagURI(uriChar: true, directive: false, head: "", start: start)
            guard check(">") else {
                throw scannerError("while scanning a tag", start, "did not find the expected '>'")
            }
            skip()
        } else {
            handle = try scanTagHandle(directive: false, start: start)
            if handle.unicodeScalars.count > 1 && handle.hasPrefix("!") && handle.hasSuffix("!") {
                suffix = try scanTagURI(uriChar: false, directive: false, head: "", start: start)
            } else {
                suffix = try scanTagURI(uriChar: false, directive: false, head: handle, start: start)
                handle = "!"
                if suffix.isEmpty {
                    // A lone "!": the non-specific tag.
                    handle = ""
                    suffix = "!"
                }
            }
        }
        if !isBlankZ() && (flowLevel == 0 || !check(",")) {
            throw scannerError("while scanning a tag", start, "did not find expected whitespace or line break")
        }
        var token = Token(type: .tag, start: start, end: position)
        token.handle = handle
        token.value = suffix
        tokens.append(token)
    }

    private mutating func fetchBlockScalar(literal: Bool) throws(YAMLError) {
        try removeSimpleKey()
        simpleKeyAllowed = true
        tokens.append(try scanBlockScalar(literal: literal))
    }

    private mutating func fetchFlowScalar(single: Bool) throws(YAMLError) {
        try saveSimpleKey()
        simpleKeyAllowed = false
        tokens.append(try scanFlowScalar(single: single))
    }

    private mutating func fetchPlainScalar() throws(YAMLError) {
        try saveSimpleKey()
        simpleKeyAllowed = false
        tokens.append(try scanPlainScalar())
    }

    private mutating func scanToNextToken() throws(YAMLError) {
        while true {
            if position.column == 0 && check("\u{FEFF}") { skip() }
            while check(" ") || ((flowLevel > 0 || !simpleKeyAllowed) && check("\t")) { skip() }
            if check("#") {
                while !isBreakZ() { skip() }
            }
            if isBreak() {
                skipLine()
                if flowLevel == 0 { simpleKeyAllowed = true }
            } else {
                break
            }
        }
    }

    // MARK: Directives and tags

    private mutating func scanDirective() throws(YAMLError) -> Token {
        let start = position
        skip()
        var name = ""
        while isAlpha() { read(into: &name) }
        if name.isEmpty {
            throw scannerError("while scanning a directive", start, "could not find expected directive name")
        }
        if !isBlankZ() {
            throw scannerError("while scanning a directive", start, "found unexpected non-alphabetical character")
        }
        var token: Token
        if name == "YAML" {
            while isBlank() { skip() }
            let major = try scanVersionNumber(start)
            guard check(".") else {
                throw scannerError("while scanning a %YAML directive", start, "did not find expected digit or '.' character")
            }
            skip()
            let minor = try scanVersionNumber(start)
            token = Token(type: .versionDirective, start: start, end: position)
            token.major = major
            token.minor = minor
        } else if name == "TAG" {
            while isBlank() { skip() }
            let handle = try scanTagHandle(directive: true, start: start)
            guard isBlank() else {
                throw scannerError("while scanning a %TAG directive", start, "did not find expected whitespace")
            }
            while isBlank() { skip() }
            let prefix = try scanTagURI(uriChar: true, directive: true, head: "", start: start)
            guard isBlankZ() else {
                throw scannerError("while scanning a %TAG directive", start, "did not find expected whitespace or line break")
            }
            token = Token(type: .tagDirective, start: start, end: position)
            token.handle = handle
            token.value = prefix
        } else {
            throw scannerError("while scanning a directive", start, "found unknown directive name")
        }
        while isBlank() { skip() }
        if check("#") {
            while !isBreakZ() { skip() }
        }
        guard isBreakZ() else {
            throw scannerError("while scanning a directive", start, "did not find expected comment or line break")
        }
        skipLine()
        return token
    }

    private mutating func scanVersionNumber(_ start: Position) throws(YAMLError) -> Int {
        var value = 0
        var length = 0
        while let c = at(), isDigit() {
            length += 1
            if length > 9 {
                throw scannerError("while scanning a %YAML directive", start, "found extremely long version number")
            }
            value = value * 10 + Int(c.value - 48)
            skip()
        }
        if length == 0 {
            throw scannerError("while scanning a %YAML directive", start, "did not find expected version number")
        }
        return value
    }

    private mutating func scanTagHandle(directive: Bool, start: Position) throws(YAMLError) -> String {
        guard check("!") else {
            throw scannerError(directive ? "while scanning a tag directive" : "while scanning a tag", start, "did not find expected '!'")
        }
        var handle = ""
        read(into: &handle)
        while isAlpha() { read(into: &handle) }
        if check("!") {
            read(into: &handle)
        } else if directive && handle != "!" {
            throw scannerError("while parsing a tag directive", start, "did not find expected '!'")
        }
        return handle
    }

    private mutating func scanTagURI(uriChar: Bool, directive: Bool, head: String, start: Position) throws(YAMLError) -> String {
        var uri = String(head.unicodeScalars.dropFirst())
        var length = head.unicodeScalars.count
        let allowed: Set<Unicode.Scalar> = [";", "/", "?", ":", "@", "&", "=", "+", "$", ".", "%", "!", "~", "*", "'", "(", ")"]
        let flowIndicators: Set<Unicode.Scalar> = [",", "[", "]"]
        while let c = at(), isAlpha() || allowed.contains(c) || (uriChar && flowIndicators.contains(c)) {
            if c == "%" {
                uri += try scanURIEscapes(directive: directive, start: start)
            } else {
                read(into: &uri)
            }
            length += 1
        }
        if length == 0 {
            throw scannerError(directive ? "while parsing a %TAG directive" : "while parsing a tag", start, "did not find expected tag URI")
        }
        return uri
    }

    private mutating func scanURIEscapes(directive: Bool, start: Position) throws(YAMLError) -> String {
        let context = directive ? "while parsing a %TAG directive" : "while parsing a tag"
        var bytes: [UInt8] = []
        var width = 0
        repeat {
            guard check("%"), let high = hexValue(1), let low = hexValue(2) else {
                throw scannerError(context, start, "did not find URI escaped octet")
            }
            let octet = UInt8(high << 4 + low)
            if width == 0 {
                width = octet & 0x80 == 0 ? 1 : octet & 0xE0 == 0xC0 ? 2 : octet & 0xF0 == 0xE0 ? 3 : octet & 0xF8 == 0xF0 ? 4 : 0
                if width == 0 { throw scannerError(context, start, "found an incorrect leading UTF-8 octet") }
            } else if octet & 0xC0 != 0x80 {
                throw scannerError(context, start, "found an incorrect trailing UTF-8 octet")
            }
            bytes.append(octet)
            skip(); skip(); skip()
        } while bytes.count < width
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw scannerError(context, start, "found an incorrect leading UTF-8 octet")
        }
        return decoded
    }

    // MARK: Scalars

    private mutating func scanBlockScalar(literal: Bool) throws(YAMLError) -> Token {
        let start = position
        skip()  // | or >
        var chomping = 0
        var increment = 0
        if check("+") || check("-") {
            chomping = check("+") ? 1 : -1
            skip()
            if let c = at(), isDigit() {
                if c == "0" {
                    throw scannerError("while scanning a block scalar", start, "found an indentation indicator equal to 0")
                }
                increment = Int(c.value - 48)
                skip()
            }
        } else if let c = at(), isDigit() {
            if c == "0" {
                throw scannerError("while scanning a block scalar", start, "found an indentation indicator equal to 0")
            }
            increment = Int(c.value - 48)
            skip()
            if check("+") || check("-") {
                chomping = check("+") ? 1 : -1
                skip()
            }
        }
        while isBlank() { skip() }
        if check("#") {
            while !isBreakZ() { skip() }
        }
        guard isBreakZ() else {
            throw scannerError("while scanning a block scalar", start, "did not find expected comment or line break")
        }
        skipLine()
        var end = position
        var blockIndent = 0
        if increment > 0 {
            blockIndent = indent >= 0 ? indent + increment : increment
        }
        var string = ""
        var leadingBreak = ""
        var trailingBreaks = ""
        try scanBlockScalarBreaks(&blockIndent, &trailingBreaks, start, &end)
        var leadingBlank = false
        while position.column == blockIndent && !isZ() {
            // The start of a non-empty line.
            let trailingBlank = isBlank()
            if !literal && leadingBreak.hasPrefix("\n") && !leadingBlank && !trailingBlank {
                // Folded: one line break between two text lines becomes a space.
                if trailingBreaks.isEmpty { string += " " }
                leadingBreak = ""
            } else {
                string += leadingBreak
                leadingBreak = ""
            }
            string += trailingBreaks
            trailingBreaks = ""
            leadingBlank = isBlank()
            while !isBreakZ() { read(into: &string) }
            readLine(into: &leadingBreak)
            try scanBlockScalarBreaks(&blockIndent, &trailingBreaks, start, &end)
        }
        if chomping != -1 { string += leadingBreak }
        if chomping == 1 { string += trailingBreaks }
        var token = Token(type: .scalar, start: start, end: end)
        token.value = string
        token.style = literal ? .literal : .folded
        return token
    }

    private mutating func scanBlockScalarBreaks(
        _ blockIndent: inout Int, _ breaks: inout String, _ start: Position, _ end: inout Position
    ) throws(YAMLError) {
        var maxIndent = 0
        end = position
        while true {
            while (blockIndent == 0 || position.column < blockIndent) && isSpace() { skip() }
            if position.column > maxIndent { maxIndent = position.column }
            if (blockIndent == 0 || position.column < blockIndent) && isTab() {
                throw scannerError("while scanning a block scalar", start, "found a tab character where an indentation space is expected")
            }
            if !isBreak() { break }
            readLine(into: &breaks)
            end = position
        }
        if blockIndent == 0 {
            blockIndent = max(maxIndent, indent + 1, 1)
        }
    }

    private mutating func scanFlowScalar(single: Bool) throws(YAMLError) -> Token {
        let start = position
        skip()  // the opening quote
        let quote: Unicode.Scalar = single ? "'" : "\""
        var string = ""
        var leadingBreak = ""
        var trailingBreaks = ""
        var whitespaces = ""
        while true {
            if isDocumentIndicator() {
                throw scannerError("while scanning a quoted scalar", start, "found unexpected document indicator")
            }
            if isZ() {
                throw scannerError("while scanning a quoted scalar", start, "found unexpected end of stream")
            }
            var leadingBlanks = false
            while !isBlankZ() {
                if single && check("'") && check("'", 1) {
                    string += "'"
                    skip(); skip()
                } else if check(quote) {
                    break
                } else if !single && check("\\") && isBreak(1) {
                    // An escaped line break: the line continues without a space.
                    skip()
                    skipLine()
                    leadingBlanks = true
                    break
                } else if !single && check("\\") {
                    var codeLength = 0
                    switch at(1) {
                    case "0": string += "\0"
                    case "a": string += "\u{07}"
                    case "b": string += "\u{08}"
                    case "t", "\t": string += "\t"
                    case "n": string += "\n"
                    case "v": string += "\u{0B}"
                    case "f": string += "\u{0C}"
                    case "r": string += "\r"
                    case "e": string += "\u{1B}"
                    case " ": string += " "
                    case "\"": string += "\""
                    case "/": string += "/"
                    case "\\": string += "\\"
                    case "N": string += "\u{85}"
                    case "_": string += "\u{A0}"
                    case "L": string += "\u{2028}"
                    case "P": string += "\u{2029}"
                    case "x": codeLength = 2
                    case "u": codeLength = 4
                    case "U": codeLength = 8
                    default:
                        throw scannerError("while parsing a quoted scalar", start, "found unknown escape character")
                    }
                    skip(); skip()
                    if codeLength > 0 {
                        var value: UInt32 = 0
                        for k in 0..<codeLength {
                            guard let digit = hexValue(k) else {
                                throw scannerError("while parsing a quoted scalar", start, "did not find expected hexdecimal number")
                            }
                            value = value << 4 + digit
                        }
                        guard let scalar = Unicode.Scalar(value) else {
                            throw scannerError("while parsing a quoted scalar", start, "found invalid Unicode character escape code")
                        }
                        string.unicodeScalars.append(scalar)
                        for _ in 0..<codeLength { skip() }
                    }
                } else {
                    read(into: &string)
                }
            }
            if check(quote) { break }
            // Blanks and line breaks: kept between words, folded across lines.
            while isBlank() || isBreak() {
                if isBlank() {
                    if !leadingBlanks { read(into: &whitespaces) } else { skip() }
                } else if !leadingBlanks {
                    whitespaces = ""
                    readLine(into: &leadingBreak)
                    leadingBlanks = true
                } else {
                    readLine(into: &trailingBreaks)
                }
            }
            if leadingBlanks {
                if leadingBreak.hasPrefix("\n") {
                    if trailingBreaks.isEmpty {
                        string += " "
                    } else {
                        string += trailingBreaks
                        trailingBreaks = ""
                    }
                    leadingBreak = ""
                } else {
                    string += leadingBreak + trailingBreaks
                    leadingBreak = ""
                    trailingBreaks = ""
                }
            } else {
                string += whitespaces
                whitespaces = ""
            }
        }
        skip()  // the closing quote
        var token = Token(type: .scalar, start: start, end: position)
        token.value = string
        token.style = single ? .singleQuoted : .doubleQuoted
        return token
    }

    private mutating func scanPlainScalar() throws(YAMLError) -> Token {
        let start = position
        var end = position
        var string = ""
        var leadingBreak = ""
        var trailingBreaks = ""
        var whitespaces = ""
        var leadingBlanks = false
        let minimumIndent = indent + 1
        let flowIndicators: Set<Unicode.Scalar> = [",", "?", "[", "]", "{", "}"]
        while true {
            if isDocumentIndicator() { break }
            if check("#") { break }  // a comment: only after a blank, since blanks end the loop below
            while !isBlankZ() {
                if flowLevel > 0 && check(":"), let next = at(1), flowIndicators.contains(next) {
                    throw scannerError("while scanning a plain scalar", start, "found unexpected ':'")
                }
                if (check(":") && isBlankZ(1))
                    || (flowLevel > 0 && (check(",") || check("[") || check("]") || check("{") || check("}")))
                {
                    break
                }
                if leadingBlanks || !whitespaces.isEmpty {
                    if leadingBlanks {
                        if leadingBreak.hasPrefix("\n") {
                            if trailingBreaks.isEmpty {
                                string += " "
                            } else {
                                string += trailingBreaks
                                trailingBreaks = ""
                            }
                            leadingBreak = ""
                        } else {
                            string += leadingBreak + trailingBreaks
                            leadingBreak = ""
                            trailingBreaks = ""
                        }
                        leadingBlanks = false
                    } else {
                        string += whitespaces
                        whitespaces = ""
                    }
                }
                read(into: &string)
                end = position
            }
            if !(isBlank() || isBreak()) { break }
            while isBlank() || isBreak() {
                if isBlank() {
                    if leadingBlanks && position.column < minimumIndent && isTab() {
                        throw scannerError("while scanning a plain scalar", start, "found a tab character that violates indentation")
                    }
                    if !leadingBlanks { read(into: &whitespaces) } else { skip() }
                } else if !leadingBlanks {
                    whitespaces = ""
                    readLine(into: &leadingBreak)
                    leadingBlanks = true
                } else {
                    readLine(into: &trailingBreaks)
                }
            }
            if flowLevel == 0 && position.column < minimumIndent { break }
        }
        var token = Token(type: .scalar, start: start, end: end)
        token.value = string
        token.style = .plain
        if leadingBlanks { simpleKeyAllowed = true }
        return token
    }
}

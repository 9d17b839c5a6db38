import CYAML

/// libyaml's parser (the C library, `libyaml-dev`) as a pull parser of Swift values: each `next()`
/// is one `yaml_parser_parse` call, its event copied out and deleted at once. Nothing of libyaml
/// outlives the call but the parser itself, which this object owns.
///
/// A thin wrapper: the events are libyaml's, with its marks and its error texts. What a document
/// means (the node tree, aliases, the depth limit, duplicate keys) is `WatchdogConfig`'s business,
/// in plain Swift. libyaml's parser is not recursive; it keeps a stack of open collections that
/// grows with the nesting, so a caller that refuses deep nesting by counting start events stops it
/// before that stack, or anything else, grows large.
public final class YAMLEventParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    /// The input's UTF-8 bytes: libyaml reads them in place until the parser is deleted.
    private let input: UnsafeMutableBufferPointer<UInt8>
    private var streamEnded = false
    private var failure: YAMLEventError?

    /// A parser of `text`. Fails only when libyaml cannot allocate its parser.
    public init(_ text: String) throws(YAMLEventError) {
        // Everything that can fail happens before a stored property is set: a class whose
        // initializer throws after that would run `deinit` on it.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            throw YAMLEventError(kind: .memory, problem: "out of memory", mark: YAMLMark(line: 1, column: 1))
        }
        let count = text.utf8.count
        let input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(count, 1))
        _ = input.initialize(fromContentsOf: text.utf8)
        // The encoding is left to libyaml: UTF-8 (a Swift string is), after a byte-order mark if any.
        yaml_parser_set_input_string(parser, input.baseAddress, count)
        self.parser = parser
        self.input = input
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event. After `.streamEnd` it returns `.streamEnd` again; after an error it throws
    /// the same error again.
    public func next() throws(YAMLEventError) -> YAMLEventRecord {
        if let failure { throw failure }
        if streamEnded { return YAMLEventRecord(event: .streamEnd, start: YAMLMark(line: 1, column: 1), end: YAMLMark(line: 1, column: 1)) }
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            let error = currentError()
            failure = error
            throw error
        }
        defer { yaml_event_delete(&event) }
        let start = YAMLMark(event.start_mark)
        let end = YAMLMark(event.end_mark)
        let converted: YAMLEvent
        switch event.type {
        case YAML_STREAM_START_EVENT:
            converted = .streamStart
        case YAML_STREAM_END_EVENT, YAML_NO_EVENT:
            streamEnded = true
            converted = .streamEnd
        case YAML_DOCUMENT_START_EVENT:
            converted = .documentStart(implicit: event.data.document_start.implicit != 0)
        case YAML_DOCUMENT_END_EVENT:
            converted = .documentEnd(implicit: event.data.document_end.implicit != 0)
        case YAML_ALIAS_EVENT:
            converted = .alias(anchor: Self.string(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value = scalar.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: scalar.length), as: UTF8.self) } ?? ""
            converted = .scalar(value, style: YAMLScalarStyle(scalar.style), anchor: Self.string(scalar.anchor), tag: Self.string(scalar.tag))
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            converted = .sequenceStart(anchor: Self.string(start.anchor), tag: Self.string(start.tag), isFlow: start.style == YAML_FLOW_SEQUENCE_STYLE)
        case YAML_SEQUENCE_END_EVENT:
            converted = .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            converted = .mappingStart(anchor: Self.string(start.anchor), tag: Self.string(start.tag), isFlow: start.style == YAML_FLOW_MAPPING_STYLE)
        case YAML_MAPPING_END_EVENT:
            converted = .mappingEnd
        default:
            let error = YAMLEventError(kind: .parser, problem: "unknown event type \(event.type.rawValue)", mark: start)
            failure = error
            throw error
        }
        return YAMLEventRecord(event: converted, start: start, end: end)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func currentError() -> YAMLEventError {
        let problem = parser.pointee.problem.map { String(cString: $0) }
        switch parser.pointee.error {
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset, not a mark (the reader sits below the line count).
            let value = parser.pointee.problem_value
            return YAMLEventError(
                kind: .reader, problem: problem ?? "cannot read the input", mark: mark(atByteOffset: parser.pointee.problem_offset),
                character: value >= 0 ? value : nil)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            let context = parser.pointee.context.map { String(cString: $0) }
            return YAMLEventError(
                kind: parser.pointee.error == YAML_SCANNER_ERROR ? .scanner : .parser, problem: problem ?? "invalid YAML",
                mark: YAMLMark(parser.pointee.problem_mark), context: context,
                contextMark: context == nil ? nil : YAMLMark(parser.pointee.context_mark))
        case YAML_MEMORY_ERROR:
            return YAMLEventError(kind: .memory, problem: "out of memory", mark: YAMLMark(parser.pointee.mark))
        default:
            return YAMLEventError(kind: .parser, problem: problem ?? "invalid YAML", mark: YAMLMark(parser.pointee.problem_mark))
        }
    }

    /// Line and column of the character at a byte offset of the input, counted as libyaml's
    /// scanner counts them: a leading byte-order mark is not a column; CRLF, CR, LF, NEL, LS and
    /// PS end a line; a column is a Unicode scalar.
    private func mark(atByteOffset offset: Int) -> YAMLMark {
        let prefix = String(decoding: UnsafeBufferPointer(rebasing: input[..<min(max(offset, 0), input.count)]), as: UTF8.self)
        var line = 1
        var column = 1
        var previous: Unicode.Scalar = " "
        for (index, c) in prefix.unicodeScalars.enumerated() {
            if index == 0 && c == "\u{FEFF}" { continue }
            if c == "\n" && previous == "\r" {
                // The second half of a CRLF: the line was counted at the CR.
            } else if c == "\r" || c == "\n" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            previous = c
        }
        return YAMLMark(line: line, column: column)
    }
}

/// One event with where it starts and ends in the text.
public struct YAMLEventRecord: Sendable, Equatable {
    public var event: YAMLEvent
    public var start: YAMLMark
    public var end: YAMLMark
}

/// libyaml's events. Tags are resolved as libyaml resolves them (`!!str` is
/// `tag:yaml.org,2002:str`, `!` stays `!`); nil when the node has none.
public enum YAMLEvent: Sendable, Equatable {
    case streamStart
    case streamEnd
    case documentStart(implicit: Bool)
    case documentEnd(implicit: Bool)
    case alias(anchor: String)
    case scalar(String, style: YAMLScalarStyle, anchor: String?, tag: String?)
    case sequenceStart(anchor: String?, tag: String?, isFlow: Bool)
    case sequenceEnd
    case mappingStart(anchor: String?, tag: String?, isFlow: Bool)
    case mappingEnd
}

public enum YAMLScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted, literal, folded

    init(_ style: yaml_scalar_style_t) {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: self = .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: self = .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: self = .literal
        case YAML_FOLDED_SCALAR_STYLE: self = .folded
        default: self = .plain
        }
    }
}

/// A position in the text: line and column both start at 1 (libyaml's mark plus one); the column
/// counts Unicode scalars.
public struct YAMLMark: Sendable, Equatable, Hashable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ mark: yaml_mark_t) {
        self.init(line: mark.line + 1, column: mark.column + 1)
    }
}

/// What libyaml reported: the problem in its words, where it was found, and for most scanner and
/// parser errors what was being read and where that started ("did not find expected key" while
/// parsing a block mapping at 2:1).
public struct YAMLEventError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The characters: a control character (`character` is its value).
        case reader
        /// The tokens: quotes, indentation, indicators.
        case scanner
        /// The structure: what may follow what.
        case parser
        case memory
    }

    public var kind: Kind
    public var problem: String
    public var mark: YAMLMark
    public var context: String?
    public var contextMark: YAMLMark?
    /// For a reader error, the offending character's value.
    public var character: Int32?

    public init(kind: Kind, problem: String, mark: YAMLMark, context: String? = nil, contextMark: YAMLMark? = nil, character: Int32? = nil) {
        self.kind = kind
        self.problem = problem
        self.mark = mark
        self.context = context
        self.contextMark = contextMark
        self.character = character
    }
}

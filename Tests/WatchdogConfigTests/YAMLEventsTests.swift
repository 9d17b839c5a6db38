import Testing
import YAMLEvents

/// The thin wrapper of libyaml's parser: events and marks as libyaml gives them, errors with
/// libyaml's words, and the parser's state after the end or an error.
@Suite struct YAMLEventsTests {
    private func events(_ text: String) throws(YAMLEventError) -> [YAMLEventRecord] {
        let parser = try YAMLEventParser(text)
        var out: [YAMLEventRecord] = []
        repeat {
            out.append(try parser.next())
        } while out.last?.event != .streamEnd
        return out
    }

    @Test func eventsOfADocument() throws {
        let records = try events("a: &x !!str 1\nb: [*x, 'q']\n")
        #expect(
            records.map(\.event) == [
                .streamStart, .documentStart(implicit: true),
                .mappingStart(anchor: nil, tag: nil, isFlow: false),
                .scalar("a", style: .plain, anchor: nil, tag: nil),
                .scalar("1", style: .plain, anchor: "x", tag: "tag:yaml.org,2002:str"),
                .scalar("b", style: .plain, anchor: nil, tag: nil),
                .sequenceStart(anchor: nil, tag: nil, isFlow: true),
                .alias(anchor: "x"),
                .scalar("q", style: .singleQuoted, anchor: nil, tag: nil),
                .sequenceEnd, .mappingEnd, .documentEnd(implicit: true), .streamEnd,
            ])
        // The anchored scalar starts at its anchor; the alias at its `*`.
        #expect(records[4].start == YAMLMark(line: 1, column: 4))
        #expect(records[4].end == YAMLMark(line: 1, column: 14))
        #expect(records[7].start == YAMLMark(line: 2, column: 5))
    }

    @Test func afterTheEndTheEndAgain() throws {
        let parser = try YAMLEventParser("")
        #expect(try parser.next().event == .streamStart)
        #expect(try parser.next().event == .streamEnd)
        #expect(try parser.next().event == .streamEnd)
    }

    @Test func errorsInLibyamlsWordsAndAgainAfterwards() throws {
        let parser = try YAMLEventParser("a: 'open\n")
        var first: YAMLEventError?
        do {
            while try parser.next().event != .streamEnd {}
        } catch {
            first = error
        }
        let error = try #require(first)
        #expect(error.kind == .scanner)
        #expect(error.problem == "found unexpected end of stream")
        #expect(error.context == "while scanning a quoted scalar")
        #expect(error.mark == YAMLMark(line: 2, column: 1))
        #expect(error.contextMark == YAMLMark(line: 1, column: 4))
        #expect(throws: error) { try parser.next() }
    }

    @Test func readerErrorsGetAMark() throws {
        #expect(throws: YAMLEventError(kind: .reader, problem: "control characters are not allowed", mark: YAMLMark(line: 3, column: 2), character: 0x1B)) {
            try events("a: 1\r\nb:\n \u{1B}\n")
        }
    }
}

import Foundation
import Testing
@testable import WatchdogConfig

/// `YAMLNode.parse` (libyaml's events composed by `YAMLComposer`) against the outcomes recorded in
/// YAMLTrees.txt with the parser it replaced, which these tests had compared with Yams: the same
/// documents must be accepted, with the same tree (kinds, scalar text and style, tags, flow or
/// block, keys in order, null-ness, line and column of every node), and the same documents
/// rejected, with the same error at the same line and column.
@Suite struct YAMLParserDifferential {
    // MARK: (a) hand-written corpus

    static let corpus: [String] = [
        // Block mappings and sequences, any indentation.
        "a: 1\nb: two\n",
        "a:\n  b:\n    c: d\n  e: f\ng: h\n",
        "a:\n     b: 1\n     c: 2\n",
        "a:\n - x\n - y\nb:\n- z\n-\n- w\n",
        "- a\n- b: 1\n  c: 2\n- - x\n  - y\n-   deep: 1\n    er: 2\n",
        "top:\n  - name: a\n    value: 1\n  - name: b\n    list:\n      - 1\n      - 2\n",
        "key:   value with   spaces   \nother:\tvalue\n",
        // Flow collections.
        "{a: 1, b: [x, y]}\n",
        "a: {b: 1, c: [1, 2, {d: e}], f: {}}\nb: []\n",
        "a: [x, 'y', \"z\", [1, 2], {k: v}, ]\n",
        "a: [one,\n  two,\n   three]\nb: {x: 1,\n  y: 2}\n",
        "a: {b, c: , d}\n",
        "a: [b: 1, c]\n",
        "[a, b]\n",
        "{a: 1}\n",
        "a: {\"q\": 'r', s: \"t\"}\n",
        "a: [http://x:1/y, a:b, c]\n",
        // Plain scalars, including '#' and ':' inside.
        "a: a#b\nb: a #comment\nc: x:y\nd: http://h:1/p?q=1#f\ne: -1\nf: -x\ng: :x\n",
        "a: 1.40\nb: 0700\nc: yes\nd: ~\ne: null\nf: Null\ng: NULL\nh: nil\ni: 1e3\nj: .inf\n",
        "a: some\n  multi line\n   plain\n\n  text\nb: x\n",
        "- plain\n  continued\n- next\n",
        "a: one two  three\n",
        // Single-quoted.
        "a: 'it''s'\nb: ''\nc: 'null'\nd: 'a # b'\ne: 'x: y'\n",
        "a: 'multi\n  line\n\n  quoted  '\n",
        // Double-quoted with escapes.
        "a: \"tab\\there\"\nb: \"nl\\nx\"\nc: \"q\\\"q\"\nd: \"bs\\\\\"\ne: \"\\u00e9\\x41\\U0001F600\"\nf: \"\"\ng: \"null\"\n",
        "a: \"multi\n  line\n\n  text\"\nb: \"cont\\\n  inued\"\n",
        "a: \"\\0\\a\\b\\v\\f\\r\\e\\ \\/\\N\\_\\L\\P\"\n",
        // Block scalars.
        "a: |\n  line 1\n  line 2\nb: x\n",
        "a: >\n  folded\n  text\n\n  para\n    indented\n  back\nb: x\n",
        "a: |-\n  strip\n\n\nb: |+\n  keep\n\n\nc: >-\n  x\n  y\nd: >+\n  z\n\n",
        "a: |2\n    two extra\n   one\n",
        "a: |\n\n  leading blank\n",
        "- |\n  in a list\n- >-\n  folded\n  in a list\n",
        "a: | # comment\n  text\n",
        "a: |\nb: 1\n",
        "a: >\n\n",
        "|\n  top-level literal\n",
        // Comments, blank lines.
        "# head\na: 1 # tail\n# middle\n\n  # indented comment\nb:   # empty with comment\n  c: 2\n",
        "\n\n# only comments\n\n",
        "",
        "a: 1\n\n\n",
        // Documents.
        "---\na: 1\n",
        "--- \na: 1\n...\n",
        "---\n",
        "--- |\n  text\n",
        "a: 1\n...\n",
        "--- a\n",
        "%YAML 1.1\n---\na: 1\n",
        "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
        // Tags.
        "a: !!str 1\nb: !!int \"2\"\nc: !!null ''\nd: !custom x\ne: !<tag:yaml.org,2002:str> y\nf: ! z\n",
        "a: !!str\nb: !!map {x: 1}\nc: !!seq [1]\n",
        // Anchors and aliases.
        "a: &x 1\nb: *x\n",
        "a: &m {k: v}\nb: *m\nc: &s\n  - 1\nd: *s\n",
        "a: &x\nb: *x\n",
        "a: &x 1\nb: &x 2\nc: *x\n",
        "- &a x\n- *a\n- [*a, *a]\n",
        // Empty values.
        "a:\nb:\n  c:\n",
        "a: ~\nb: ''\nc: \"\"\n",
        "- \n-\n",
        // Complex keys.
        "? a\n: 1\n? b\n",
        "? [x, y]\n: z\n",
        "[x, y]: z\n",
        "{x: 1}: y\n",
        // Keys of other kinds; same text, different type.
        "1: a\n\"1\": b\n",
        "'a b': 1\n\"c\\td\": 2\n",
        "null: 1\n~: 2\n",
        // Line endings and odd characters.
        "a: 1\r\nb:\r\n  c: 2\r\n",
        "a: caf\u{e9}\n\u{e9}: \u{1F600}\n",
        "\u{FEFF}a: 1\n",
        "a: x\tafter tab\n",
        "a:\t1\n",
        "a: [1,\t2]\n",
        // The test files of this module.
        "web:\n  listen_address:\n  telemetry_path: ~\n",
        "collector:\n  disk:\n    interval: &i 20s\n  process:\n    interval: *i\n",
        "a: &x [1, 2]\nweb: {listen_address: *x}\n",
        "docker:\n  api_version: 1.40\n",
        "docker:\n  api_version: \"\"\n",
    ]

    @Test(arguments: corpus.indices)
    func handWrittenCorpus(_ index: Int) throws {
        try expectRecorded(Self.outcome(Self.corpus[index]), for: "corpus \(index)", document: Self.corpus[index])
    }

    /// Every YAML file in the repository (deploy/, prometheus/, grafana/, examples/, the fuzz seed)
    /// and the YAML examples in the README and docs/*.md parse.
    @Test func repositoryYAMLFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var documents: [(String, String)] = []
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            let relative = String(url.path.dropFirst(root.path.count))
            if relative.hasPrefix("/.build") || relative.hasPrefix("/.git") {
                enumerator?.skipDescendants()
                continue
            }
            if url.pathExtension == "yml" || url.pathExtension == "yaml" {
                documents.append((relative, try String(contentsOf: url, encoding: .utf8)))
            }
        }
        let pages = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        for page in ["README.md"] + pages {
            let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
            for (index, block) in text.components(separatedBy: "```yaml\n").dropFirst().enumerated() {
                documents.append(("\(page) yaml block \(index + 1)", block.components(separatedBy: "```")[0]))
            }
        }
        #expect(documents.count >= 15, "found only \(documents.map(\.0))")
        #expect(documents.contains { $0.0.hasSuffix("seed-full.yaml") })
        for (name, text) in documents {
            #expect(throws: Never.self, "\(name) should parse") { try YAMLNode.parse(text) }
        }
    }

    // MARK: (b) generated documents

    @Test func generatedDocuments() throws {
        var accepted = 0
        for seed in UInt64(1)...400 {
            let yaml = Self.generated(seed: seed)
            let outcome = Self.outcome(yaml, treeAsHash: true)
            if !outcome.hasPrefix("error") { accepted += 1 }
            try expectRecorded(outcome, for: "generated \(seed)", document: yaml)
        }
        // The generator writes valid YAML (a few documents repeat a key on purpose).
        #expect(accepted >= 350, "only \(accepted) of 400 generated documents were accepted")
    }

    /// Generated documents with one random edit (a character deleted, or one of YAML's
    /// indicators, a tab or a line break inserted): mostly broken, so this compares rejections and
    /// their lines.
    @Test func mutatedDocuments() throws {
        var rejected = 0
        for seed in UInt64(1)...400 {
            let yaml = Self.mutated(seed: seed)
            let outcome = Self.outcome(yaml, treeAsHash: true)
            if outcome.hasPrefix("error") { rejected += 1 }
            try expectRecorded(outcome, for: "mutated \(seed)", document: yaml)
        }
        #expect(rejected >= 100, "only \(rejected) of 400 mutated documents were rejected: the mutations are too tame")
    }

    static func generated(seed: UInt64) -> String {
        var generator = DocumentGenerator(seed: seed)
        return generator.document()
    }

    static func mutated(seed: UInt64) -> String {
        var generator = DocumentGenerator(seed: seed)
        var yaml = Array(generator.document().unicodeScalars)
        var rng = generator.rng
        for _ in 0...(rng.next() % 2) where !yaml.isEmpty {
            let at = Int(rng.next() % UInt64(yaml.count))
            let inserts: [Unicode.Scalar] = [" ", "\t", ":", "-", "'", "\"", "[", "]", "{", "}", "#", "\n", "&", "*", "|", ">", "?", ",", "!", "\\"]
            if rng.next() % 3 == 0 {
                yaml.remove(at: at)
            } else {
                yaml.insert(inserts[Int(rng.next() % UInt64(inserts.count))], at: at)
            }
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: yaml)
        return text
    }

    // MARK: (c) malformed documents

    /// Each document with the line the error must be reported at (the same as Yams').
    static let malformed: [(yaml: String, line: Int)] = [
        ("a: 1\n b: 2\n", 2),  // bad indentation
        ("a:\n  b: 1\n c: 2\n", 3),
        ("- a\nb: 1\n", 2),
        ("a: 'unclosed\nb: 2\n", 3),
        ("a: \"unclosed\n", 2),
        ("a: [1, 2\nb: 3\n", 2),
        ("a: {x: 1\n", 2),
        ("a: [1, 2}}\n", 1),
        ("a: [1]]\n", 1),
        ("web:\n\tlisten_address: :1\n", 2),  // a tab as indentation
        ("a:\n  b: 1\n\tc: 2\n", 3),
        ("log:\n  level: info\n  level: debug\n", 2),  // duplicate key: its first occurrence
        ("a: 1\nb: 2\na: 3\n", 1),
        ("x:\n  y: {k: 1, k: 2}\n", 2),
        ("a: 1\n---\nb: 2\n", 2),  // a second document
        ("a: *nope\n", 1),  // undefined alias
        ("a: &x [1, *x]\n", 1),  // an alias inside its own anchor
        ("a: \"\\q\"\n", 1),  // unknown escape
        ("a: |0\n  x\n", 1),
        ("a: b: c\n", 1),
        ("a: 1\n- b\n", 2),
        ("a:\n  - b\n  c: d\n", 3),
        ("%FOO bar\n---\na: 1\n", 1),
        ("%YAML 2.0\n---\na: 1\n", 1),
        ("a: !e!x 1\n", 1),  // undefined tag handle
        ("? a\n? a\n", 1),
        ("key: value\n  indented: more\n", 2),
        ("a: 'x'y\n", 1),
        ("[a, b]]\n", 1),
        ("a: @x\n", 1),
    ]

    @Test(arguments: malformed.indices)
    func malformedDocumentsAreRejectedAtTheRightLine(_ index: Int) throws {
        let (yaml, line) = Self.malformed[index]
        var ours: YAMLError?
        do {
            _ = try YAMLNode.parse(yaml)
        } catch {
            ours = error
        }
        #expect(ours != nil, "accepted:\n\(yaml)")
        #expect(ours?.mark.line == line, "\(ours.map(String.init(describing:)) ?? "-") for:\n\(yaml)")
        try expectRecorded(Self.outcome(yaml), for: "malformed \(index)", document: yaml)
    }

    @Test func duplicateKeysNameTheKeys() throws {
        let error = try #require(parseError("b: 1\na: 1\nb: 2\na: 2\n"))
        #expect(error.duplicateKeys == ["a", "b"])
        #expect(error.mark == YAMLNode.Mark(line: 2, column: 1))
        // Same text, different type: not the same key (as in Yams).
        #expect(parseError("1: a\n'1': b\n") == nil)
        #expect(parseError("a: 1\n'a': 2\n")?.duplicateKeys == ["a"])
    }

    @Test func deepNestingIsRefusedCleanly() throws {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        let error = try #require(parseError(deep))
        #expect(error.problem.contains("nested more than"))
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(parseError(fine) == nil)
    }

    /// The limit holds for block collections too, and the error names the line of the first
    /// collection too deep: here the mapping on line 257 (the root mapping is on line 1).
    @Test func deepBlockNestingNamesTheLine() throws {
        let deep = (0..<300).map { String(repeating: " ", count: $0) + "a:\n" }.joined()
        let error = try #require(parseError(deep))
        #expect(error.mark.line == YAMLComposer.maxDepth + 1)
        #expect(error.problem == "collections nested more than \(YAMLComposer.maxDepth) levels deep")
        let failure = loadYAML(deep).error
        #expect(failure?.source == "config.yaml:257")
        #expect(failure?.reason == "invalid YAML: collections nested more than 256 levels deep")
        let fine = (0..<YAMLComposer.maxDepth).map { String(repeating: " ", count: $0) + "a:\n" }.joined()
        #expect(parseError(fine) == nil)
    }

    /// A megabyte of `[` is refused at the 257th, without reading (or stacking) the rest.
    @Test func hugeNestingIsRefusedEarly() throws {
        let error = try #require(parseError(String(repeating: "[", count: 1_000_000)))
        #expect(error.mark == YAMLNode.Mark(line: 1, column: YAMLComposer.maxDepth + 1))
        #expect(error.problem.contains("nested more than"))
        let keys = try #require(parseError(String(repeating: "{a: ", count: 100_000)))
        #expect(keys.problem.contains("nested more than"))
    }

    @Test func controlCharactersAreRefused() throws {
        let error = try #require(parseError("a: 1\nb: x\u{7}y\n"))
        #expect(error.mark == YAMLNode.Mark(line: 2, column: 5))
        #expect(error.problem == "control characters are not allowed (U+7)")
        // The mark counts lines and columns as libyaml does: CRLF is one break, a byte-order mark
        // is no column, a column is a Unicode scalar.
        #expect(parseError("\u{FEFF}a: 1\r\nb: \u{e9}\u{1}\n")?.mark == YAMLNode.Mark(line: 2, column: 5))
        #expect(parseError("a: \u{0}\n")?.problem == "control characters are not allowed (U+0)")
    }

    /// libyaml skips a byte-order mark before it counts columns (the parser before libyaml, like
    /// Yams, counted it as column 1 of line 1: the one recorded outcome that changed).
    @Test func byteOrderMarkIsNoColumn() throws {
        guard case .mapping(let m) = try YAMLNode.parse("\u{FEFF}a: 1\n") else { Issue.record("not a mapping"); return }
        #expect(m.mark == YAMLNode.Mark(line: 1, column: 1))
        #expect(m[0].value.mark == YAMLNode.Mark(line: 1, column: 4))
    }

    /// A NUL escaped in a double-quoted scalar is part of the text (libyaml gives the length).
    @Test func escapedNulIsKept() throws {
        guard case .mapping(let m) = try YAMLNode.parse("a: \"x\\0y\"\n"), case .scalar(let s) = m[0].value else {
            Issue.record("not a mapping of a scalar")
            return
        }
        #expect(s.string == "x\u{0}y")
    }

    @Test func nullIsTheCoreSchemaNull() throws {
        let yaml = "a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: 'null'\ng: \"\"\nh: nULL\ni: !!null x\nj: !!str\n"
        guard case .mapping(let m) = try YAMLNode.parse(yaml) else { Issue.record("not a mapping"); return }
        #expect(m.map(\.value.isNull) == [true, true, true, true, true, false, false, false, true, false])
    }

    // MARK: - Comparison

    private func parseError(_ yaml: String) -> YAMLError? {
        do {
            _ = try YAMLNode.parse(yaml)
            return nil
        } catch {
            return error
        }
    }

    /// What `YAMLNode.parse` gives for a document, as text: the tree (every node's kind, mark,
    /// style, null-ness, tag and text, keys in order), `<no document>`, or the error with its mark
    /// and context. `treeAsHash` shortens a tree to its FNV-1a hash (generated documents are long).
    static func outcome(_ yaml: String, treeAsHash: Bool = false) -> String {
        do {
            guard let node = try YAMLNode.parse(yaml) else { return "<no document>\n" }
            let tree = describe(node)
            guard treeAsHash else { return tree }
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in tree.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            let hex = String(hash, radix: 16)
            return "tree " + String(repeating: "0", count: 16 - hex.count) + hex + "\n"
        } catch {
            return "error \(error)" + (error.duplicateKeys.isEmpty ? "" : " keys \(error.duplicateKeys)") + "\n"
        }
    }

    private static func describe(_ node: YAMLNode) -> String {
        var out = ""
        func walk(_ node: YAMLNode, _ indent: String) {
            let mark = "\(node.mark.line):\(node.mark.column)"
            let tag = node.tag.map { "<\($0)> " } ?? ""
            switch node {
            case .scalar(let s):
                out += "\(indent)scalar \(mark) \(s.style) \(s.isNull ? "null " : "")\(tag)\(s.string.debugDescription)\n"
            case .mapping(let m):
                out += "\(indent)mapping \(mark) \(m.isFlow ? "flow " : "")\(tag)\(m.count)\n"
                for (k, v) in m {
                    walk(k, indent + "  ? ")
                    walk(v, indent + "  : ")
                }
            case .sequence(let s):
                out += "\(indent)sequence \(mark) \(s.isFlow ? "flow " : "")\(tag)\(s.count)\n"
                for n in s { walk(n, indent + "  - ") }
            }
        }
        walk(node, "")
        return out
    }

    // MARK: - Recorded outcomes

    /// YAMLTrees.txt: the outcome of every corpus, malformed, generated and mutated document,
    /// recorded with the parser before libyaml (a port of libyaml's scanner and parser) while these
    /// tests compared it with Yams document by document (trees, marks and error lines all equal):
    /// libyaml through `YAMLComposer` reads every one of them as that parser and Yams did, but for
    /// one column (`byteOrderMarkIsNoColumn`). `UPDATE_YAML_TREES=1 swift test --filter
    /// recordedOutcomesFile` rewrites it (when the corpus or the generator changes; read the
    /// difference before committing it).
    static let recordedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("YAMLTrees.txt").path

    static let recorded: [String: String] = {
        guard let text = try? String(contentsOfFile: recordedPath, encoding: .utf8) else { return [:] }
        var entries: [String: String] = [:]
        var label: String?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if line.hasPrefix("--- ") {
                label = String(line.dropFirst(4))
                entries[label!] = ""
            } else if let label {
                entries[label]! += line + "\n"
            }
        }
        return entries
    }()

    private static var updating: Bool { ProcessInfo.processInfo.environment["UPDATE_YAML_TREES"] == "1" }

    private func expectRecorded(_ outcome: String, for label: String, document: String) throws {
        guard !Self.updating else { return }
        let expected = try #require(Self.recorded[label], "no recorded outcome for \(label) in YAMLTrees.txt")
        #expect(outcome == expected, "\(label) differs from the recorded outcome:\n\(document.debugDescription)\nrecorded:\n\(expected)now:\n\(outcome)")
    }

    /// The whole of YAMLTrees.txt: every entry still has its document (and the other way round);
    /// under UPDATE_YAML_TREES=1 the file is written from the outcomes of now.
    @Test func recordedOutcomesFile() throws {
        var text = Self.recordedHeader
        for (index, yaml) in Self.corpus.enumerated() { text += "--- corpus \(index)\n" + Self.outcome(yaml) }
        for (index, item) in Self.malformed.enumerated() { text += "--- malformed \(index)\n" + Self.outcome(item.yaml) }
        for seed in UInt64(1)...400 { text += "--- generated \(seed)\n" + Self.outcome(Self.generated(seed: seed), treeAsHash: true) }
        for seed in UInt64(1)...400 { text += "--- mutated \(seed)\n" + Self.outcome(Self.mutated(seed: seed), treeAsHash: true) }
        if Self.updating {
            try text.write(toFile: Self.recordedPath, atomically: true, encoding: .utf8)
            return
        }
        let onFile = try String(contentsOfFile: Self.recordedPath, encoding: .utf8)
        #expect(onFile == text, "YAMLTrees.txt differs from the outcomes of now (the tests above name the documents)")
    }

    static let recordedHeader = """
        # What YAMLNode.parse gives for each document of YAMLParserTests.swift: corpus and malformed by
        # index, generated and mutated by seed; a tree, its hash (FNV-1a of the tree), or the error. First
        # recorded with the hand port of libyaml's scanner (YAMLParser.swift) while it matched Yams on them.

        """ + "\n"
}

// MARK: - Error messages through the loaders

@Suite struct YAMLErrorMessages {
    @Test func syntaxErrorNamesFileLineAndContext() {
        let e = loadYAML("log:\n  level: 'info\n").error
        #expect(
            e
                == ConfigError(
                    key: "config.file", source: "config.yaml:3",
                    reason: "invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 2)"))
    }

    @Test func badIndentationNamesTheLine() {
        let e = loadYAML("web:\n  listen_address: \":1\"\n max_connections: 5\n").error
        #expect(e?.source == "config.yaml:3")
        #expect(e?.reason.hasPrefix("invalid YAML: ") == true)
    }

    @Test func tabIndentationSaysSo() {
        let e = loadYAML("web:\n\tlisten_address: :1\n").error
        #expect(e?.source == "config.yaml:2")
        #expect(e?.reason.contains("tab") == true)
    }

    @Test func duplicateKeyNamesKeyAndFirstLine() {
        #expect(
            loadYAML("log:\n  level: info\n  format: json\n  level: debug\n").error
                == ConfigError(
                    key: "level", source: "config.yaml:2",
                    reason: "duplicate key \"level\": it appears more than once in one mapping (this is its first occurrence)"))
    }

    @Test func secondDocumentIsRefused() {
        let e = loadYAML("log:\n  level: info\n---\nlog:\n  level: debug\n").error
        #expect(e?.source == "config.yaml:3")
        #expect(e?.reason == "invalid YAML: but found another document (expected a single document in the stream at line 1)")
    }

    @Test func quotedNullIsAValueNotUnset() {
        // "" sets the empty string; a plain empty value leaves the default.
        #expect(loadYAML("docker:\n  api_version: ''\n").value?.docker.apiVersion == "")
        #expect(loadYAML("docker:\n  api_version:\n").value?.docker.apiVersion == WatchdogConfiguration.defaults.docker.apiVersion)
    }

    @Test func blockAndFlowStylesLoadTheSameValues() throws {
        let block = try #require(loadYAML("web:\n  listen_address: \":9001\"\nlog:\n  level: debug\n").value)
        let flow = try #require(loadYAML("{web: {listen_address: \":9001\"}, log: {level: debug}}").value)
        let folded = try #require(loadYAML("web:\n  listen_address: >-\n    :9001\nlog:\n  level: |-\n    debug\n").value)
        #expect(block == flow)
        #expect(block == folded)
        #expect(block.web.listenAddress.port == 9001)
    }

    @Test func webConfigSyntaxErrorNamesFileAndLine() {
        var failure: ConfigError?
        do {
            _ = try WebConfig.load(path: "/etc/dw/web.yml", readFile: { _ in "basic_auth_users:\n  alice: \"$2y$10$\n" })
        } catch {
            failure = error
        }
        #expect(failure?.key == "web.config_file")
        #expect(failure?.source == "/etc/dw/web.yml:3")
        #expect(failure?.reason == "invalid YAML in web config file: found unexpected end of stream (while scanning a quoted scalar at line 2)")
    }

    @Test func webConfigDuplicateUserIsRefused() {
        var failure: ConfigError?
        do {
            _ = try WebConfig.load(path: "web.yml", readFile: { _ in "basic_auth_users:\n  alice: x\n  alice: y\n" })
        } catch {
            failure = error
        }
        #expect(failure?.key == "alice")
        #expect(failure?.source == "web.yml:2")
    }
}

// MARK: - Document generator

/// SplitMix64: small, seedable, the same sequence everywhere.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Random documents: nested block mappings and sequences at random indentations, flow
/// collections, scalars in every style (plain, multi-line plain, quoted with escapes and folding,
/// literal and folded block scalars with indicators), comments, anchors and aliases, document
/// markers.
struct DocumentGenerator {
    var rng: SplitMix64
    private var anchors: [String] = []
    private var anchorCount = 0

    init(seed: UInt64) {
        rng = SplitMix64(state: seed)
    }

    private static let words = [
        "a", "b", "key", "value", "web", "listen_address", "1", "0700", "1.40", "yes", "no", "null", "Null", "~",
        "true", "x y", "a#b", "x:y", "http://h:1/p", "-1", "-x", "caf\u{e9}", "1e3", "2001-12-14", "<<", "=", ".inf",
        "$2y$10$abc", "[::1]:9000", "a,b", "%x", "@y", "it's", "q\"q",
    ]

    mutating func document() -> String {
        var out = ""
        if rng.chance(20) { out += "# generated\n" }
        let explicitStart = rng.chance(25)
        if explicitStart { out += "---\n" }
        switch rng.below(10) {
        case 0: out += flowNode(depth: 0) + "\n"
        case 1: out += blockSequence(indent: 0, depth: 0)
        default: out += blockMapping(indent: 0, depth: 0)
        }
        if rng.chance(15) { out += "...\n" }
        if rng.chance(15) { out += "\n# trailing comment\n" }
        return out
    }

    private mutating func pad(_ n: Int) -> String { String(repeating: " ", count: n) }

    private mutating func step() -> Int { 1 + rng.below(4) }

    private mutating func comment() -> String { rng.chance(15) ? "  # c\(rng.below(9))" : "" }

    private mutating func key(_ used: inout Set<String>) -> String {
        var name: String
        repeat {
            name = ["k", "name", "x", "web", "a_b", "k-1", "\u{e9}t\u{e9}", "1", "two words"][rng.below(9)] + (rng.chance(70) ? "\(rng.below(50))" : "")
        } while used.contains(name) && !rng.chance(3)  // a rare duplicate: both must reject it
        used.insert(name)
        switch rng.below(10) {
        case 0: return "'" + name + "'"
        case 1: return "\"" + name + "\""
        default: return name
        }
    }

    private mutating func blockMapping(indent: Int, depth: Int, firstInline: Bool = false) -> String {
        var out = ""
        var used: Set<String> = []
        for index in 0..<(1 + rng.below(4)) {
            if rng.chance(8) { out += "\n" }
            if rng.chance(8) { out += pad(rng.below(indent + 3)) + "# note\n" }
            out += (index == 0 && firstInline ? "" : pad(indent)) + key(&used) + ":"
            out += blockValue(indent: indent, depth: depth + 1, inMapping: true)
        }
        return out
    }

    private mutating func blockSequence(indent: Int, depth: Int, firstInline: Bool = false) -> String {
        var out = ""
        for index in 0..<(1 + rng.below(4)) {
            out += (index == 0 && firstInline ? "" : pad(indent)) + "-"
            if depth < 4 && rng.chance(25) {
                // A compact nested collection on the dash's line.
                let inner = indent + 2
                out +=
                    " "
                    + (rng.chance(50)
                        ? blockMapping(indent: inner, depth: depth + 1, firstInline: true)
                        : blockSequence(indent: inner, depth: depth + 1, firstInline: true))
            } else {
                out += blockValue(indent: indent, depth: depth + 1, inMapping: false)
            }
        }
        return out
    }

    /// What follows "key:" or "-": text up to and including the line break.
    private mutating func blockValue(indent: Int, depth: Int, inMapping: Bool) -> String {
        let choice = depth > 4 ? rng.below(5) : rng.below(9)
        switch choice {
        case 0, 1, 2:
            return " " + anchored(inlineScalar()) + comment() + "\n"
        case 3:
            return multiLineScalar(indent: indent)
        case 4:
            if rng.chance(10) { return comment() + "\n" }  // an empty value
            if !anchors.isEmpty && rng.chance(40) { return " *" + anchors[rng.below(anchors.count)] + "\n" }
            return " " + flowNode(depth: depth, indent: indent) + comment() + "\n"
        case 5, 6:
            let inner = indent + step()
            return comment() + "\n" + blockMapping(indent: inner, depth: depth)
        default:
            // A sequence under a mapping key may sit at the key's own indentation.
            let inner = inMapping && rng.chance(40) ? indent : indent + step()
            return comment() + "\n" + blockSequence(indent: inner, depth: depth)
        }
    }

    private mutating func anchored(_ text: String) -> String {
        guard rng.chance(10) else { return text }
        anchorCount += 1
        let name = "a\(anchorCount)"
        anchors.append(name)
        return "&\(name) " + text
    }

    private mutating func inlineScalar() -> String {
        let word = Self.words[rng.below(Self.words.count)]
        switch rng.below(8) {
        case 0:
            return "'" + word.replacingOccurrences(of: "'", with: "''") + "'"
        case 1:
            let escapes = ["\\n", "\\t", "\\\"", "\\\\", "\\u00e9", "\\x41", " ", "#", ":"]
            return "\"" + word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + escapes[rng.below(escapes.count)] + "\""
        case 2:
            return rng.chance(50) ? "''" : "\"\""
        case 3:
            return "!!str " + plainSafe(word)
        default:
            return plainSafe(word)
        }
    }

    /// Words that a plain scalar cannot start with are quoted.
    private func plainSafe(_ word: String) -> String {
        if let first = word.first, "%@'\"[{&*!|>#`,?".contains(first) || word.hasPrefix("- ") {
            return "\"" + word.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return word
    }

    private mutating func multiLineScalar(indent: Int) -> String {
        let inner = indent + step()
        let lines = (0..<(1 + rng.below(4))).map { _ in ["some text", "more", "x y  z", "a#b", "end."][rng.below(5)] }
        switch rng.below(4) {
        case 0:
            // Multi-line plain.
            return " " + lines.joined(separator: "\n" + pad(inner) + (rng.chance(30) ? "\n" + pad(inner) : "")) + "\n"
        case 1:
            let quote = rng.chance(50) ? "'" : "\""
            return " " + quote + lines.joined(separator: "\n" + pad(inner)) + (rng.chance(30) ? "\n\n" + pad(inner) + "after blank" : "") + quote + "\n"
        default:
            let indicator =
                (rng.chance(50) ? "|" : ">")
                + ["", "-", "+"][rng.below(3)]
            let explicit = rng.chance(20)
            let header = explicit ? indicator + "\(inner - indent)" : indicator
            var body = ""
            for (i, line) in lines.enumerated() {
                body += pad(inner) + (i == 1 && rng.chance(30) ? "  " : "") + line + "\n"
                if rng.chance(20) { body += "\n" }
            }
            return " " + header + comment() + "\n" + body
        }
    }

    private mutating func flowNode(depth: Int, indent: Int = 0) -> String {
        if depth > 5 || rng.chance(35) { return flowScalar() }
        let breakLine = rng.chance(15)
        let separator = breakLine ? ",\n" + pad(indent + 1 + rng.below(3)) : ", "
        if rng.chance(50) {
            let items = (0..<rng.below(4)).map { _ in flowNode(depth: depth + 1, indent: indent) }
            return "[" + items.joined(separator: separator) + (rng.chance(10) && !items.isEmpty ? "," : "") + "]"
        }
        var used: Set<String> = []
        let pairs = (0..<rng.below(4)).map { _ in
            let k = key(&used)
            return rng.chance(10) ? k : k + ": " + flowNode(depth: depth + 1, indent: indent)
        }
        return "{" + pairs.joined(separator: separator) + "}"
    }

    private mutating func flowScalar() -> String {
        let word = ["a", "1", "x y", "null", "~", "a#b", "1.40", "http://h/p", "-1", "caf\u{e9}"][rng.below(10)]
        switch rng.below(5) {
        case 0: return "'" + word + "'"
        case 1: return "\"" + word + "\\t\""
        default: return word
        }
    }
}

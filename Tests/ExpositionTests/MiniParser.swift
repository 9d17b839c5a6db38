/// A small, independent parser for the two text formats, used to check the renderer's output
/// without golden files. It is deliberately strict: anything it does not understand is an error.

struct ParsedSample: Equatable {
    var name: String
    var labels: [String: String]
    var labelNames: [String]  // in output order
    var value: Double

    static func == (a: ParsedSample, b: ParsedSample) -> Bool {
        a.name == b.name && a.labels == b.labels && a.labelNames == b.labelNames
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

struct ParsedExposition {
    var help: [String: String] = [:]
    var type: [String: String] = [:]
    /// Metadata and sample lines in order, e.g. "TYPE x", "HELP x", "SAMPLE x_total".
    var events: [String] = []
    var samples: [ParsedSample] = []
    var sawEOF = false
    var lineCount = 0

    func samples(named name: String) -> [ParsedSample] { samples.filter { $0.name == name } }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}

struct ParseError: Error, CustomStringConvertible {
    var line: Int
    var message: String
    var description: String { "line \(line): \(message)" }
}

enum MiniParser {
    static func parse(_ bytes: [UInt8], openMetrics: Bool) throws -> ParsedExposition {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ParseError(line: 0, message: "not UTF-8")
        }
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, message: "no final newline") }
        var result = ParsedExposition()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        result.lineCount = lines.count
        for (index, rawLine) in lines.enumerated() {
            let lineNo = index + 1
            let line = String(rawLine)
            if result.sawEOF { throw ParseError(line: lineNo, message: "content after # EOF") }
            if line.contains("\r") { throw ParseError(line: lineNo, message: "carriage return") }
            if line.hasPrefix("#") {
                if line == "# EOF" {
                    guard openMetrics else { throw ParseError(line: lineNo, message: "# EOF in text format") }
                    result.sawEOF = true
                    continue
                }
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#" else { throw ParseError(line: lineNo, message: "bad comment") }
                let name = String(parts[2])
                switch parts[1] {
                case "HELP":
                    guard result.help[name] == nil else { throw ParseError(line: lineNo, message: "second HELP for \(name)") }
                    result.help[name] = try unescape(parts.count > 3 ? String(parts[3]) : "", allowQuote: openMetrics, line: lineNo)
                    result.events.append("HELP \(name)")
                case "TYPE":
                    guard result.type[name] == nil else { throw ParseError(line: lineNo, message: "second TYPE for \(name)") }
                    guard parts.count == 4 else { throw ParseError(line: lineNo, message: "bad TYPE") }
                    result.type[name] = String(parts[3])
                    result.events.append("TYPE \(name)")
                default:
                    throw ParseError(line: lineNo, message: "unexpected comment")
                }
                continue
            }
            result.samples.append(try parseSample(line, line: lineNo))
            result.events.append("SAMPLE \(result.samples.last!.name)")
        }
        if openMetrics && !result.sawEOF { throw ParseError(line: lines.count, message: "missing # EOF") }
        return result
    }

    static func parseSample(_ line: String, line lineNo: Int) throws -> ParsedSample {
        var chars = Array(line.unicodeScalars)[...]
        var name = ""
        while let c = chars.first, c != "{", c != " " {
            name.unicodeScalars.append(c)
            chars = chars.dropFirst()
        }
        guard !name.isEmpty else { throw ParseError(line: lineNo, message: "no metric name") }
        var labels: [String: String] = [:]
        var order: [String] = []
        if chars.first == "{" {
            chars = chars.dropFirst()
            while chars.first != "}" {
                var labelName = ""
                while let c = chars.first, c != "=" {
                    labelName.unicodeScalars.append(c)
                    chars = chars.dropFirst()
                }
                guard chars.first == "=" else { throw ParseError(line: lineNo, message: "no = after label") }
                chars = chars.dropFirst()
                guard chars.first == "\"" else { throw ParseError(line: lineNo, message: "no opening quote") }
                chars = chars.dropFirst()
                var value = ""
                while true {
                    guard let c = chars.first else { throw ParseError(line: lineNo, message: "unterminated value") }
                    chars = chars.dropFirst()
                    if c == "\"" { break }
                    if c == "\\" {
                        guard let e = chars.first else { throw ParseError(line: lineNo, message: "dangling escape") }
                        chars = chars.dropFirst()
                        switch e {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw ParseError(line: lineNo, message: "bad escape \\\(e)")
                        }
                    } else {
                        value.unicodeScalars.append(c)
                    }
                }
                guard labels[labelName] == nil else { throw ParseError(line: lineNo, message: "duplicate label \(labelName)") }
                labels[labelName] = value
                order.append(labelName)
                if chars.first == "," { chars = chars.dropFirst() }
            }
            chars = chars.dropFirst()
        }
        guard chars.first == " " else { throw ParseError(line: lineNo, message: "no space before value") }
        chars = chars.dropFirst()
        var valueText = ""
        for c in chars { valueText.unicodeScalars.append(c) }
        let value: Double
        switch valueText {
        case "NaN": value = .nan
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        default:
            guard let v = Double(valueText), !valueText.contains(" ") else {
                throw ParseError(line: lineNo, message: "bad value \(valueText)")
            }
            value = v
        }
        return ParsedSample(name: name, labels: labels, labelNames: order, value: value)
    }

    static func unescape(_ s: String, allowQuote: Bool, line: Int) throws -> String {
        var out = ""
        var it = s.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\\" {
                guard let e = it.next() else { throw ParseError(line: line, message: "dangling escape in HELP") }
                switch e {
                case "\\": out += "\\"
                case "n": out += "\n"
                case "\"" where allowQuote: out += "\""
                default: throw ParseError(line: line, message: "bad escape in HELP")
                }
            } else {
                if c == "\"" && allowQuote { throw ParseError(line: line, message: "unescaped quote in OpenMetrics HELP") }
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

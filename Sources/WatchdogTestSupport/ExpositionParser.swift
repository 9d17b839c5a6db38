import Foundation

/// A small, independent reader of the Prometheus text format for assertions: it knows nothing of
/// the renderer's code and rejects lines it does not understand.
public struct ParsedSample: Equatable, Sendable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
}

public struct ExpositionParseError: Error, CustomStringConvertible {
    public let line: String
    public let reason: String
    public var description: String { "\(reason): \(line)" }
}

public func parseExposition(_ text: String) throws -> [ParsedSample] {
    var samples: [ParsedSample] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.isEmpty || line.hasPrefix("#") { continue }
        var chars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < chars.count, chars[i] != "{", chars[i] != " " { name.unicodeScalars.append(chars[i]); i += 1 }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while i < chars.count, chars[i] != "}" {
                var key = ""
                while i < chars.count, chars[i] != "=" { key.unicodeScalars.append(chars[i]); i += 1 }
                i += 1
                guard i < chars.count, chars[i] == "\"" else { throw ExpositionParseError(line: String(line), reason: "label value not quoted") }
                i += 1
                var value = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\" {
                        i += 1
                        guard i < chars.count else { break }
                        switch chars[i] {
                        case "n": value += "\n"
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        default: throw ExpositionParseError(line: String(line), reason: "bad escape")
                        }
                    } else {
                        value.unicodeScalars.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { throw ExpositionParseError(line: String(line), reason: "unterminated label value") }
                i += 1
                labels[key] = value
                if i < chars.count, chars[i] == "," { i += 1 }
            }
            guard i < chars.count else { throw ExpositionParseError(line: String(line), reason: "unterminated label set") }
            i += 1
        }
        chars = Array(chars[i...])
        let rest = String(String.UnicodeScalarView(chars)).trimmingCharacters(in: .whitespaces)
        let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(valueText) else { throw ExpositionParseError(line: String(line), reason: "bad value") }
            value = v
        }
        samples.append(ParsedSample(name: name, labels: labels, value: value))
    }
    return samples
}

extension Array where Element == ParsedSample {
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }
}

/// The two wire formats, and HTTP content negotiation between them.
public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text format 0.0.4 (the default).
    case text
    /// OpenMetrics text format 1.0.0.
    case openMetrics

    public static let textContentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let openMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    /// The value of the `Content-Type` response header.
    public var contentType: String {
        switch self {
        case .text: return Self.textContentType
        case .openMetrics: return Self.openMetricsContentType
        }
    }

    /// Picks the format for an `Accept` request header.
    ///
    /// OpenMetrics is chosen when the header offers `application/openmetrics-text` (with no
    /// `version` parameter or `version=1.0.0`) at a q-value above 0 and at least as high as the
    /// best q-value offered for the text format (`text/plain` with no version or `version=0.0.4`,
    /// `text/*`, `*/*`). Everything else, including a missing or unparsable header, answers text.
    /// Wildcards never select OpenMetrics: it must be asked for by name.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept, !accept.isEmpty else { return .text }
        var bestOpenMetrics = 0.0
        var bestText = 0.0
        for range in accept.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = range.split(separator: ";", omittingEmptySubsequences: false)
            guard let first = parts.first else { continue }
            let mediaType = first.trimmingASCIIWhitespace().lowercased()
            var q = 1.0
            var version: String? = nil
            for param in parts.dropFirst() {
                let kv = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2 else { continue }
                let key = kv[0].trimmingASCIIWhitespace().lowercased()
                var value = kv[1].trimmingASCIIWhitespace()
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                    value = String(value.dropFirst().dropLast())
                }
                switch key {
                case "q":
                    // An unparsable q makes the range unusable (RFC 9110 qvalue syntax); be strict.
                    if let parsed = Double(value), parsed >= 0, parsed <= 1 { q = parsed } else { q = 0 }
                case "version":
                    version = value
                default:
                    break
                }
            }
            switch mediaType {
            case "application/openmetrics-text":
                if version == nil || version == "1.0.0" { bestOpenMetrics = max(bestOpenMetrics, q) }
            case "text/plain":
                if version == nil || version == "0.0.4" { bestText = max(bestText, q) }
            case "text/*", "*/*":
                bestText = max(bestText, q)
            default:
                break
            }
        }
        if bestOpenMetrics > 0 && bestOpenMetrics >= bestText { return .openMetrics }
        return .text
    }
}

extension Substring {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Why a raw value was rejected; `ConfigLoader` wraps it into a `ConfigError` with key and source.
struct ValueError: Error, Sendable, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// How one kind of value is parsed, validated, rendered and documented.
///
/// All three sources go through the same `parse`: flags and environment variables are strings
/// anyway, and for the file the *raw text* of the YAML scalar is used rather than YAML's typed
/// interpretation. That keeps the accepted syntax identical everywhere (a value that works in a flag
/// works in the file) and avoids YAML turning `1.40` into the float 1.4 or `0700` into octal.
///
/// `format` must produce text that `parse` maps back to the same value; the registry tests check
/// this for every default, which keeps the documented defaults honest.
public struct ValueType<Value: Sendable & Equatable>: Sendable {
    /// Type column of the reference table, e.g. `duration (> 0)`.
    let summary: String
    /// Placeholder in `--help`, e.g. `DURATION`.
    let placeholder: String
    /// Booleans may be given as a bare flag (`--flag` means true).
    let isBool: Bool
    let parse: @Sendable (String) throws(ValueError) -> Value
    let format: @Sendable (Value) -> String
}

/// Quotes a user-supplied value for an error message; long values are cut so one bad line cannot
/// flood the terminal.
func quoted(_ raw: String) -> String {
    let cut = raw.count > 80 ? String(raw.prefix(80)) + "…" : raw
    var out = "\""
    for scalar in cut.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Trims spaces and tabs and other horizontal white space (Unicode category Zs), not line breaks:
/// what Foundation's `trimmingCharacters(in: .whitespaces)` did, without Foundation.
func trimmedWhitespace<S: StringProtocol>(_ s: S) -> String {
    func isWhitespace(_ c: Character) -> Bool {
        c == "\t" || c.unicodeScalars.allSatisfy { $0.properties.generalCategory == .spaceSeparator }
    }
    var sub = Substring(s)
    while let f = sub.first, isWhitespace(f) { sub.removeFirst() }
    while let l = sub.last, isWhitespace(l) { sub.removeLast() }
    return String(sub)
}

private func trimmed(_ s: String) -> String {
    var sub = Substring(s)
    while let f = sub.first, f == " " || f == "\t" { sub.removeFirst() }
    while let l = sub.last, l == " " || l == "\t" { sub.removeLast() }
    return String(sub)
}

// MARK: - Duration

/// Nanoseconds per unit, Go's `time.ParseDuration` units.
private let durationUnits: [(String, Int64)] = [
    ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000),
    ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
]

/// Parses `<digits>[.<digits>]` at the start of `s` and scales it to nanoseconds of `unitNanos`.
/// Returns nil when there is no number, `.some(nil)` on overflow. The whole part is exact integer
/// arithmetic; the fraction goes through Double and is rounded to the nanosecond, which is exact
/// for any fraction a person writes (`0.1s` is 100ms, `1.5h` is 1h30m).
private func scaledDecimal(_ s: inout Substring, unitNanos: Int64) -> Int64?? {
    let intDigits = s.prefix { $0.isASCII && $0.isNumber }
    s = s.dropFirst(intDigits.count)
    var fracDigits = Substring("")
    if s.first == "." {
        s = s.dropFirst()
        fracDigits = s.prefix { $0.isASCII && $0.isNumber }
        s = s.dropFirst(fracDigits.count)
    }
    if intDigits.isEmpty && fracDigits.isEmpty { return nil }  // no number at all
    var whole: Int64 = 0
    for c in intDigits {
        let (m, o1) = whole.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int64(c.wholeNumberValue!))
        if o1 || o2 { return .some(nil) }
        whole = a
    }
    let (scaled, o) = whole.multipliedReportingOverflow(by: unitNanos)
    if o { return .some(nil) }
    // Fraction: keep at most 18 digits, enough for nanosecond precision of any unit.
    var frac: Int64 = 0
    var denom: Int64 = 1
    for c in fracDigits.prefix(18) {
        frac = frac * 10 + Int64(c.wholeNumberValue!)
        denom *= 10
    }
    let fracNanos = Int64((Double(frac) / Double(denom) * Double(unitNanos)).rounded())
    let (total, o3) = scaled.addingReportingOverflow(fracNanos)
    return o3 ? .some(nil) : .some(total)
}

/// Go-style durations: `250ms`, `10s`, `5m`, `1h30m`, `1.5s`; a bare number means seconds
/// (so YAML `interval: 10` and `--flag 10` both work). The range is limited to what fits in Int64
/// nanoseconds (about 292 years), which no timeout or interval needs to exceed.
func parseDuration(_ raw: String) throws(ValueError) -> Duration {
    let usage = "expected a duration such as 250ms, 10s, 5m or 1h30m (a bare number means seconds), got \(quoted(raw))"
    var s = Substring(trimmed(raw))
    var negative = false
    if s.first == "-" || s.first == "+" {
        negative = s.first == "-"
        s = s.dropFirst()
    }
    if s.isEmpty { throw ValueError(usage) }
    // A bare number: seconds.
    if s.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }) {
        var copy = s
        guard case .some(let maybe) = scaledDecimal(&copy, unitNanos: 1_000_000_000), copy.isEmpty else {
            throw ValueError(usage)
        }
        guard let ns = maybe else { throw ValueError("duration \(quoted(raw)) is too large") }
        return .nanoseconds(negative ? -ns : ns)
    }
    var total: Int64 = 0
    while !s.isEmpty {
        // Measure the number first so we can find the unit, then parse it against that unit.
        let numberLength = s.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }.count
        let afterNumber = s.dropFirst(numberLength)
        let unitText = afterNumber.prefix { !($0.isASCII && $0.isNumber) && $0 != "." }
        guard numberLength > 0, let unit = durationUnits.first(where: { $0.0 == unitText }) else {
            throw ValueError(usage)
        }
        var numberPart = s.prefix(numberLength)
        guard case .some(let maybe) = scaledDecimal(&numberPart, unitNanos: unit.1), numberPart.isEmpty else {
            throw ValueError(usage)
        }
        guard let ns = maybe else { throw ValueError("duration \(quoted(raw)) is too large") }
        let (sum, overflow) = total.addingReportingOverflow(ns)
        if overflow { throw ValueError("duration \(quoted(raw)) is too large") }
        total = sum
        s = afterNumber.dropFirst(unitText.count)
    }
    return .nanoseconds(negative ? -total : total)
}

/// Renders a duration the way a person would write it (`1h30m`, `250ms`, `2m`); `parseDuration`
/// reads it back exactly.
func formatDuration(_ d: Duration) -> String {
    let (seconds, attoseconds) = d.components
    var ns = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    if ns == 0 { return "0s" }
    var out = ""
    if ns < 0 {
        out = "-"
        ns = -ns
    }
    let parts: [(Int64, String)] = [
        (3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"),
        (1_000_000, "ms"), (1_000, "us"), (1, "ns"),
    ]
    for (size, unit) in parts where ns >= size {
        out += "\(ns / size)\(unit)"
        ns %= size
    }
    return out
}

// MARK: - Byte size

private let byteUnits: [(String, Int64)] = [
    ("", 1), ("b", 1),
    ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
    ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40), ("pib", 1 << 50),
]

/// `5GiB`, `500MB`, `1.5GiB`, `1024` (bytes). Units are case-insensitive. Single-letter units
/// (`5G`) are rejected on purpose: Docker's CLI reads them as binary and many people read them as
/// decimal, a 7% difference that matters for disk thresholds.
func parseByteSize(_ raw: String) throws(ValueError) -> Int64 {
    let usage = "expected a byte size such as 1024, 500MB or 5GiB, got \(quoted(raw))"
    let s = trimmed(raw)
    let number = s.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
    let unitText = trimmed(String(s.dropFirst(number.count))).lowercased()
    guard !number.isEmpty else { throw ValueError(usage) }
    guard let unit = byteUnits.first(where: { $0.0 == unitText }) else {
        if ["k", "m", "g", "t", "p", "ki", "mi", "gi", "ti", "pi"].contains(unitText) {
            throw ValueError("ambiguous unit in \(quoted(raw)): write \(unitText.prefix(1).uppercased())B (decimal) or \(unitText.prefix(1).uppercased())iB (binary)")
        }
        throw ValueError(usage)
    }
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = parts[0].isEmpty ? 0 : Int64(parts[0]) else {
        throw ValueError(usage)
    }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: unit.1)
    if overflow { throw ValueError("byte size \(quoted(raw)) is too large") }
    var result = scaled
    if parts.count == 2 {
        let fracText = parts[1].prefix(18)
        guard !fracText.isEmpty || !parts[0].isEmpty, let frac = fracText.isEmpty ? 0 : Int64(fracText) else {
            throw ValueError(usage)
        }
        var denom: Int64 = 1
        for _ in fracText { denom *= 10 }
        // Whole bytes only: round down, a fraction of a byte is never meaningful.
        let extra = Int64(Double(frac) / Double(denom) * Double(unit.1))
        let (sum, o) = result.addingReportingOverflow(extra)
        if o { throw ValueError("byte size \(quoted(raw)) is too large") }
        result = sum
    }
    return result
}

/// Largest exact unit, binary first (`1GiB`, `500MB`, `1023B`).
func formatByteSize(_ bytes: Int64) -> String {
    if bytes == 0 { return "0B" }
    for (name, size) in [("PiB", Int64(1) << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
    where bytes % size == 0 {
        return "\(bytes / size)\(name)"
    }
    for (name, size) in [("PB", Int64(1_000_000_000_000_000)), ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000)]
    where bytes % size == 0 {
        return "\(bytes / size)\(name)"
    }
    return "\(bytes)B"
}

// MARK: - Addresses

/// A hostname or IP literal as it may appear before `:port`. Deliberately permissive about what a
/// hostname is (resolution decides), strict about characters that can only be typos.
private func isValidHost(_ host: Substring) -> Bool {
    host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" || $0 == "%") }
}

private func isValidIPv6Literal(_ host: Substring) -> Bool {
    host.contains(":") && host.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" || $0.isLetter || $0.isNumber) }
}

/// Splits `host:port`, `:port` or `[v6]:port`; `host` comes back without brackets.
private func splitHostPort(_ s: Substring, usage: String) throws(ValueError) -> (host: String, port: Substring) {
    if s.first == "[" {
        guard let close = s.firstIndex(of: "]") else { throw ValueError(usage) }
        let host = s[s.index(after: s.startIndex)..<close]
        let rest = s[s.index(after: close)...]
        guard isValidIPv6Literal(host), rest.first == ":" else { throw ValueError(usage) }
        return (String(host), rest.dropFirst())
    }
    guard let colon = s.lastIndex(of: ":") else { throw ValueError(usage) }
    let host = s[..<colon]
    if host.contains(":") {
        throw ValueError("IPv6 addresses need brackets, e.g. [::1]:9734; got \(quoted(String(s)))")
    }
    guard isValidHost(host) else { throw ValueError(usage) }
    return (String(host), s[s.index(after: colon)...])
}

private func parsePort(_ p: Substring, allowZero: Bool, raw: String) throws(ValueError) -> Int {
    guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(p) else {
        throw ValueError("invalid port \(quoted(String(p))) in \(quoted(raw))")
    }
    guard port <= 65535, allowZero || port > 0 else {
        throw ValueError("port \(port) out of range \(allowZero ? 0 : 1)...65535 in \(quoted(raw))")
    }
    return port
}

func parseListenAddress(_ raw: String) throws(ValueError) -> ListenAddress {
    let usage = "expected host:port, :port or [ipv6]:port, got \(quoted(raw))"
    let s = Substring(trimmed(raw))
    let (host, portText) = try splitHostPort(s, usage: usage)
    return ListenAddress(host: host, port: try parsePort(portText, allowZero: true, raw: raw))
}

/// `unix:///path`, `tcp://host[:port]` (port defaults to 2375, as with the docker CLI) and
/// `http://` (treated as tcp, since that is what it means on the wire). TLS (`https://`, 2376) and
/// `ssh://` are rejected rather than silently downgraded: the transport speaks plain HTTP only.
func parseDockerHost(_ raw: String) throws(ValueError) -> DockerHost {
    let usage = "expected unix:///path/to/docker.sock or tcp://host:port, got \(quoted(raw))"
    let s = trimmed(raw)
    guard let sep = s.firstRange(of: "://") else {
        if s.hasPrefix("/") {
            throw ValueError("expected a URL, not a bare path: did you mean unix://\(s)?")
        }
        throw ValueError(usage)
    }
    let scheme = s[..<sep.lowerBound].lowercased()
    let rest = s[sep.upperBound...]
    switch scheme {
    case "unix":
        guard rest.hasPrefix("/"), rest.count > 1 else {
            throw ValueError("unix socket path must be absolute (unix:///var/run/docker.sock), got \(quoted(raw))")
        }
        return .unix(path: String(rest))
    case "tcp", "http":
        var authority = rest
        if authority.last == "/" { authority = authority.dropLast() }
        if authority.contains("/") {
            throw ValueError("a path after the address is not supported, got \(quoted(raw))")
        }
        guard !authority.isEmpty else { throw ValueError(usage) }
        let hasPort = authority.first == "[" ? authority.contains("]:") : authority.contains(":")
        if !hasPort { authority += ":2375" }
        let (host, portText) = try splitHostPort(authority, usage: usage)
        guard !host.isEmpty else { throw ValueError("missing host in \(quoted(raw))") }
        return .tcp(host: host, port: try parsePort(portText, allowZero: false, raw: raw))
    default:
        throw ValueError("unsupported scheme \(quoted(scheme + "://")): use unix:// or tcp:// (TLS and ssh are not supported), got \(quoted(raw))")
    }
}

// MARK: - The value types used by the registry

extension ValueType where Value == Duration {
    /// `positive`: zero and negative are rejected. Intervals and timeouts are positive because a
    /// zero interval is a busy loop and a zero timeout fails every call.
    public static func duration(positive: Bool) -> ValueType {
        ValueType(
            summary: positive ? "duration (> 0)" : "duration",
            placeholder: "DURATION",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> Duration in
                let d = try parseDuration(raw)
                if positive && d <= .zero {
                    throw ValueError("must be a positive duration, got \(quoted(raw))")
                }
                return d
            },
            format: formatDuration
        )
    }
}

extension ValueType where Value == Int {
    public static func integer(_ range: ClosedRange<Int>) -> ValueType {
        ValueType(
            summary: "integer (\(range.lowerBound)–\(range.upperBound))",
            placeholder: "INT",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> Int in
                guard let v = Int(trimmed(raw)) else {
                    throw ValueError("expected an integer, got \(quoted(raw))")
                }
                guard range.contains(v) else {
                    throw ValueError("must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
                }
                return v
            },
            format: { String($0) }
        )
    }
}

extension ValueType where Value == Int64 {
    /// Byte counts are Int64 because Docker's API and statfs report sizes that overflow Int32
    /// and `Int64` is what the `system/df` JSON decodes to.
    public static func byteSize(_ range: ClosedRange<Int64> = 0...Int64.max) -> ValueType {
        let bounds = range == 0...Int64.max ? "" : " (\(formatByteSize(range.lowerBound))–\(formatByteSize(range.upperBound)))"
        return ValueType(
            summary: "byte size\(bounds)",
            placeholder: "BYTES",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> Int64 in
                let v = try parseByteSize(raw)
                guard range.contains(v) else {
                    throw ValueError("must be between \(formatByteSize(range.lowerBound)) and \(formatByteSize(range.upperBound)), got \(quoted(raw))")
                }
                return v
            },
            format: formatByteSize
        )
    }
}

extension ValueType where Value == Double {
    /// A fraction, written `0.1` or `10%`. Stored as the fraction (0.1).
    public static func ratio(_ range: ClosedRange<Double> = 0...1) -> ValueType {
        ValueType(
            summary: range == 0...1 ? "ratio (0–1 or 0%–100%)" : "ratio (\(range.lowerBound)–\(range.upperBound))",
            placeholder: "RATIO",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> Double in
                var s = trimmed(raw)
                var scale = 1.0
                if s.hasSuffix("%") {
                    s = trimmed(String(s.dropLast()))
                    scale = 100
                }
                // Double() would also accept "nan", "inf" and hex floats; allow plain decimals only.
                guard !s.isEmpty,
                    s.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." || $0 == "-" || $0 == "+" }),
                    let v = Double(s), v.isFinite
                else {
                    throw ValueError("expected a ratio such as 0.1 or 10%, got \(quoted(raw))")
                }
                let ratio = v / scale
                guard range.contains(ratio) else {
                    throw ValueError("must be between \(range.lowerBound) and \(range.upperBound) (\(range.lowerBound * 100)%–\(range.upperBound * 100)%), got \(quoted(raw))")
                }
                return ratio
            },
            format: { "\($0)" }
        )
    }
}

extension ValueType where Value == Bool {
    public static var bool: ValueType {
        ValueType(
            summary: "bool",
            placeholder: "",
            isBool: true,
            parse: { (raw: String) throws(ValueError) -> Bool in
                switch trimmed(raw).lowercased() {
                case "true", "yes", "on", "1": return true
                case "false", "no", "off", "0": return false
                default: throw ValueError("expected true or false, got \(quoted(raw))")
                }
            },
            format: { $0 ? "true" : "false" }
        )
    }
}

extension ValueType where Value == String {
    /// Any string; `validate` returns a reason to reject, or nil.
    public static func string(
        summary: String = "string",
        placeholder: String = "STRING",
        validate: @escaping @Sendable (String) -> String? = { _ in nil }
    ) -> ValueType {
        ValueType(
            summary: summary,
            placeholder: placeholder,
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> String in
                if let reason = validate(raw) { throw ValueError(reason) }
                return raw
            },
            format: { $0 }
        )
    }

    /// An empty string or a regular expression that Swift's `Regex` accepts (the standard
    /// library's engine: no Foundation needed; its syntax is ICU's and PCRE's).
    public static var regularExpression: ValueType {
        .string(summary: "regular expression", placeholder: "REGEX") { raw in
            if raw.isEmpty { return nil }
            do {
                _ = try Regex(raw)
                return nil
            } catch {
                return "not a valid regular expression: \(quoted(raw))"
            }
        }
    }

    /// Comma-separated disk ladder steps.
    public static var diskSteps: ValueType {
        .string(summary: "comma-separated steps", placeholder: "STEPS") { raw in
            let known = ["build_cache", "dangling_images", "container_logs", "stopped_containers", "unused_images", "volumes"]
            for step in raw.split(separator: ",").map({ trimmedWhitespace($0) }) where !known.contains(step) {
                return "unknown step \(quoted(step)); expected some of \(known.joined(separator: ", "))"
            }
            return nil
        }
    }

    /// Comma-separated container label keys (letters, digits, `.`, `-`, `_`, `/`).
    public static var labelKeyList: ValueType {
        .string(summary: "comma-separated label keys", placeholder: "KEYS") { raw in
            for key in raw.split(separator: ",", omittingEmptySubsequences: false).map({ trimmedWhitespace($0) }) where !raw.isEmpty {
                if key.isEmpty { return "empty label key in \(quoted(raw))" }
                if !key.allSatisfy({ $0.isLetter || $0.isNumber || "._-/".contains($0) }) {
                    return "label key \(quoted(key)) has characters other than letters, digits, '.', '-', '_', '/'"
                }
            }
            return nil
        }
    }

    /// Must start with "/": it is matched against the request target verbatim.
    public static var urlPath: ValueType {
        .string(summary: "URL path", placeholder: "PATH") { raw in
            guard raw.hasPrefix("/") else { return "expected a URL path starting with \"/\", got \(quoted(raw))" }
            if raw.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace || ($0.asciiValue.map { $0 < 0x20 } ?? false) }) {
                return "URL path must not contain whitespace, \"?\" or \"#\", got \(quoted(raw))"
            }
            return nil
        }
    }

    /// Empty, or an absolute path. A relative path would be resolved against whatever the working
    /// directory happens to be, which in a container or under systemd is almost never intended.
    public static var optionalAbsolutePath: ValueType {
        .string(summary: "absolute path or empty", placeholder: "PATH") { raw in
            raw.isEmpty || raw.hasPrefix("/") ? nil : "expected an absolute path (or empty), got \(quoted(raw))"
        }
    }

    /// Empty (negotiate) or `1.NN`. Only API major version 1 exists.
    public static var apiVersion: ValueType {
        .string(summary: "empty or 1.NN", placeholder: "VERSION") { raw in
            if raw.isEmpty { return nil }
            let parts = raw.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == "1", (1...3).contains(parts[1].count),
                parts[1].allSatisfy({ $0.isASCII && $0.isNumber })
            {
                return nil
            }
            return "expected an API version such as 1.43 (or empty to negotiate), got \(quoted(raw))"
        }
    }
}

extension ValueType where Value == ListenAddress {
    public static var listenAddress: ValueType {
        ValueType(
            summary: "listen address (host:port)",
            placeholder: "ADDRESS",
            isBool: false,
            parse: parseListenAddress,
            format: { $0.description }
        )
    }
}

extension ValueType where Value == [ListenAddress] {
    /// One or more listen addresses, comma-separated (a repeated flag is joined the same way).
    public static var listenAddresses: ValueType {
        ValueType(
            summary: "listen addresses (host:port, comma-separated; the flag repeats)",
            placeholder: "ADDRESS",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> [ListenAddress] in
                let parts = raw.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                var out: [ListenAddress] = []
                for part in parts { out.append(try parseListenAddress(part)) }
                guard !out.isEmpty else { throw ValueError("expected at least one host:port") }
                guard Set(out).count == out.count else { throw ValueError("the same address twice in \(quoted(raw))") }
                return out
            },
            format: { $0.map(\.description).joined(separator: ",") }
        )
    }
}

extension ValueType where Value == DockerHost {
    public static var dockerHost: ValueType {
        ValueType(
            summary: "Docker host (unix:// or tcp://)",
            placeholder: "URL",
            isBool: false,
            parse: parseDockerHost,
            format: { $0.description }
        )
    }
}

extension ValueType where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// A closed set of words (a Swift enum with String raw values). Input is case-insensitive
    /// (`INFO` works, because environment variables are often upper-cased by habit); the error lists
    /// what is allowed.
    public static func enumeration(placeholder: String) -> ValueType {
        let names = Value.allCases.map(\.rawValue)
        return ValueType(
            summary: "one of: " + names.joined(separator: ", "),
            placeholder: placeholder,
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> Value in
                let wanted = trimmed(raw).lowercased()
                guard let v = Value.allCases.first(where: { $0.rawValue.lowercased() == wanted }) else {
                    throw ValueError("expected one of \(names.joined(separator: ", ")), got \(quoted(raw))")
                }
                return v
            },
            format: { $0.rawValue }
        )
    }
}

extension ValueType where Value == LabelSelector {
    /// A label selector (`key`, `key=value`, `key=`, or empty for none); see ``LabelSelector``.
    public static var labelSelector: ValueType {
        ValueType(
            summary: "label selector: key, key=value or key=",
            placeholder: "LABEL",
            isBool: false,
            parse: { (raw: String) throws(ValueError) -> LabelSelector in
                do throws(LabelSelectorError) {
                    return try LabelSelector(parsing: raw)
                } catch {
                    throw ValueError("\(error.reason) in \(quoted(raw))")
                }
            },
            format: { $0.description }
        )
    }
}

/// Number rendering for the exposition formats.
public enum FloatFormat {
    /// Integral values below 1e16 in magnitude print as plain integers (every double of that
    /// magnitude converts to Int64 exactly; from 1e16 on Swift's shortest form uses an exponent).
    static let exactIntegerLimit = 1e16

    /// A sample value: `NaN`, `+Inf`, `-Inf`; integral values without a decimal point;
    /// everything else in Swift's shortest round-trip form (e.g. `0.1`, `1.5e-07`, `1e+20`).
    public static func value(_ v: Double) -> String {
        var out: [UInt8] = []
        appendValue(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends a sample value (see ``value(_:)``) to a byte buffer without intermediate heap
    /// allocations for integral values.
    @inline(__always)
    static func appendValue(_ v: Double, to out: inout [UInt8]) {
        if v.isNaN {
            out.append(contentsOf: [0x4E, 0x61, 0x4E])  // NaN
            return
        }
        if v.isInfinite {
            out.append(v > 0 ? 0x2B : 0x2D)  // + / -
            out.append(contentsOf: [0x49, 0x6E, 0x66])  // Inf
            return
        }
        if v > -exactIntegerLimit && v < exactIntegerLimit {
            let i = Int64(v)  // truncates; exact for integral values in this range
            if Double(i) == v {
                appendInteger(i, to: &out)
                return
            }
        }
        // Shortest round-trip. Doubles print in at most 24 bytes, which Swift keeps inline
        // (no heap allocation) up to 15 bytes.
        out.append(contentsOf: v.description.utf8)
    }

    @inline(__always)
    static func appendInteger(_ n: Int64, to out: inout [UInt8]) {
        if n == 0 {
            out.append(0x30)
            return
        }
        var magnitude = n.magnitude
        if n < 0 { out.append(0x2D) }
        // At most 20 digits, written right to left into a stack buffer.
        var buf:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &buf) { raw in
            while magnitude > 0 {
                raw[19 - count] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
                count += 1
            }
            out.append(contentsOf: raw[(20 - count)...])
        }
    }

    /// Go's `strconv.FormatFloat(v, 'g', -1, 64)`: shortest round-trip digits; exponent form when
    /// the decimal exponent is < -4 or >= 6, as Go does for the shortest form
    /// (`1e+06`, `100000`, `0.0001`, `1e-05`, `1.234567e+06`). Used for histogram `le` values in the text format,
    /// matching what client_golang exposes.
    public static func goG(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == 0 { return v.sign == .minus ? "-0" : "0" }
        let magnitude = Swift.abs(v)
        if magnitude < 1e6 || magnitude >= 1e17 {
            // Swift's shortest form agrees with Go's here (fixed notation from 1e-4 up, exponent
            // with at least two digits below and far above), apart from Swift's ".0" suffix.
            var s = v.description
            if s.hasSuffix(".0") { s.removeLast(2) }
            return s
        }
        let (negative, digits, pointPosition) = shortestDigits(v)
        // pointPosition: value = 0.d1d2d3... * 10^pointPosition (Go's digs.dp)
        let exp = pointPosition - 1
        var out = negative ? "-" : ""
        if exp < -4 || exp >= 6 {
            out.append(digits.first!)
            if digits.count > 1 {
                out.append(".")
                out.append(contentsOf: digits.dropFirst())
            }
            out.append("e")
            out.append(exp < 0 ? "-" : "+")
            let e = abs(exp)
            if e < 10 { out.append("0") }
            out.append(String(e))
            return out
        }
        if pointPosition <= 0 {
            out.append("0.")
            out.append(String(repeating: "0", count: -pointPosition))
            out.append(contentsOf: digits)
        } else if digits.count <= pointPosition {
            out.append(contentsOf: digits)
            out.append(String(repeating: "0", count: pointPosition - digits.count))
        } else {
            out.append(contentsOf: digits.prefix(pointPosition))
            out.append(".")
            out.append(contentsOf: digits.dropFirst(pointPosition))
        }
        return out
    }

    /// The OpenMetrics canonical rendering of `le`/`quantile` values: Go's `%g` with `.0` appended
    /// when there is neither a decimal point nor an exponent (`1.0`, `100000.0`, `1e+06`, `0.005`).
    public static func openMetricsCanonical(_ v: Double) -> String {
        var s = goG(v)
        if v.isFinite && !s.contains(".") && !s.contains("e") { s.append(".0") }
        return s
    }

    /// Decomposes a finite non-zero double into its shortest round-trip decimal digits, using
    /// Swift's own shortest representation (`description`).
    static func shortestDigits(_ v: Double) -> (negative: Bool, digits: String, pointPosition: Int) {
        var s = Substring(v.description)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() }
        var exponent = 0
        if let eIndex = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(s[s.index(after: eIndex)...]) ?? 0
            s = s[..<eIndex]
        }
        var intPart = Substring(s)
        var fracPart = Substring("")
        if let dot = s.firstIndex(of: ".") {
            intPart = s[..<dot]
            fracPart = s[s.index(after: dot)...]
        }
        var all = String(intPart) + String(fracPart)
        var point = intPart.count + exponent
        // strip leading zeros
        while all.first == "0" {
            all.removeFirst()
            point -= 1
        }
        // strip trailing zeros
        while all.last == "0" { all.removeLast() }
        if all.isEmpty { return (negative, "0", 1) }
        return (negative, all, point)
    }

    /// Parses a label value written as a float (`+Inf`, `-Inf`, `NaN`, Go or Swift notation).
    static func parse(_ s: String) -> Double? {
        switch s {
        case "+Inf", "Inf", "+inf", "inf": return .infinity
        case "-Inf", "-inf": return -.infinity
        case "NaN", "nan": return .nan
        default: return Double(s)
        }
    }
}

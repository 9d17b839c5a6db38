/// The few text helpers the watchdog used from Foundation, in plain Swift.
///
/// Why: `import Foundation` links all of swift-corelibs-foundation with ICU and CoreFoundation
/// (about 8 MB of code and 36 MB of data) into the binary, and the kernel keeps most of that code
/// resident (BENCHMARKS.md, resident memory). The watchdog's modules import `FoundationEssentials`
/// at most; what Essentials lacks (trimming, `String(format:)`) is here.

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, newlines): Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmingWhitespace() -> SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return self[first...last]
    }
}

/// `value` with exactly `fractionDigits` digits after the point, rounded half away from zero:
/// `String(format: "%.1f", value)` for the values the watchdog prints (percentages, milliseconds,
/// sizes, Unix times with nanoseconds). Not-a-number and infinities print as `nan`, `inf`, `-inf`.
public func fixedPoint(_ value: Double, fractionDigits: Int) -> String {
    precondition((0...9).contains(fractionDigits), "fractionDigits must be 0...9")
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    var scale: UInt64 = 1
    for _ in 0..<fractionDigits { scale *= 10 }
    let scaled = (value.magnitude * Double(scale)).rounded(.toNearestOrAwayFromZero)
    guard scaled < 1.8e19 else { return "\(value)" }  // past UInt64: never for what is printed here
    let units = UInt64(scaled)
    let sign = value < 0 && units != 0 ? "-" : ""
    let whole = units / scale
    guard fractionDigits > 0 else { return sign + String(whole) }
    return sign + String(whole) + "." + zeroPadded(units % scale, width: fractionDigits)
}

/// `n` in decimal with leading zeros up to `width` characters (a minus sign included):
/// `String(format: "%04d", n)`.
public func zeroPadded<T: BinaryInteger>(_ n: T, width: Int) -> String {
    let digits = String(n.magnitude)
    let sign = n < 0 ? "-" : ""
    let padding = sign.count + digits.count < width ? String(repeating: "0", count: width - sign.count - digits.count) : ""
    return sign + padding + digits
}

/// `n` in lower-case hexadecimal with leading zeros up to `width` digits: `String(format: "%04x", n)`.
public func hexPadded<T: BinaryInteger>(_ n: T, width: Int) -> String {
    let digits = String(n, radix: 16)
    return digits.count < width ? String(repeating: "0", count: width - digits.count) + digits : digits
}

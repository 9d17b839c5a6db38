import FoundationEssentials

/// Docker's timestamps: RFC 3339 with up to nanosecond precision
/// (`2026-11-22T01:02:03.123456789Z`, `2021-03-04T10:00:00+01:00`), and Go's zero time
/// `0001-01-01T00:00:00Z` for "never".
public enum DockerDate {
    /// Parses an RFC 3339 timestamp. Returns nil for Go's zero time (year 1, "unset") and for
    /// anything that is not a valid timestamp; never traps. Fractional digits beyond nanoseconds are
    /// ignored.
    public static func parse(_ text: String) -> Date? {
        var bytes = Array(text.utf8)[...]
        func number(_ count: Int) -> Int? {
            guard bytes.count >= count else { return nil }
            var n = 0
            for c in bytes.prefix(count) {
                guard c >= 0x30 && c <= 0x39 else { return nil }
                n = n * 10 + Int(c - 0x30)
            }
            bytes = bytes.dropFirst(count)
            return n
        }
        func expect(_ options: UInt8...) -> Bool {
            guard let c = bytes.first, options.contains(c) else { return false }
            bytes = bytes.dropFirst()
            return true
        }
        guard let year = number(4), expect(0x2D), let month = number(2), expect(0x2D), let day = number(2),
            expect(0x54, 0x74, 0x20),  // T t space
            let hour = number(2), expect(0x3A), let minute = number(2), expect(0x3A), let second = number(2)
        else { return nil }
        var nanos = 0
        if bytes.first == 0x2E {  // .
            bytes = bytes.dropFirst()
            var digits = 0
            while let c = bytes.first, c >= 0x30 && c <= 0x39 {
                if digits < 9 {
                    nanos = nanos * 10 + Int(c - 0x30)
                }
                digits += 1
                bytes = bytes.dropFirst()
            }
            guard digits > 0 else { return nil }
            if digits < 9 {
                for _ in digits..<9 { nanos *= 10 }
            }
        }
        var offsetSeconds = 0
        if expect(0x5A, 0x7A) {  // Z z
        } else if let sign = bytes.first, sign == 0x2B || sign == 0x2D {  // + -
            bytes = bytes.dropFirst()
            guard let oh = number(2), expect(0x3A), let om = number(2), oh < 24, om < 60 else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (sign == 0x2D ? -1 : 1)
        } else {
            return nil
        }
        guard bytes.isEmpty else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        if year == 1 && month == 1 && day == 1 && hour == 0 && minute == 0 && second == 0 && nanos == 0 {
            return nil  // Go's zero time.Time: "not set"
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + Swift.min(second, 59) - offsetSeconds
        // Relative to Foundation's reference date (2001-01-01) to keep the most precision.
        return Date(timeIntervalSinceReferenceDate: Double(seconds - 978_307_200) + Double(nanos) / 1e9)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

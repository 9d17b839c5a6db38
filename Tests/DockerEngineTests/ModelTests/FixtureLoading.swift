import Foundation
import Testing

/// Loads `Fixtures/<name>.json` from the test bundle.
func fixture(_ name: String) throws -> Data {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
        "fixture \(name).json missing from the test bundle")
    return try Data(contentsOf: url)
}

/// `"2026-11-22T01:57:08.89434891Z"` and friends, built by hand (independent of the code under test).
func utc(
    _ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int, nanos: Int = 0,
    offsetMinutes: Int = 0
) -> Date {
    var components = DateComponents()
    components.year = year
    components.month = month
    components.day = day
    components.hour = hour
    components.minute = minute
    components.second = second
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let whole = calendar.date(from: components)!
    return whole.addingTimeInterval(Double(nanos) / 1e9 - Double(offsetMinutes * 60))
}

/// Dates equal to the microsecond (Date is a Double; parsing and building by hand may round apart).
func close(_ a: Date?, _ b: Date) -> Bool {
    guard let a else { return false }
    return abs(a.timeIntervalSince(b)) < 1e-6
}

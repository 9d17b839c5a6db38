import Foundation
import Locking
import Testing
import TextFormatting
@testable import DockerEngine
@testable import Watchdog

/// The helpers that replace what the watchdog's modules used from Foundation (which the watchdog no
/// longer links), each checked against the Foundation call it replaces; the tests may use Foundation.
@Suite("Foundation-free helpers")
struct FoundationFreeHelpersTests {
    @Test func fixedPointPrintsWhatStringFormatPrints() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 0.05, 0.15, 1.25, 99.95, 100, -3.14159, 1e-9, 123_456.789, 1_763_800_000.123456789]
        for _ in 0..<2000 {
            let magnitude = [1.0, 100, 1e4, 1e9][Int.random(in: 0..<4, using: &rng)]
            values.append(Double.random(in: -magnitude...magnitude, using: &rng))
        }
        for value in values {
            for digits in [0, 1, 3, 9] where value.magnitude * pow(10, Double(digits)) < 1e15 {
                let ours = fixedPoint(value, fractionDigits: digits)
                let theirs = String(format: "%.\(digits)f", value)
                // printf rounds the exact binary value half to even; ours rounds the scaled double
                // half away from zero: they may differ in the last digit only at an exact tie.
                if ours != theirs {
                    let a = Double(ours)!, b = Double(theirs)!
                    #expect((a - b).magnitude <= pow(10, -Double(digits)) * 1.0000001, "\(value) with \(digits) digits: \(ours) vs \(theirs)")
                    #expect(ours.count == theirs.count || ours.hasPrefix("-") != theirs.hasPrefix("-"), "\(value): \(ours) vs \(theirs)")
                }
            }
        }
        #expect(fixedPoint(12.345, fractionDigits: 1) == "12.3")
        #expect(fixedPoint(-0.04, fractionDigits: 1) == "0.0")
        #expect(fixedPoint(.nan, fractionDigits: 1) == "nan")
        #expect(fixedPoint(-.infinity, fractionDigits: 2) == "-inf")
    }

    @Test func paddingAndTrimmingMatchFoundation() {
        for n in [0, 7, 42, 999, 1000, 123_456, -5] {
            #expect(zeroPadded(n, width: 4) == String(format: "%04d", n))
            #expect(hexPadded(UInt32(n.magnitude), width: 4) == String(format: "%04x", UInt32(n.magnitude)))
        }
        for text in ["", "   ", " a ", "\t a b \n", "a", " \u{00A0}x\u{2003} ", "\r\nkey: value\r\n"] {
            #expect(String(text.trimmingWhitespace()) == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
    }

    @Test func percentEncodingLeavesOnlyUnreservedCharacters() {
        for text in ["abc-._~XYZ019", "a b/c?d=e&f", "{\"type\":[\"container\"]}", "é✓", ""] {
            var unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            unreserved.insert(charactersIn: "-._~")
            #expect(DockerClient.percentEncode(text) == text.addingPercentEncoding(withAllowedCharacters: unreserved), "\(text)")
            #expect(DockerClient.percentEncode(text).removingPercentEncoding == text)
        }
    }

    @Test func timedLockWaitsAtMostItsTimeoutAndTakesAFreeLock() {
        let lock = PlainLock()
        #expect(lock.lock(within: .zero))  // free: taken at once
        let start = ContinuousClock.now
        #expect(!lock.lock(within: .milliseconds(200)))  // held by us, not recursive
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(190) && waited < .seconds(5), "waited \(waited)")
        lock.unlock()
        #expect(lock.lock(within: .milliseconds(10)))
        lock.unlock()
    }

    @Test func threadsRunTheirBodyUnderTheirName() {
        let seen = Mutex<String?>(nil)
        let done = PlainLock()
        done.lock()
        startThread(name: "test-thread-name-too-long") {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .whitespacesAndNewlines) }
            done.unlock()
        }
        #expect(done.lock(within: .seconds(10)))
        #expect(seen.withLock { $0 } == "test-thread-nam")  // the kernel keeps 15 bytes
    }

    @Test func sleepThreadSleepsAtLeastItsDuration() {
        let start = ContinuousClock.now
        sleepThread(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        sleepThread(for: .seconds(-1))  // returns at once
    }

    @Test func namePatternsSearchAnywhereInTheName() throws {
        let pattern = try #require(NamePattern("^web-[0-9]+$"))
        #expect(pattern.matches("web-12"))
        #expect(!pattern.matches("web-x"))
        #expect(try #require(NamePattern("db")).matches("prod-db-1"))
        #expect(NamePattern("") == nil)
        #expect(NamePattern("(unclosed") == nil)
    }
}

import FakeDockerEngine
import Foundation
import Locking
import Testing
import WatchdogConfig
import TextFormatting
@testable import DockerEngine
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import ResponseBodies

/// The helpers that replace what the watchdog's modules used from Foundation (which the watchdog no
/// longer links), each checked against the Foundation call it replaces; the tests may use Foundation.
@Suite("Foundation-free helpers")
struct FoundationFreeHelpersTests {
    /// printf prints the exact binary value rounded half to even; `fixedPoint` rounds the scaled
    /// double half away from zero. Below 10^15 units of the last digit the scaled double is exact
    /// to within half a unit, so the two may differ by one unit in the last digit and only there.
    @Test func fixedPointPrintsWhatStringFormatPrints() {
        var rng = SplitMix64(seed: 0x5EED)  // seeded, so that a failure reproduces
        var values: [Double] = [0, -0.0, 0.05, 0.15, 1.25, 99.95, 100, -3.14159, 1e-9, 123_456.789, 1_763_800.123456789]
        for _ in 0..<2000 {
            let magnitude = [1.0, 100, 1e4, 1e6][Int.random(in: 0..<4, using: &rng)]
            values.append(Double.random(in: -magnitude...magnitude, using: &rng))
        }
        for value in values {
            for digits in [0, 1, 3, 9] where value.magnitude * pow(10, Double(digits)) < 1e15 {
                let ours = fixedPoint(value, fractionDigits: digits)
                let theirs = String(format: "%.\(digits)f", value)
                guard ours != theirs else { continue }
                // As integers in units of the last digit ("-0.0" and "0.0" are both 0).
                func units(_ text: String) -> Int { Int(text.replacing(".", with: ""))! }
                #expect(abs(units(ours) - units(theirs)) <= 1, "\(value) with \(digits) digits: \(ours) vs \(theirs)")
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

    /// The lock is held by another thread (a pthread mutex must be unlocked by its owner, and
    /// ThreadSanitizer's deadlock detector checks that), and semaphores do the signalling.
    @Test func timedLockWaitsAtMostItsTimeoutAndTakesAFreeLock() {
        let lock = PlainLock()
        #expect(lock.lock(within: .zero))  // free: taken at once
        lock.unlock()
        let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0)
        startThread(name: "lock-holder") {
            lock.lock()
            held.signal()
            release.wait()
            lock.unlock()
            released.signal()
        }
        #expect(held.wait(timeout: .now() + 10) == .success)
        let start = ContinuousClock.now
        #expect(!lock.lock(within: .milliseconds(200)))  // held elsewhere: gives up after the timeout
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(190) && waited < .seconds(5), "waited \(waited)")
        release.signal()
        #expect(released.wait(timeout: .now() + 10) == .success)
        #expect(lock.lock(within: .seconds(5)))
        lock.unlock()
    }

    @Test func threadsRunTheirBodyUnderTheirName() {
        let seen = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        startThread(name: "test-thread-name-too-long") {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .whitespacesAndNewlines) }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
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

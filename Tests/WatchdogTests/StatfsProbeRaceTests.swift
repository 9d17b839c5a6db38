import Foundation
import Testing
@testable import HostProbes

/// A measurement right after another must not find the first still "in flight": the disk policy
/// measures before and after every removal, and a failed measurement lost an action's bytes.
final class Atomic: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Bool
    init(_ value: Bool) { self.value = value }
    func load() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
    func store(_ v: Bool) { lock.lock(); value = v; lock.unlock() }
}

@Suite("statvfs probe: back-to-back measurements")
struct StatfsProbeRaceTests {
    @Test func aMeasurementRightAfterAnotherNeverFindsItStillInFlight() {
        let stats = FilesystemStats(sizeBytes: 100, freeBytes: 50, availableBytes: 50, files: 10, filesFree: 5, readOnly: false)
        let probe = StatfsProbe(statvfsCall: { _ in .success(stats) })
        // Readers of the probe's state on other threads (a status page asking `isHung`) make the
        // statvfs thread wait for the lock between handing over its answer and being done: the
        // moment in which the next call used to find it still in flight.
        let stop = Atomic(false)
        let spinners = (0..<3).map { _ in
            Thread {
                while !stop.load() { _ = probe.isHung }
            }
        }
        spinners.forEach { $0.start() }
        defer { stop.store(true) }
        var failures: [StatfsError] = []
        for _ in 0..<3000 {
            if case .failure(let e) = probe.stats(path: "/", timeout: .seconds(5)) { failures.append(e) }
        }
        #expect(failures.isEmpty, "\(failures.count) of 3000 back-to-back measurements failed, first: \(failures.first.map { "\($0)" } ?? "")")
    }
}

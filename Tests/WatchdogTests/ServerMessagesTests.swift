import Locking
import Logging
import Testing
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import ResponseBodies

/// The HTTP server's complaints: every one counted, at most one log line per interval, and the
/// next line says how many were left out (a client can cause one per connection).
@Suite("HTTP server messages")
struct ServerMessagesTests {
    /// Keeps what is logged, for the assertions.
    struct CapturingHandler: LogHandler {
        let lines: Mutex<[(message: String, metadata: Logger.Metadata)]>
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.withLock { $0.append(("\(event.message)", event.metadata ?? [:])) }
        }
    }

    @Test func everyMessageIsCountedButTheLogIsRateLimited() {
        let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
        let logger = Logger(label: "test", factory: { _ in CapturingHandler(lines: lines) })
        let counted = Mutex(0)
        let start = ContinuousClock.now
        let clock = Mutex(start)
        let messages = ServerMessages(
            logger: logger, interval: .seconds(10), count: { counted.withLock { $0 += 1 } }, now: { clock.withLock { $0 } })

        messages.receive("Error: received handshake message out of context.")
        for _ in 0..<49 { messages.receive("Error processing request (HTTP response code is 400). Closing connection.") }
        #expect(counted.withLock { $0 } == 50)
        #expect(lines.withLock { $0.count } == 1)
        #expect(lines.withLock { $0[0].metadata["message"] } == "Error: received handshake message out of context.")
        #expect(lines.withLock { $0[0].metadata["left_out"] } == nil)

        clock.withLock { $0 = start + .seconds(9) }
        messages.receive("still inside the interval")
        #expect(lines.withLock { $0.count } == 1)

        clock.withLock { $0 = start + .seconds(10) }
        messages.receive("the next line")
        #expect(counted.withLock { $0 } == 52)
        let last = lines.withLock { $0.last }
        #expect(lines.withLock { $0.count } == 2)
        #expect(last?.metadata["message"] == "the next line")
        #expect(last?.metadata["left_out"] == "50", "49 in the first interval and 1 at 9 s")

        clock.withLock { $0 = start + .seconds(25) }
        messages.receive("after a quiet interval")
        #expect(lines.withLock { $0.count } == 3)
        #expect(lines.withLock { $0.last?.metadata["left_out"] } == nil)
    }
}

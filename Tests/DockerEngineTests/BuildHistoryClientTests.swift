import DockerEngine
import FakeDockerEngine
import Foundation
import Testing

/// `buildHistory()` against the fake engine, whose `/grpc` never upgrades: an engine without the
/// endpoint, one that hangs, one that fails.
@Suite("Build history client (fake engine)")
struct BuildHistoryClientTests {
    func client(_ fake: FakeDockerEngine) -> DockerClient {
        DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: .seconds(5))
    }

    @Test func noGRPCEndpointMeansUnavailable() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let answer = try client(fake).buildHistory()
        #expect(answer == .unavailable("the engine has no /grpc endpoint (404)"))
        #expect(fake.requests.contains { $0.method == "POST" && $0.path == "/grpc" })
    }

    @Test func aHungGRPCTimesOutAtTheDeadline() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/grpc", .hang)
        let c = client(fake)
        let start = ContinuousClock.now
        #expect {
            _ = try c.buildHistory(timeout: .milliseconds(400))
        } throws: { error in
            guard case .timedOut = error as? DockerError else { return false }
            return true
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(c.stats.snapshot().failures["grpc.build_history"]?["timeout"] == 1)
    }

    @Test func anErrorStatusIsAnHTTPError() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/grpc", .error(status: 500, message: "no builder"))
        #expect(throws: DockerError.http(status: 500, message: "no builder", path: "/grpc")) {
            _ = try client(fake).buildHistory()
        }
    }
}

import DockerEngine
import Foundation
import Testing

/// `ListenBuildHistory` on a real engine named by WATCHDOG_TEST_DOCKER_HOST (skipped without one):
/// Docker 23 and later answer records with the fields the collector reads; 20.10 answers gRPC
/// UNIMPLEMENTED, Podman 404.
@Suite("BuildKit build history on a real engine")
struct BuildHistoryLiveTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKER_HOST"] != nil))
    func readsTheHistory() throws {
        let host = ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKER_HOST"]!
        let client = DockerClient(endpoint: DockerClient.parseEndpoint(host)!, requestTimeout: .seconds(10))
        let answer = try client.buildHistory()
        // WATCHDOG_TEST_ENGINE names the engine of a matrix run; the main run is Debian 12's 20.10.
        let engine = ProcessInfo.processInfo.environment["WATCHDOG_TEST_ENGINE"].flatMap { $0.isEmpty ? nil : $0 } ?? "debian12"
        switch answer {
        case .records(let records, let truncated):
            #expect(engine.hasPrefix("docker2"), "\(engine) has no build history: \(records.count) records")
            #expect(!truncated)
            for record in records {
                #expect(!record.ref.isEmpty)
                #expect(record.duration != nil)
                #expect(record.totalSteps >= record.completedSteps)
                #expect(record.completedSteps >= record.cachedSteps)
            }
        case .unavailable(let reason):
            switch engine {
            case "debian12": #expect(reason.contains("UNIMPLEMENTED"), "\(reason)")
            case let e where e.hasPrefix("podman"): #expect(reason.contains("404"), "\(reason)")
            default: Issue.record("\(engine) should have a build history: \(reason)")
            }
        }
    }
}

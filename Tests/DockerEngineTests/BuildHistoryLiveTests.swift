import DockerEngine
import Foundation
import Testing

/// `ListenBuildHistory` on a real engine named by WATCHDOG_TEST_DOCKER_HOST (skipped without one):
/// the answer decodes, and every record has the fields the collector reads.
@Suite("BuildKit build history on a real engine")
struct BuildHistoryLiveTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKER_HOST"] != nil))
    func readsTheHistory() throws {
        let host = ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKER_HOST"]!
        let client = DockerClient(endpoint: DockerClient.parseEndpoint(host)!, requestTimeout: .seconds(10))
        let answer = try client.buildHistory()
        print("build history: \(answer)")
        switch answer {
        case .records(let records, _):
            for record in records {
                #expect(!record.ref.isEmpty)
                #expect(record.duration != nil)
                #expect(record.totalSteps >= record.completedSteps)
            }
        case .unavailable(let reason):
            #expect(!reason.isEmpty)
        }
    }
}

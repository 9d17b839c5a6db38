import DockerEngine
import FakeDockerEngine
import Foundation
import Testing

/// The inspect scanner against `JSONDecoder` (the reference): answers captured from Debian's
/// dockerd 20.10, the benchmark's synthetic host, mutated answers, and its errors.
@Suite("Container inspect scanner")
struct ContainerInspectScannerTests {
    /// `curl --unix-socket … /v1.41/containers/NAME/json` from a private 20.10 daemon: healthy
    /// with `--restart unless-stopped` and a label with a quote and é, unhealthy (streak 8, five
    /// probe logs), exited 7, created, paused, and killed by the OOM killer.
    static let captured = ["web-1", "db-1", "exited-1", "created-only", "paused-1", "oom-1"].map { "inspect_dockerd-20.10_api-1.41_\($0)" }

    @Test func capturedAnswersMatchJSONDecoder() throws {
        var byName: [String: ContainerInspect] = [:]
        for name in Self.captured {
            let data = try fixture(name)
            let scanned = try ContainerInspect.decode(data)
            #expect(scanned == (try ContainerInspect.decodeWithJSONDecoder(data)), "\(name)")
            byName[scanned.name] = scanned
        }
        #expect(byName.count == 6)
        #expect(byName["web-1"]?.state.health?.status == "healthy")
        #expect(byName["web-1"]?.restartPolicy == "unless-stopped")
        #expect(byName["web-1"]?.config.labels["note"] == "quote \" é")
        #expect(byName["db-1"]?.state.health?.status == "unhealthy")
        #expect(byName["db-1"]?.state.health?.failingStreak == 8)
        #expect(byName["db-1"]?.state.health?.log.last?.exitCode == 3)
        #expect(byName["db-1"]?.state.health?.log.last?.output == "failing\n")
        #expect(byName["exited-1"]?.state.exitCode == 7)
        #expect(byName["created-only"]?.state.status == "created")
        #expect(byName["created-only"]?.state.startedAt == nil)  // 0001-01-01 is "never"
        #expect(byName["paused-1"]?.state.status == "paused")
        #expect(byName["oom-1"]?.state.oomKilled == true)
        #expect(byName["oom-1"]?.state.exitCode == 137)
        #expect(byName["oom-1"]?.state.startedAt != nil)
    }

    @Test func syntheticHostAnswersMatchJSONDecoder() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("inspect-scan-\(getpid()).sock").path
        let engine = try SyntheticDockerEngine(socketPath: socket, containers: 60)
        defer { engine.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(10), pinnedVersion: APIVersion("1.41"))
        var states: Set<String> = []
        for c in try client.listContainers() {
            let body = try client.get("/containers/\(c.id)/json", endpointName: "t")
            let scanned = try ContainerInspect.decode(body)
            #expect(scanned == (try ContainerInspect.decodeWithJSONDecoder(Data(body))))
            states.insert(scanned.state.health?.status ?? scanned.state.status)
        }
        #expect(states.count >= 3)
    }

    /// Every prefix of a real answer fails; seeded byte mutations never crash, and whenever the
    /// reference accepts the input, both agree.
    @Test func truncatedAndMutatedAnswersFailCleanlyOrAgreeWithTheReference() throws {
        let data = Array(try fixture("inspect_dockerd-20.10_api-1.41_db-1"))
        for length in stride(from: 0, to: data.count - 1, by: 5) {
            #expect(throws: ModelDecodingError.self) { try ContainerInspect.decode(Array(data[..<length])) }
        }
        var seed: UInt64 = 0x1A5EC7
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        let alphabet = Array(#"{}[]",:\"0-9eE.ntfu \#u{00}é"#.utf8)
        var agreed = 0
        for _ in 0..<600 {
            var mutated = data
            for _ in 0..<(1 + next() % 3) { mutated[next() % mutated.count] = alphabet[next() % alphabet.count] }
            let scanned = try? ContainerInspect.decode(mutated)
            if let reference = try? ContainerInspect.decodeWithJSONDecoder(Data(mutated)) {
                #expect(scanned == reference)
                agreed += 1
            }
        }
        #expect(agreed > 0)
    }

    @Test func errorsNameTheField() {
        func error(_ json: String) -> ModelDecodingError? {
            do {
                _ = try ContainerInspect.decode(Array(json.utf8))
                return nil
            } catch {
                return error
            }
        }
        let ok = #""Config":{"Image":"i"}"#
        #expect(error(#"{"Id":"a","State":{"Status":1},\#(ok)}"#)?.path == "State.Status")
        #expect(error(#"{"Id":"a",\#(ok)}"#)?.path == "State")
        #expect(error(#"{"Id":"a",\#(ok)}"#)?.reason == "required field missing")
        #expect(error(#"{"Id":"a","State":null,\#(ok)}"#)?.path == "State")
        #expect(error(#"{"Id":null,"State":{},\#(ok)}"#)?.path == "Id")
        #expect(error(#"{"Id":"a","State":{"OOMKilled":"yes"},\#(ok)}"#)?.path == "State.OOMKilled")
        #expect(error(#"{"Id":"a","State":{"Health":{"Log":[{},{"ExitCode":"x"}]}},\#(ok)}"#)?.path == "State.Health.Log[1].ExitCode")
        #expect(error(#"{"Id":"a","State":{"Health":{"FailingStreak":1.5}},\#(ok)}"#)?.path == "State.Health.FailingStreak")
        #expect(error(#"{"Id":"a","State":{},"Config":{"Labels":{"k":2}}}"#)?.path == "Config.Labels.k")
        #expect(error(#"{"Id":"a","State":{},\#(ok)} x"#) != nil)
        #expect(error(#"{"Id":"a","State":{},\#(ok),"Mounts":[1,2}"#) != nil)
        // What JSONDecoder accepts, the scanner accepts: nulls for optional parts, 1e1 for an Int.
        let lenient = #"{"Id":"a","Name":null,"RestartCount":1e1,"State":{"Health":null,"ExitCode":null},"Config":{"Labels":null},"HostConfig":{"RestartPolicy":null}}"#
        let scanned = try? ContainerInspect.decode(Array(lenient.utf8))
        #expect(scanned != nil)
        #expect(scanned == (try? ContainerInspect.decodeWithJSONDecoder(Data(lenient.utf8))))
        #expect(scanned?.restartCount == 10)
    }
}

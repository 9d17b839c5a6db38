import DockerEngine
import FakeDockerEngine
import Foundation
import Testing

/// The Docker client against the in-process fake engine: the faults a real daemon will not show on demand.
@Suite("Docker client faults (fake engine)")
struct ClientFaultTests {
    func client(_ fake: FakeDockerEngine, requestTimeout: Duration = .seconds(5)) -> DockerClient {
        DockerClient(endpoint: .unixSocket(path: fake.socketPath), connectTimeout: .seconds(1), requestTimeout: requestTimeout)
    }

    @Test func negotiatesTheLowerOfDaemonAndKnownVersion() throws {
        let old = try FakeDockerEngine(apiVersion: "1.41")
        defer { old.stop() }
        #expect(try client(old).negotiatedVersion() == APIVersion("1.41")!)
        let future = try FakeDockerEngine(apiVersion: "1.99")
        defer { future.stop() }
        #expect(try client(future).negotiatedVersion() == DockerClient.newestKnownVersion)
    }

    @Test func versionedPathsUseTheNegotiatedVersion() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.43")
        defer { fake.stop() }
        _ = try client(fake).info()
        #expect(fake.requests.map(\.path) == ["/version", "/info"])
    }

    @Test func slowAnswerPastTheDeadlineTimesOut() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/_ping", .delay(.seconds(3), then: .json("\"OK\"")))
        let start = ContinuousClock.now
        #expect {
            _ = try client(fake).ping(timeout: .milliseconds(300))
        } throws: { error in
            guard case .timedOut = error as? DockerError else { return false }
            return true
        }
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func hungDaemonTimesOutAndCountsTheFailure() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/_ping", .hang)
        let c = client(fake)
        #expect(throws: DockerError.self) { _ = try c.ping(timeout: .milliseconds(200)) }
        #expect(c.stats.snapshot().failures["ping"]?["timeout"] == 1)
    }

    @Test func errorStatusCarriesDockersOwnMessage() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/info", .error(status: 500, message: "devmapper: thin pool exhausted"))
        #expect {
            _ = try client(fake).info()
        } throws: { error in
            guard case .http(let status, let message, let path) = error as? DockerError else { return false }
            return status == 500 && message == "devmapper: thin pool exhausted" && path.hasSuffix("/info")
        }
    }

    @Test func malformedJSONIsUndecodableNotACrash() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/info", .json("{\"DockerRootDir\": [1, 2,"))
        let c = client(fake)
        #expect {
            _ = try c.info()
        } throws: { error in
            guard case .undecodable(let path, _) = error as? DockerError else { return false }
            return path == "/info"
        }
        #expect(c.stats.snapshot().failures.values.contains { $0["decode"] == 1 })
    }

    @Test func wrongTypesAreUndecodable() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        fake.set("/system/df", .json("{\"LayersSize\": \"lots\", \"Images\": {}}"))
        #expect(throws: DockerError.self) { _ = try client(fake).systemDiskUsage() }
    }

    @Test func truncatedBodyIsATransferError() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let body = "{\"ServerVersion\":\"20.10.24\",\"DockerRootDir\":\"/var/lib/docker\",\"Driver\":\"overlay2\"}"
        fake.set("/info", .truncated(body: body, keep: 20))
        #expect {
            _ = try client(fake).info()
        } throws: { error in
            switch error as? DockerError {
            case .transfer, .undecodable: return true
            default: return false
            }
        }
    }

    @Test func absentSocketIsUnreachable() throws {
        let c = DockerClient(endpoint: .unixSocket(path: "/nonexistent/docker.sock"), connectTimeout: .seconds(1))
        #expect {
            _ = try c.ping()
        } throws: { error in
            guard case .unreachable = error as? DockerError else { return false }
            return true
        }
    }

    @Test func legacySystemDFShapeDecodesThroughTheClient() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.41")
        defer { fake.stop() }
        fake.set(
            "/system/df",
            .json(
                """
                {"LayersSize": 3000,
                 "Images": [{"Id":"sha256:a","Containers":1,"Size":2000,"SharedSize":0,"VirtualSize":2000,"RepoTags":["a:1"],"Created":1,"ParentId":"","Labels":{}},
                            {"Id":"sha256:b","Containers":0,"Size":1000,"SharedSize":0,"VirtualSize":1000,"RepoTags":["b:1"],"Created":1,"ParentId":"","Labels":{}}],
                 "Containers": [{"Id":"c1","State":"running","SizeRw":10,"SizeRootFs":2010,"Names":["/c1"]},
                                {"Id":"c2","State":"exited","SizeRw":30,"SizeRootFs":1030,"Names":["/c2"]}],
                 "Volumes": [], "BuildCache": []}
                """))
        let usage = try client(fake).systemDiskUsage(kinds: [.image, .container], rules: .cli20_10)
        // API 1.41 has no ?type=, so the client must not send it.
        #expect(fake.requests.last?.query.isEmpty == true)
        #expect(usage.images?.totalCount == 2)
        #expect(usage.images?.activeCount == 1)
        #expect(usage.images?.sizeBytes == 3000)
        #expect(usage.images?.reclaimableBytes == 1000)
        #expect(usage.containers?.sizeBytes == 40)
        #expect(usage.containers?.reclaimableBytes == 30)
    }

    @Test func perTypeSystemDFShapeDecodesThroughTheClient() throws {
        let fake = try FakeDockerEngine(apiVersion: "1.52")
        defer { fake.stop() }
        fake.set(
            "/system/df",
            .json(
                """
                {"ImageUsage": {"ActiveCount": 2, "TotalCount": 5, "Reclaimable": 700, "TotalSize": 1500},
                 "ContainerUsage": {"ActiveCount": 1, "TotalCount": 3, "Reclaimable": 20, "TotalSize": 60},
                 "VolumeUsage": {"ActiveCount": 0, "TotalCount": 1, "Reclaimable": 4096, "TotalSize": 4096},
                 "BuildCacheUsage": {"ActiveCount": 0, "TotalCount": 7, "Reclaimable": 900, "TotalSize": 1000}}
                """))
        let usage = try client(fake).systemDiskUsage()
        #expect(fake.requests.last?.query["type"] != nil)  // 1.42+ sends ?type=
        #expect(usage.images == DiskUsageCategory(totalCount: 5, activeCount: 2, sizeBytes: 1500, reclaimableBytes: 700))
        #expect(usage.buildCache?.totalCount == 7)
        #expect(usage.volumes?.reclaimableBytes == 4096)
    }

    @Test func endpointParsing() {
        #expect(DockerClient.parseEndpoint("unix:///var/run/docker.sock") == .unixSocket(path: "/var/run/docker.sock"))
        #expect(DockerClient.parseEndpoint("tcp://127.0.0.1:2375") == .tcp(host: "127.0.0.1", port: 2375))
        #expect(DockerClient.parseEndpoint("tcp://[::1]:2375") == .tcp(host: "::1", port: 2375))
        #expect(DockerClient.parseEndpoint("tcp://host") == nil)
        #expect(DockerClient.parseEndpoint("unix://relative") == nil)
    }
}

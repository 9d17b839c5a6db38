import DockerEngine
import Foundation
import Testing

/// Real answers of Docker 28.5.2 (both image stores), Podman 4.3.1 and Podman 5.8.6, captured from
/// one workload (healthy, unhealthy, no-health-check, exited, OOM-killed, restarting and compose
/// containers, multi-tag and dangling images, volumes): every decoder reads them, and the engine
/// differences show where the watchdog must read them differently.
@Suite("Engine captures (Docker 28.5, Podman 4.3 and 5.8)")
struct EngineCaptureTests {
    static let engines = ["docker-28.5.2-overlay2", "docker-28.5.2-containerd-store", "podman-4.3.1", "podman-5.8.6"]

    static func capture(_ engine: String, _ file: String) throws -> Data {
        try fixture("engines/\(engine)/engine-\(file)")
    }

    static func inspects(_ engine: String) throws -> [Data] {
        let array = try #require(JSONSerialization.jsonObject(with: capture(engine, "inspect")) as? [Any])
        return try array.map { try JSONSerialization.data(withJSONObject: $0) }
    }

    static func events(_ engine: String) throws -> [Data] {
        let url = try #require(
            Bundle.module.url(forResource: "engine-events", withExtension: "jsonl", subdirectory: "Fixtures/engines/\(engine)"))
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { Data($0.utf8) }
    }

    @Test(arguments: engines)
    func versionNamesTheEngine(_ engine: String) throws {
        let version = try DockerVersion.decode(Self.capture(engine, "version"))
        #expect(version.engine == (engine.hasPrefix("podman") ? .podman : .docker))
        #expect(version.api != nil)
    }

    @Test(arguments: engines)
    func listScannerAgreesWithJSONDecoder(_ engine: String) throws {
        let data = try Self.capture(engine, "containers")
        let scanned = try ContainerSummary.decodeList(data)
        let decoded = try ContainerSummary.decodeListWithJSONDecoder(data)
        #expect(scanned.count == 10)
        #expect(scanned.map(\.id) == decoded.map(\.id))
        #expect(scanned.map(\.health) == decoded.map(\.health))
        #expect(scanned.map(\.state) == decoded.map(\.state))
        let healthy = scanned.first { $0.name == "wd-healthy" }?.health
        // Docker states the health in the list; Podman never does ("Up 2 minutes").
        #expect(healthy == (engine.hasPrefix("podman") ? "none" : "healthy"))
    }

    @Test(arguments: engines)
    func inspectScannerAgreesWithJSONDecoder(_ engine: String) throws {
        for body in try Self.inspects(engine) {
            let scanned = try ContainerInspect.decode(body)
            #expect(try scanned == ContainerInspect.decodeWithJSONDecoder(body), "\(engine) \(scanned.name)")
        }
        let byName = Dictionary(
            try Self.inspects(engine).map { try ContainerInspect.decode($0) }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byName["wd-healthy"]?.state.health?.status == "healthy")
        #expect(byName["wd-unhealthy"]?.state.health?.status == "unhealthy")
        // Podman 4.3 sends an empty health status for a container without a health check.
        let plain = byName["wd-plain"]?.state.health?.status
        #expect(engine == "podman-4.3.1" ? plain == "" : plain == nil)
        // Podman 4.3 on cgroup v1 reports no OOM kill (an engine limit).
        #expect(byName["wd-oom"]?.state.oomKilled == (engine != "podman-4.3.1"))
    }

    @Test(arguments: engines)
    func everyEventDecodesAndDeathsCarryAnExitCode(_ engine: String) throws {
        let events = try Self.events(engine).map { try DockerEvent.decode($0) }
        #expect(!events.isEmpty)
        let deaths = events.filter { $0.verb == "die" }
        #expect(deaths.count == 8)
        #expect(deaths.allSatisfy { $0.exitCode != nil })
        let removals = events.filter { $0.verb == "destroy" }
        #expect(removals.count == 2)
        let health = events.filter { $0.verb == "health_status" }
        #expect(!health.isEmpty)
        // Docker says which status; Podman does not.
        #expect(health.allSatisfy { ($0.detail != nil) == engine.hasPrefix("docker") })
    }

    @Test func podmansOwnEventNamesReadAsDockers() {
        #expect(DockerEvent(type: "container", action: "died", actorID: "a", timeNano: 0).verb == "die")
        #expect(DockerEvent(type: "container", action: "remove", actorID: "a", timeNano: 0).verb == "destroy")
        #expect(DockerEvent(type: "container", action: "health_status: healthy", actorID: "a", timeNano: 0).verb == "health_status")
        let podman5 = DockerEvent(type: "container", action: "die", actorID: "a", attributes: ["containerExitCode": "3"], timeNano: 0)
        #expect(podman5.exitCode == 3)
    }

    @Test(arguments: engines)
    func systemDFDecodesWithBothRules(_ engine: String) throws {
        for file in ["system-df-unversioned", "system-df-v1.41"] {
            for rules in [DiskUsageRules.current, .cli20_10] {
                let usage = try SystemDiskUsage.decode(Self.capture(engine, file), rules: rules)
                #expect(usage.images != nil && usage.containers != nil && usage.volumes != nil, "\(engine) \(file)")
                #expect((usage.containers?.totalCount ?? 0) >= 10)
            }
        }
    }

    /// What the watchdog clamps (SystemDFCollector): Podman 5 counts shared layers once in LayersSize, so the 20.10 CLI's
    /// rule (LayersSize minus the used images' sizes) goes negative.
    @Test func podmanImageReclaimableGoesNegativeUnderTheOldRule() throws {
        let usage = try SystemDiskUsage.decode(Self.capture("podman-5.8.6", "system-df-unversioned"), rules: .cli20_10)
        #expect((usage.images?.reclaimableBytes ?? 0) < 0)
    }
}

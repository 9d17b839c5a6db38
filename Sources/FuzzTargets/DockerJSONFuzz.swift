import DockerEngine
import Foundation

/// Every Docker Engine answer the client decodes, fed the same bytes: the containers list, an
/// inspect, `/info`, `/version`, `/system/df` (both shapes, both summary rules, filtered and not),
/// `/events` lines, the images and volumes lists, the remediation answers and BuildKit's
/// build-history events (protobuf).
///
/// Properties: no trap (integer overflow in the `docker system df` arithmetic, out-of-range
/// dates, ...), no hang, and a failure is always the decoder's typed error naming the endpoint.
public enum DockerJSONFuzz: FuzzTarget {
    public static let name = "docker-json"

    public static func run(_ input: [UInt8]) throws(PropertyViolation) {
        let data = Data(input)

        try expectTyped("GET /containers/json") { () throws(ModelDecodingError) in
            for container in try ContainerSummary.decodeList(data) {
                _ = (container.name, container.health)
            }
        }
        try expectTyped("GET /containers/{id}/json") { () throws(ModelDecodingError) in
            _ = try ContainerInspect.decode(data)
        }
        try expectTyped("GET /info") { () throws(ModelDecodingError) in
            let info = try DockerInfo.decode(data)
            _ = DockerClient.diskUsageRules(forServerVersion: info.serverVersion)
        }
        try expectTyped("GET /version") { () throws(ModelDecodingError) in
            let version = try DockerVersion.decode(data)
            _ = (version.api, version.minAPI)
        }
        for rules in [DiskUsageRules.current, .cli20_10] {
            for requested in [nil, Set(DiskUsageKind.allCases), [.buildCache], [.image, .volume]] as [Set<DiskUsageKind>?] {
                try expectTyped("GET /system/df") { () throws(ModelDecodingError) in
                    let usage = try SystemDiskUsage.decode(data, rules: rules, requested: requested)
                    for kind in DiskUsageKind.allCases { _ = usage.category(kind) }
                    _ = usage.containerItems.map(\.isActive)
                }
            }
        }
        // The events stream is newline-delimited JSON; the client decodes line by line.
        for line in input.split(separator: 0x0A) where !line.isEmpty {
            try expectTyped("GET /events") { () throws(ModelDecodingError) in
                let event = try DockerEvent.decode(Data(line))
                _ = (event.verb, event.detail)
            }
        }
        // Answers the client decodes with JSONDecoder directly (remediation calls).
        let decoder = JSONDecoder()
        if let images = try? decoder.decode([ImageSummary].self, from: data) {
            _ = images.map(\.repoTags.count)
        }
        struct VolumesAnswer: Decodable { let Volumes: [VolumeSummary]? }
        if let volumes = try? decoder.decode(VolumesAnswer.self, from: data) {
            _ = volumes.Volumes?.map(\.isAnonymous)
        }
        struct ImageInspect: Decodable {
            struct Metadata: Decodable { let LastTagTime: String? }
            let Metadata: Metadata?
        }
        if let inspect = try? decoder.decode(ImageInspect.self, from: data) {
            _ = inspect.Metadata?.LastTagTime.flatMap(DockerDate.parse)
        }
        // BuildKit's build-history events (protobuf from /grpc): only the reader's own error.
        do {
            let event = try BuildHistoryEvent.decode(input)
            _ = (event.record?.result, event.record?.duration, event.record?.executedSteps)
        } catch {
            guard !error.description.isEmpty else { throw PropertyViolation("protobuf error without a reason") }
        }
        // Free text the client parses: version strings and timestamps.
        if let text = String(validating: input.prefix(256), as: UTF8.self) {
            _ = APIVersion(text)
            _ = DockerDate.parse(text)
        }
    }

    /// Runs one decoder; a thrown error must be the typed one, for the expected endpoint.
    private static func expectTyped(
        _ what: String, _ body: () throws(ModelDecodingError) -> Void
    ) throws(PropertyViolation) {
        do {
            try body()
        } catch {
            guard error.what == what else {
                throw PropertyViolation("decoding error for \(what) names \(error.what): \(error)")
            }
            guard !error.reason.isEmpty else { throw PropertyViolation("decoding error without a reason: \(error)") }
        }
    }
}

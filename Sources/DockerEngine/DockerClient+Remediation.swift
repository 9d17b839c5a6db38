import FoundationEssentials

/// What a prune or removal answered.
public struct RemovalResult: Sendable, Equatable {
    /// IDs or names Docker said it deleted.
    public var removed: [String]
    /// Docker's own `SpaceReclaimed`, when the endpoint reports it.
    public var spaceReclaimed: Int64

    public init(removed: [String], spaceReclaimed: Int64) {
        self.removed = removed
        self.spaceReclaimed = spaceReclaimed
    }
}

/// One image of `GET /images/json`.
public struct ImageSummary: Decodable, Sendable, Equatable {
    public var id: String
    public var repoTags: [String]
    public var created: Int64
    public var size: Int64
    public var labels: [String: String]
    /// Bytes shared with other images (`SharedSize`); -1 when the engine did not compute it.
    public var sharedSize: Int64 = -1

    /// What removing this image alone frees: its size less what it shares with other images.
    public var uniqueSize: Int64 { sharedSize >= 0 ? max(0, size - sharedSize) : size }

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", created = "Created", size = "Size", labels = "Labels", sharedSize = "SharedSize"
    }

    public init(id: String, repoTags: [String], created: Int64, size: Int64, labels: [String: String] = [:], sharedSize: Int64 = -1) {
        self.sharedSize = sharedSize
        self.id = id
        self.repoTags = repoTags
        self.created = created
        self.size = size
        self.labels = labels
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        repoTags = (try c.decodeIfPresent([String].self, forKey: .repoTags) ?? []).filter { $0 != "<none>:<none>" }
        created = try c.decodeIfPresent(Int64.self, forKey: .created) ?? 0
        size = try c.decodeIfPresent(Int64.self, forKey: .size) ?? 0
        sharedSize = try c.decodeIfPresent(Int64.self, forKey: .sharedSize) ?? -1
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

/// One volume of `GET /volumes`.
public struct VolumeSummary: Decodable, Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    enum CodingKeys: String, CodingKey { case name = "Name", labels = "Labels" }
    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }

    /// Docker names anonymous volumes with 64 hex digits (and, from 23.0, labels them).
    public var isAnonymous: Bool {
        labels["com.docker.volume.anonymous"] != nil || (name.count == 64 && name.allSatisfy(\.isHexDigit))
    }
}

/// The calls that change the host. Every one is a deliberate, single request; callers (the
/// remediation engine) decide, audit and rate-limit. A read-only client refuses them all.
extension DockerClient {
    /// `POST /build/prune`: removes unused build cache, oldest first, keeping `keepStorage` bytes.
    public func pruneBuildCache(keepStorage: Int64, all: Bool = true, timeout: Duration? = nil) throws(DockerError) -> RemovalResult {
        var query = [("keep-storage", String(keepStorage))]
        // API 1.48 replaced keep-storage with reserved-space and max-used-space: prune least
        // recently used records until the cache is at most this size.
        if keepStorage > 0, try negotiatedVersion() >= APIVersion(major: 1, minor: 48) {
            query += [("reserved-space", String(keepStorage)), ("max-used-space", String(keepStorage))]
        }
        if all { query.append(("all", "1")) }
        let body = try send("POST", "/build/prune", query: query, endpointName: "build_prune", timeout: timeout)
        struct Answer: Decodable { let CachesDeleted: [String]?; let SpaceReclaimed: Int64? }
        let answer = try decodeAnswer(Answer.self, body, path: "/build/prune")
        return RemovalResult(removed: answer.CachesDeleted ?? [], spaceReclaimed: answer.SpaceReclaimed ?? 0)
    }

    /// `POST /images/prune` with `dangling=true`, never touching images with `protectLabel`.
    public func pruneDanglingImages(protectLabel: String?, timeout: Duration? = nil) throws(DockerError) -> RemovalResult {
        var filters: [String: [String]] = ["dangling": ["true"]]
        if let protectLabel { filters["label!"] = [protectLabel] }
        let body = try send("POST", "/images/prune", query: [("filters", Self.filters(filters))], endpointName: "images_prune", timeout: timeout)
        struct Deleted: Decodable { let Untagged: String?; let Deleted: String? }
        struct Answer: Decodable { let ImagesDeleted: [Deleted]?; let SpaceReclaimed: Int64? }
        let answer = try decodeAnswer(Answer.self, body, path: "/images/prune")
        return RemovalResult(
            removed: (answer.ImagesDeleted ?? []).compactMap { $0.Deleted ?? $0.Untagged }, spaceReclaimed: answer.SpaceReclaimed ?? 0)
    }

    /// `POST /containers/prune` of stopped containers older than `olderThan`, never with `protectLabel`.
    public func pruneStoppedContainers(olderThan: Duration, protectLabel: String?, timeout: Duration? = nil) throws(DockerError) -> RemovalResult {
        var filters: [String: [String]] = ["until": ["\(olderThan.components.seconds)s"]]
        if let protectLabel { filters["label!"] = [protectLabel] }
        let body = try send("POST", "/containers/prune", query: [("filters", Self.filters(filters))], endpointName: "containers_prune", timeout: timeout)
        struct Answer: Decodable { let ContainersDeleted: [String]?; let SpaceReclaimed: Int64? }
        let answer = try decodeAnswer(Answer.self, body, path: "/containers/prune")
        return RemovalResult(removed: answer.ContainersDeleted ?? [], spaceReclaimed: answer.SpaceReclaimed ?? 0)
    }

    /// `GET /images/json` (tagged and untagged top-level images).
    /// `GET /images/json`, with `shared-size=1` from API 1.42 on (what each image shares with others).
    public func listImages(timeout: Duration? = nil) throws(DockerError) -> [ImageSummary] {
        let shared = try negotiatedVersion() >= APIVersion(major: 1, minor: 42)
        let body = try get("/images/json", query: shared ? [("shared-size", "1")] : [], endpointName: "images_list", timeout: timeout)
        return try decodeAnswer([ImageSummary].self, body, path: "/images/json")
    }

    /// `DELETE /images/{id}` without force: Docker itself refuses an image a container uses.
    public func removeImage(_ id: String, timeout: Duration? = nil) throws(DockerError) -> RemovalResult {
        let body = try send("DELETE", "/images/\(Self.percentEncode(id))", query: [], endpointName: "image_remove", timeout: timeout)
        struct Deleted: Decodable { let Untagged: String?; let Deleted: String? }
        let answer = try decodeAnswer([Deleted].self, body, path: "/images/{id}")
        return RemovalResult(removed: answer.compactMap { $0.Deleted ?? $0.Untagged }, spaceReclaimed: 0)
    }

    /// `GET /volumes?filters={"dangling":["true"]}`: volumes no container references.
    public func listUnusedVolumes(timeout: Duration? = nil) throws(DockerError) -> [VolumeSummary] {
        let body = try get("/volumes", query: [("filters", Self.filters(["dangling": ["true"]]))], endpointName: "volumes_list", timeout: timeout)
        struct Answer: Decodable { let Volumes: [VolumeSummary]? }
        return try decodeAnswer(Answer.self, body, path: "/volumes").Volumes ?? []
    }

    /// `DELETE /volumes/{name}` without force: Docker refuses a volume in use.
    public func removeVolume(_ name: String, timeout: Duration? = nil) throws(DockerError) {
        _ = try send("DELETE", "/volumes/\(Self.percentEncode(name))", query: [], endpointName: "volume_remove", timeout: timeout)
    }

    /// `POST /containers/{id}/restart`. With `stopTimeout` nil the container's own stop timeout
    /// (`--stop-timeout`, default 10 s) applies.
    public func restartContainer(_ id: String, stopTimeout: Int? = nil, timeout: Duration? = nil) throws(DockerError) {
        let query = stopTimeout.map { [("t", String($0))] } ?? []
        _ = try send(
            "POST", "/containers/\(Self.percentEncode(id))/restart", query: query,
            endpointName: "container_restart", timeout: timeout ?? .seconds(Int64(stopTimeout ?? 60) + 60))
    }

    // MARK: - Plumbing

    static func filters(_ filters: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(filters)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    func decodeAnswer<T: Decodable>(_ type: T.Type, _ body: [UInt8], path: String) throws(DockerError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            let failure = DockerError.undecodable(path: path, reason: Self.describe(error))
            stats.recordDecodeFailure(path: path, error: failure)
            throw failure
        }
    }
}

extension DockerClient {
    /// `DELETE /containers/{id}` without force and without its volumes: Docker refuses a running one.
    public func removeContainer(_ id: String, timeout: Duration? = nil) throws(DockerError) {
        _ = try send("DELETE", "/containers/\(Self.percentEncode(id))", query: [("v", "0")], endpointName: "container_remove", timeout: timeout)
    }
}

extension DockerClient {
    /// `Metadata.LastTagTime` of `GET /images/{id}/json`: when the image was last tagged (a pull, a
    /// build or `docker tag`). A pulled image can be years old by `Created` and still brand new here.
    public func imageLastTagTime(_ id: String, timeout: Duration? = nil) throws(DockerError) -> Date? {
        let body = try get("/images/\(Self.percentEncode(id))/json", endpointName: "image_inspect", timeout: timeout)
        struct Answer: Decodable {
            struct Metadata: Decodable { let LastTagTime: String? }
            let Metadata: Metadata?
        }
        return try decodeAnswer(Answer.self, body, path: "/images/{id}/json").Metadata?.LastTagTime.flatMap(DockerDate.parse)
    }
}

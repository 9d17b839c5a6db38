import FoundationEssentials
import TextFormatting

/// One entry of `GET /containers/json?all=1` (never with `size=true`: that walks every layer).
///
/// A value type whose fields live in one shared object (copied on write): a list of them is
/// handed from the scanner's cache to the tracker every round, and copying one entry is then one
/// retain instead of one per field (for 1,000 entries that was a third of a round whose list had
/// changed).
public struct ContainerSummary: Decodable, Sendable, Equatable {
    /// Only mutated through `unique()`, on a storage no other value shares: safe to send.
    private final class Storage: @unchecked Sendable {
        var id: String
        var names: [String]
        var image: String
        var imageID: String
        var labels: [String: String]
        var state: String
        var status: String
        var health: String
        var created: Int64?

        init(
            id: String, names: [String], image: String, imageID: String, labels: [String: String], state: String,
            status: String, health: String, created: Int64?
        ) {
            self.id = id
            self.names = names
            self.image = image
            self.imageID = imageID
            self.labels = labels
            self.state = state
            self.status = status
            self.health = health
            self.created = created
        }

        func copy() -> Storage {
            Storage(
                id: id, names: names, image: image, imageID: imageID, labels: labels, state: state, status: status,
                health: health, created: created)
        }
    }

    private var storage: Storage

    private mutating func unique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public var id: String {
        get { storage.id }
        set { unique(); storage.id = newValue }
    }
    /// Names with Docker's leading "/".
    public var names: [String] {
        get { storage.names }
        set { unique(); storage.names = newValue }
    }
    public var image: String {
        get { storage.image }
        set { unique(); storage.image = newValue }
    }
    /// The image's ID (sha256:…), which a tag moved elsewhere does not change.
    public var imageID: String {
        get { storage.imageID }
        set { unique(); storage.imageID = newValue }
    }
    public var labels: [String: String] {
        get { storage.labels }
        set { unique(); storage.labels = newValue }
    }
    /// created, running, paused, restarting, removing, exited or dead.
    public var state: String {
        get { storage.state }
        set { unique(); storage.state = newValue }
    }
    /// Human status, e.g. "Up 5 minutes (unhealthy)"; the only place the list shows health.
    public var status: String {
        get { storage.status }
        set {
            unique()
            storage.status = newValue
            storage.health = Self.health(fromStatus: newValue)
        }
    }
    /// Health as the Status string shows it: healthy, unhealthy, starting, or none. Worked out
    /// once per entry, because a re-synchronising round reads it for every container.
    public var health: String { storage.health }
    public var created: Int64? {
        get { storage.created }
        set { unique(); storage.created = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", imageID = "ImageID", labels = "Labels", state = "State", status = "Status"
        case created = "Created"
    }

    public init(
        id: String, names: [String], image: String, imageID: String = "", labels: [String: String] = [:], state: String,
        status: String, created: Int64? = nil
    ) {
        storage = Storage(
            id: id, names: names, image: image, imageID: imageID, labels: labels, state: state, status: status,
            health: Self.health(fromStatus: status), created: created)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let id = try c.decode(String.self, forKey: .id)
        let names = try c.decodeIfPresent([String].self, forKey: .names) ?? []
        let image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        let imageID = try c.decodeIfPresent(String.self, forKey: .imageID) ?? ""
        let labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        let state = try c.decodeIfPresent(String.self, forKey: .state) ?? ""
        let status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
        let created = try c.decodeIfPresent(Int64.self, forKey: .created)
        self.init(id: id, names: names, image: image, imageID: imageID, labels: labels, state: state, status: status, created: created)
    }

    public static func == (a: ContainerSummary, b: ContainerSummary) -> Bool {
        if a.storage === b.storage { return true }
        let x = a.storage, y = b.storage
        return x.id == y.id && x.names == y.names && x.image == y.image && x.imageID == y.imageID && x.labels == y.labels
            && x.state == y.state && x.status == y.status && x.health == y.health && x.created == y.created
    }

    /// The identity of this entry's storage: equal for a value and its copies, so a reader can
    /// find an entry the list scanner took over from a previous list without comparing fields.
    public var storageIdentity: ObjectIdentifier { ObjectIdentifier(storage) }

    /// The positions in `list` of the entries whose storage is one of `identities`, in order.
    ///
    /// Reads only the list's own memory (one reference per entry), not the entries: touching
    /// each of a thousand entries scattered over the heap costs a cache miss apiece, which was
    /// most of what finding a few entries in a changed list cost.
    public static func positions(of identities: Set<ObjectIdentifier>, in list: [ContainerSummary]) -> [Int] {
        guard !identities.isEmpty else { return [] }
        // One stored reference and nothing else: the list's elements are its storage pointers.
        precondition(MemoryLayout<ContainerSummary>.size == MemoryLayout<UInt>.size)
        let wanted = identities.map { UInt(bitPattern: $0) }
        let table = wanted.count > 8 ? Set(wanted) : nil
        return list.withUnsafeBytes { raw in
            var found: [Int] = []
            for position in 0..<list.count {
                let pointer = raw.load(fromByteOffset: position * MemoryLayout<UInt>.stride, as: UInt.self)
                if table?.contains(pointer) ?? wanted.contains(pointer) { found.append(position) }
            }
            return found
        }
    }

    /// The name without Docker's leading "/".
    public var name: String {
        let first = names.first ?? String(id.prefix(12))
        return first.hasPrefix("/") ? String(first.dropFirst()) : first
    }

    /// Docker appends the health in parentheses: "Up 5 minutes (healthy)".
    static func health(fromStatus status: String) -> String {
        let utf8 = status.utf8
        guard utf8.last == UInt8(ascii: ")"), let open = utf8.lastIndex(of: UInt8(ascii: "(")) else { return "none" }
        switch status[open...] {
        case "(healthy)": return "healthy"
        case "(unhealthy)": return "unhealthy"
        case "(health: starting)": return "starting"
        default: return "none"
        }
    }

    /// Decodes a whole list with ``ContainerListScanner`` (no reuse of earlier entries).
    public static func decodeList(_ data: Data) throws(ModelDecodingError) -> [ContainerSummary] {
        var cache = ContainerListCache()
        return try ContainerListScanner.decode(Array(data), cache: &cache)
    }

    /// Decodes with `JSONDecoder`: the reference the scanner is tested against.
    public static func decodeListWithJSONDecoder(_ data: Data) throws(ModelDecodingError) -> [ContainerSummary] {
        try ModelJSON.decode([ContainerSummary].self, from: data, what: "GET /containers/json")
    }
}

/// The parts of `GET /containers/{id}/json` the watchdog uses.
public struct ContainerInspect: Decodable, Sendable, Equatable {
    public struct HealthLog: Decodable, Sendable, Equatable {
        public var exitCode: Int?
        public var output: String?
        enum CodingKeys: String, CodingKey { case exitCode = "ExitCode", output = "Output" }
        init(exitCode: Int?, output: String?) {
            self.exitCode = exitCode
            self.output = output
        }
    }

    public struct Health: Decodable, Sendable, Equatable {
        public var status: String
        public var failingStreak: Int
        public var log: [HealthLog]
        enum CodingKeys: String, CodingKey { case status = "Status", failingStreak = "FailingStreak", log = "Log" }
        init(status: String, failingStreak: Int, log: [HealthLog]) {
            self.status = status
            self.failingStreak = failingStreak
            self.log = log
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decodeIfPresent(String.self, forKey: .status) ?? "none"
            failingStreak = try c.decodeIfPresent(Int.self, forKey: .failingStreak) ?? 0
            log = try c.decodeIfPresent([HealthLog].self, forKey: .log) ?? []
        }
    }

    public struct State: Decodable, Sendable, Equatable {
        public var status: String
        public var oomKilled: Bool
        public var exitCode: Int
        public var startedAt: Date?
        public var finishedAt: Date?
        public var health: Health?
        enum CodingKeys: String, CodingKey {
            case status = "Status", oomKilled = "OOMKilled", exitCode = "ExitCode", startedAt = "StartedAt"
            case finishedAt = "FinishedAt", health = "Health"
        }
        init(status: String, oomKilled: Bool, exitCode: Int, startedAt: Date?, finishedAt: Date?, health: Health?) {
            self.status = status
            self.oomKilled = oomKilled
            self.exitCode = exitCode
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.health = health
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
            oomKilled = try c.decodeIfPresent(Bool.self, forKey: .oomKilled) ?? false
            exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode) ?? 0
            startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt).flatMap(DockerDate.parse)
            finishedAt = try c.decodeIfPresent(String.self, forKey: .finishedAt).flatMap(DockerDate.parse)
            health = try c.decodeIfPresent(Health.self, forKey: .health)
        }
    }

    public struct Config: Decodable, Sendable, Equatable {
        public var image: String
        public var labels: [String: String]
        enum CodingKeys: String, CodingKey { case image = "Image", labels = "Labels" }
        init(image: String, labels: [String: String]) {
            self.image = image
            self.labels = labels
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
            labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        }
    }

    public var id: String
    public var name: String
    public var restartCount: Int
    public var state: State
    public var config: Config
    /// `HostConfig.RestartPolicy.Name`: "", "no", "always", "unless-stopped" or "on-failure".
    public var restartPolicy: String
    /// `LogPath`: the json-file driver's log file on the host ("" for other drivers).
    public var logPath: String = ""
    /// `HostConfig.LogConfig.Type` (json-file, local, journald, none, ...), "" when not stated.
    public var logDriver: String = ""
    /// `HostConfig.LogConfig.Config` (max-size, max-file, ...).
    public var logOptions: [String: String] = [:]

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", restartCount = "RestartCount", state = "State", config = "Config", hostConfig = "HostConfig"
        case logPath = "LogPath"
    }
    struct HostConfig: Decodable {
        struct RestartPolicy: Decodable { let Name: String? }
        struct LogConfig: Decodable {
            let `Type`: String?
            let Config: [String: String]?
        }
        let RestartPolicy: RestartPolicy?
        let LogConfig: LogConfig?
    }

    init(
        id: String, name: String, restartCount: Int, state: State, config: Config, restartPolicy: String, logPath: String = "",
        logDriver: String = "", logOptions: [String: String] = [:]
    ) {
        self.id = id
        self.name = name
        self.restartCount = restartCount
        self.state = state
        self.config = config
        self.restartPolicy = restartPolicy
        self.logPath = logPath
        self.logDriver = logDriver
        self.logOptions = logOptions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let raw = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        name = raw.hasPrefix("/") ? String(raw.dropFirst()) : raw
        restartCount = try c.decodeIfPresent(Int.self, forKey: .restartCount) ?? 0
        state = try c.decode(State.self, forKey: .state)
        config = try c.decode(Config.self, forKey: .config)
        let host = try c.decodeIfPresent(HostConfig.self, forKey: .hostConfig)
        restartPolicy = host?.RestartPolicy?.Name ?? ""
        logDriver = host?.LogConfig?.Type ?? ""
        logOptions = host?.LogConfig?.Config ?? [:]
        logPath = try c.decodeIfPresent(String.self, forKey: .logPath) ?? ""
    }

    /// Decodes an inspect answer (with ``ContainerInspectScanner``).
    public static func decode(_ data: Data) throws(ModelDecodingError) -> ContainerInspect {
        try ContainerInspectScanner.decode(Array(data))
    }

    /// Decodes an inspect answer the same way, from bytes (no copy into `Data`).
    public static func decode(_ bytes: [UInt8]) throws(ModelDecodingError) -> ContainerInspect {
        try ContainerInspectScanner.decode(bytes)
    }

    /// Decodes with `JSONDecoder`: the reference the scanner is tested against.
    public static func decodeWithJSONDecoder(_ data: Data) throws(ModelDecodingError) -> ContainerInspect {
        try ModelJSON.decode(ContainerInspect.self, from: data, what: "GET /containers/{id}/json")
    }
}

/// One message of `GET /events` (container events only are requested).
public struct DockerEvent: Decodable, Sendable, Equatable {
    public var type: String
    /// e.g. "start", "die", "health_status: unhealthy".
    public var action: String
    public var actorID: String
    public var attributes: [String: String]
    /// Unix time in nanoseconds (falls back to `time` seconds on engines that omit it).
    public var timeNano: Int64

    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", status, actor = "Actor", id, time, timeNano
    }
    struct Actor: Decodable {
        var id: String?
        var attributes: [String: String]?
        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }
    }

    public init(type: String, action: String, actorID: String, attributes: [String: String] = [:], timeNano: Int64) {
        self.type = type
        self.action = action
        self.actorID = actorID
        self.attributes = attributes
        self.timeNano = timeNano
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "container"
        let status = try c.decodeIfPresent(String.self, forKey: .status)
        action = try c.decodeIfPresent(String.self, forKey: .action) ?? status ?? ""
        let actor = try c.decodeIfPresent(Actor.self, forKey: .actor)
        actorID = try actor?.id ?? c.decodeIfPresent(String.self, forKey: .id) ?? ""
        attributes = actor?.attributes ?? [:]
        if let nano = try c.decodeIfPresent(Int64.self, forKey: .timeNano) {
            timeNano = nano
        } else {
            // A `time` past the year 2262 does not fit in nanoseconds: a typed error, not a trap.
            let (nano, overflow) = (try c.decodeIfPresent(Int64.self, forKey: .time) ?? 0).multipliedReportingOverflow(by: 1_000_000_000)
            guard !overflow else {
                throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "time out of range")
            }
            timeNano = nano
        }
    }

    /// The action without its detail, in Docker's words: "health_status: healthy" →
    /// "health_status". Podman's own names, which its Docker API sends on some versions and its
    /// event filter expects, are read as Docker's: "died" as "die", "remove" as "destroy".
    public var verb: String {
        let raw = action.split(separator: ":").first.map { String($0) } ?? action
        switch raw {
        case "died": return "die"
        case "remove": return "destroy"
        default: return raw
        }
    }

    /// The exit code of a `die` event: `exitCode` (Docker, Podman 4.3) or `containerExitCode`
    /// (Podman 5).
    public var exitCode: Int? {
        (attributes["exitCode"] ?? attributes["containerExitCode"]).flatMap { Int($0) }
    }

    /// The detail after the colon: "health_status: healthy" → "healthy".
    public var detail: String? {
        guard let colon = action.firstIndex(of: ":") else { return nil }
        return String(action[action.index(after: colon)...].trimmingWhitespace())
    }

    public static func decode(_ data: Data) throws(ModelDecodingError) -> DockerEvent {
        try ModelJSON.decode(DockerEvent.self, from: data, what: "GET /events")
    }
}

import FoundationEssentials

// MARK: - Public summary types

/// One row of `docker system df`: TOTAL, ACTIVE, SIZE, RECLAIMABLE (in bytes).
public struct DiskUsageCategory: Sendable, Equatable {
    public var totalCount: Int
    public var activeCount: Int
    public var sizeBytes: Int64
    public var reclaimableBytes: Int64

    public init(totalCount: Int, activeCount: Int, sizeBytes: Int64, reclaimableBytes: Int64) {
        self.totalCount = totalCount
        self.activeCount = activeCount
        self.sizeBytes = sizeBytes
        self.reclaimableBytes = reclaimableBytes
    }

    public static let zero = DiskUsageCategory(totalCount: 0, activeCount: 0, sizeBytes: 0, reclaimableBytes: 0)
}

/// Which answer shape `/system/df` used.
public enum DiskUsageShape: Sendable, Equatable {
    /// API < 1.52: `LayersSize` and the `Images`/`Containers`/`Volumes`/`BuildCache` arrays; the
    /// client computes the summary.
    case legacy
    /// API 1.52+: `ImageUsage`/`ContainerUsage`/`VolumeUsage`/`BuildCacheUsage` objects with the
    /// daemon's own counts and sizes (and, with `verbose=1`, `Items`). Without `verbose`, a 1.52
    /// daemon sends both shapes; the per-type objects win.
    case perTypeUsage
}

/// The object types of `/system/df?type=...` (API 1.42+).
public enum DiskUsageKind: String, Sendable, CaseIterable, Hashable {
    case image
    case container
    case volume
    case buildCache = "build-cache"

    /// The value for the `type` query parameter.
    public var queryValue: String { rawValue }
}

/// How to compute the summary from a legacy-shaped answer. The two differ only for images
/// (reclaimable) and volumes (unknown sizes); see ``SystemDiskUsage``.
public enum DiskUsageRules: Sendable, Equatable {
    /// What the current docker CLI shows (29.5+, moby client's legacy conversion), which is also
    /// what a 29.4+ daemon computes itself for API 1.52.
    case current
    /// What docker CLI 20.10 through 28.x shows (Debian's `/usr/bin/docker` 20.10, for example).
    case cli20_10
}

/// Answer of `GET /system/df`, in either shape, summarised as `docker system df` shows it.
///
/// Summary rules for the legacy shape (sizes in bytes; `-1` means "not computed"):
///
/// | row | TOTAL | ACTIVE | SIZE | RECLAIMABLE |
/// |---|---|---|---|---|
/// | images | `Images.count` | `Containers > 0` | `LayersSize` | current: Σ(`Size − SharedSize`) over images with `Containers == 0` and both sizes known; cli20_10: `LayersSize − Σ(Size − SharedSize)` over images with `Containers != 0` and both sizes known (`VirtualSize` instead of `Size` when present, as CLI ≤ 23 read it) |
/// | containers | `Containers.count` | `State` running, paused or restarting | Σ`SizeRw` | Σ`SizeRw` of the others |
/// | volumes | `Volumes.count` | `UsageData.RefCount > 0` | Σ`UsageData.Size` (sizes of −1 skipped) | current: SIZE − Σ known sizes of active volumes; cli20_10: Σ known sizes of volumes with `RefCount == 0` |
/// | build cache | `BuildCache.count` | `InUse` | Σ`Size` of records not `Shared` | SIZE − Σ`Size` of `InUse` records not `Shared` |
///
/// For the per-type shape the daemon's own numbers are taken as they are.
public struct SystemDiskUsage: Sendable, Equatable {
    public var shape: DiskUsageShape
    /// nil when that part was not requested or is absent from the answer.
    public var images: DiskUsageCategory?
    public var containers: DiskUsageCategory?
    public var volumes: DiskUsageCategory?
    public var buildCache: DiskUsageCategory?
    /// Build-cache records (legacy `BuildCache`, or `BuildCacheUsage.Items`); empty when not present.
    public var buildCacheRecords: [BuildCacheRecord]
    /// Per-item detail when the answer carries it (legacy shape, or per-type with `verbose=1`).
    public var imageItems: [DiskUsageImage]
    public var containerItems: [DiskUsageContainer]
    public var volumeItems: [DiskUsageVolume]
    /// Legacy `LayersSize`, when sent.
    public var layersSize: Int64?

    public init(
        shape: DiskUsageShape, images: DiskUsageCategory? = nil, containers: DiskUsageCategory? = nil,
        volumes: DiskUsageCategory? = nil, buildCache: DiskUsageCategory? = nil,
        buildCacheRecords: [BuildCacheRecord] = [], imageItems: [DiskUsageImage] = [],
        containerItems: [DiskUsageContainer] = [], volumeItems: [DiskUsageVolume] = [], layersSize: Int64? = nil
    ) {
        self.shape = shape
        self.images = images
        self.containers = containers
        self.volumes = volumes
        self.buildCache = buildCache
        self.buildCacheRecords = buildCacheRecords
        self.imageItems = imageItems
        self.containerItems = containerItems
        self.volumeItems = volumeItems
        self.layersSize = layersSize
    }

    public func category(_ kind: DiskUsageKind) -> DiskUsageCategory? {
        switch kind {
        case .image: return images
        case .container: return containers
        case .volume: return volumes
        case .buildCache: return buildCache
        }
    }

    /// Decodes a `/system/df` body with the current CLI's rules.
    public static func decode(_ data: Data) throws(ModelDecodingError) -> SystemDiskUsage {
        try decode(data, rules: .current, requested: nil)
    }

    /// Decodes a `/system/df` body.
    /// - Parameters:
    ///   - rules: how to summarise a legacy-shaped answer.
    ///   - requested: the `type=` values the request carried, if any. Daemons 23–28 answer `null`
    ///     for the parts not requested, which would otherwise read as "present and empty"; parts not
    ///     in this set come back nil.
    public static func decode(
        _ data: Data, rules: DiskUsageRules, requested: Set<DiskUsageKind>? = nil
    ) throws(ModelDecodingError) -> SystemDiskUsage {
        let wire = try ModelJSON.decode(DiskUsageWire.self, from: data, what: "GET /system/df")
        var result = wire.summarise(rules: rules)
        if let requested {
            if !requested.contains(.image) { result.images = nil }
            if !requested.contains(.container) { result.containers = nil }
            if !requested.contains(.volume) { result.volumes = nil }
            if !requested.contains(.buildCache) { result.buildCache = nil }
        }
        return result
    }
}

// MARK: - Items

/// An image in a `/system/df` answer (`ImageSummary`).
public struct DiskUsageImage: Decodable, Sendable, Equatable {
    public var id: String
    public var repoTags: [String]
    /// Unix seconds.
    public var created: Int64?
    /// Containers using the image; -1 when not computed.
    public var containers: Int64
    /// Size of the image including all its layers; -1 when not computed.
    public var size: Int64
    /// Size of the layers shared with other images; -1 when not computed.
    public var sharedSize: Int64
    /// API < 1.44 only (equal to `size` there).
    public var virtualSize: Int64?

    public init(
        id: String, repoTags: [String] = [], created: Int64? = nil, containers: Int64, size: Int64,
        sharedSize: Int64, virtualSize: Int64? = nil
    ) {
        self.id = id
        self.repoTags = repoTags
        self.created = created
        self.containers = containers
        self.size = size
        self.sharedSize = sharedSize
        self.virtualSize = virtualSize
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = try c.opt("Id") ?? ""
        repoTags = try c.opt("RepoTags") ?? []
        created = try c.opt("Created")
        containers = try c.opt("Containers") ?? -1
        size = try c.opt("Size") ?? -1
        sharedSize = try c.opt("SharedSize") ?? -1
        virtualSize = try c.opt("VirtualSize")
    }
}

/// A container in a `/system/df` answer (`ContainerSummary` with sizes).
public struct DiskUsageContainer: Decodable, Sendable, Equatable {
    public var id: String
    public var names: [String]
    public var image: String?
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    public var state: String
    public var status: String?
    /// Size of the container's writable layer (0 when omitted).
    public var sizeRw: Int64
    /// Size of all the container's files including the image (0 when omitted).
    public var sizeRootFs: Int64

    public init(
        id: String, names: [String] = [], image: String? = nil, state: String, status: String? = nil,
        sizeRw: Int64, sizeRootFs: Int64 = 0
    ) {
        self.id = id
        self.names = names
        self.image = image
        self.state = state
        self.status = status
        self.sizeRw = sizeRw
        self.sizeRootFs = sizeRootFs
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = try c.opt("Id") ?? ""
        names = try c.opt("Names") ?? []
        image = try c.opt("Image")
        state = try c.opt("State") ?? ""
        status = try c.opt("Status")
        sizeRw = try c.opt("SizeRw") ?? 0
        sizeRootFs = try c.opt("SizeRootFs") ?? 0
    }

    /// Whether `docker system df` counts the container as active.
    public var isActive: Bool { state == "running" || state == "paused" || state == "restarting" }
}

/// A volume in a `/system/df` answer.
public struct DiskUsageVolume: Decodable, Sendable, Equatable {
    public var name: String
    public var driver: String
    public var mountpoint: String?
    public var createdAt: Date?
    public var labels: [String: String]
    public var scope: String?
    /// nil when the daemon sent none.
    public var usageData: UsageData?

    public struct UsageData: Decodable, Sendable, Equatable {
        /// Bytes; -1 when unknown (the size walk failed, or not a local volume).
        public var size: Int64
        /// Containers referencing the volume; -1 when unknown.
        public var refCount: Int64

        public init(size: Int64, refCount: Int64) {
            self.size = size
            self.refCount = refCount
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            size = try c.opt("Size") ?? -1
            refCount = try c.opt("RefCount") ?? -1
        }
    }

    public init(
        name: String, driver: String = "local", mountpoint: String? = nil, createdAt: Date? = nil,
        labels: [String: String] = [:], scope: String? = "local", usageData: UsageData?
    ) {
        self.name = name
        self.driver = driver
        self.mountpoint = mountpoint
        self.createdAt = createdAt
        self.labels = labels
        self.scope = scope
        self.usageData = usageData
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        name = try c.opt("Name") ?? ""
        driver = try c.opt("Driver") ?? ""
        mountpoint = try c.opt("Mountpoint")
        createdAt = try c.date("CreatedAt")
        labels = try c.opt("Labels") ?? [:]
        scope = try c.opt("Scope")
        usageData = try c.opt("UsageData")
    }
}

/// A BuildKit cache record (`BuildCache[]` / `BuildCacheUsage.Items[]`).
public struct BuildCacheRecord: Sendable, Decodable, Equatable {
    public var id: String
    /// `regular`, `source.local`, `source.git.checkout`, `exec.cachemount`, `internal`, `frontend`.
    public var type: String
    public var description: String
    public var inUse: Bool
    public var shared: Bool
    public var size: Int64
    public var createdAt: Date?
    public var lastUsedAt: Date?
    public var usageCount: Int
    /// Parent record IDs. API 1.42+ sends `Parents` (moby's JSON tag is literally `" Parents"`, with
    /// a leading space, and both spellings are accepted); API 1.41 sends a single `Parent`.
    public var parents: [String]

    public init(
        id: String, type: String, description: String = "", inUse: Bool = false, shared: Bool = false,
        size: Int64, createdAt: Date? = nil, lastUsedAt: Date? = nil, usageCount: Int = 0,
        parents: [String] = []
    ) {
        self.id = id
        self.type = type
        self.description = description
        self.inUse = inUse
        self.shared = shared
        self.size = size
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.usageCount = usageCount
        self.parents = parents
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = try c.req("ID")
        type = try c.opt("Type") ?? ""
        description = try c.opt("Description") ?? ""
        inUse = try c.opt("InUse") ?? false
        shared = try c.opt("Shared") ?? false
        size = try c.opt("Size") ?? 0
        createdAt = try c.date("CreatedAt")
        lastUsedAt = try c.date("LastUsedAt")
        usageCount = try c.opt("UsageCount") ?? 0
        var parents: [String] = try c.opt("Parents") ?? c.opt(" Parents") ?? []
        if parents.isEmpty, let parent: String = try c.opt("Parent"), !parent.isEmpty { parents = [parent] }
        self.parents = parents
    }
}

// MARK: - Summaries (the `docker system df` arithmetic)

extension DiskUsageCategory {
    /// The IMAGES row from legacy data.
    public static func images(_ items: [DiskUsageImage], layersSize: Int64, rules: DiskUsageRules) -> DiskUsageCategory {
        var active = 0
        var reclaimable: Int64 = 0
        switch rules {
        case .current:
            for image in items {
                if image.containers > 0 {
                    active += 1
                } else if image.containers == 0 && image.size != -1 && image.sharedSize != -1 {
                    reclaimable = reclaimable.clampedAdding(image.size.clampedSubtracting(image.sharedSize))
                }
                // containers < 0: no information; neither active nor reclaimable.
            }
        case .cli20_10:
            var used: Int64 = 0
            for image in items {
                if image.containers > 0 { active += 1 }
                if image.containers != 0 {
                    let size = image.virtualSize ?? image.size
                    if size == -1 || image.sharedSize == -1 { continue }
                    used = used.clampedAdding(size.clampedSubtracting(image.sharedSize))
                }
            }
            reclaimable = layersSize.clampedSubtracting(used)
        }
        return DiskUsageCategory(
            totalCount: items.count, activeCount: active, sizeBytes: layersSize,
            reclaimableBytes: reclaimable)
    }

    /// The CONTAINERS row from legacy data (same under both rules).
    public static func containers(_ items: [DiskUsageContainer]) -> DiskUsageCategory {
        var active = 0
        var size: Int64 = 0
        var reclaimable: Int64 = 0
        for container in items {
            size = size.clampedAdding(container.sizeRw)
            if container.isActive { active += 1 } else { reclaimable = reclaimable.clampedAdding(container.sizeRw) }
        }
        return DiskUsageCategory(totalCount: items.count, activeCount: active, sizeBytes: size, reclaimableBytes: reclaimable)
    }

    /// The LOCAL VOLUMES row from legacy data. Volumes without `UsageData` count in TOTAL only.
    ///
    /// - current: ACTIVE `RefCount > 0`; SIZE Σ sizes > 0; RECLAIMABLE SIZE − Σ sizes of active
    ///   volumes. (The CLI subtracts an active volume's size even when it is -1, reporting 1 byte
    ///   more reclaimable per such volume; that quirk is not reproduced.)
    /// - cli20_10: ACTIVE `RefCount > 0`; SIZE Σ sizes ≠ -1; RECLAIMABLE Σ sizes ≠ -1 of volumes
    ///   with `RefCount == 0`.
    public static func volumes(_ items: [DiskUsageVolume], rules: DiskUsageRules) -> DiskUsageCategory {
        var active = 0
        var size: Int64 = 0
        var used: Int64 = 0
        var unreferenced: Int64 = 0
        for volume in items {
            guard let usage = volume.usageData else { continue }
            if usage.refCount > 0 { active += 1 }
            switch rules {
            case .current:
                if usage.size > 0 {
                    size = size.clampedAdding(usage.size)
                    if usage.refCount > 0 { used = used.clampedAdding(usage.size) }
                }
            case .cli20_10:
                if usage.size != -1 {
                    size = size.clampedAdding(usage.size)
                    if usage.refCount == 0 { unreferenced = unreferenced.clampedAdding(usage.size) }
                }
            }
        }
        let reclaimable = rules == .current ? size.clampedSubtracting(used) : unreferenced
        return DiskUsageCategory(totalCount: items.count, activeCount: active, sizeBytes: size, reclaimableBytes: reclaimable)
    }

    /// The BUILD CACHE row from legacy data (same under both rules).
    public static func buildCache(_ records: [BuildCacheRecord]) -> DiskUsageCategory {
        var active = 0
        var size: Int64 = 0
        var used: Int64 = 0
        for record in records {
            if !record.shared { size = size.clampedAdding(record.size) }
            if record.inUse {
                active += 1
                if !record.shared { used = used.clampedAdding(record.size) }
            }
        }
        return DiskUsageCategory(totalCount: records.count, activeCount: active, sizeBytes: size, reclaimableBytes: size.clampedSubtracting(used))
    }
}

// MARK: - Wire format

/// `ImageUsage` / `ContainerUsage` / `VolumeUsage` / `BuildCacheUsage` (API 1.52+). The daemon
/// omits zero counts and sizes (`omitempty`).
struct PerTypeUsageWire<Item: Decodable & Sendable>: Decodable {
    var activeCount: Int64
    var totalCount: Int64
    var reclaimable: Int64
    var totalSize: Int64
    var items: [Item]?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        activeCount = try c.opt("ActiveCount") ?? 0
        totalCount = try c.opt("TotalCount") ?? 0
        reclaimable = try c.opt("Reclaimable") ?? 0
        totalSize = try c.opt("TotalSize") ?? 0
        items = try c.opt("Items")
    }

    var category: DiskUsageCategory {
        DiskUsageCategory(
            totalCount: Int(clamping: totalCount), activeCount: Int(clamping: activeCount),
            sizeBytes: totalSize, reclaimableBytes: reclaimable)
    }
}

/// A legacy array: absent (nil), or present (a `null` counts as present and empty: daemons before
/// 23 send `null` for an empty list).
struct DiskUsageWire: Decodable {
    var layersSize: Int64?
    var images: [DiskUsageImage]?
    var containers: [DiskUsageContainer]?
    var volumes: [DiskUsageVolume]?
    var buildCache: [BuildCacheRecord]?
    var imageUsage: PerTypeUsageWire<DiskUsageImage>?
    var containerUsage: PerTypeUsageWire<DiskUsageContainer>?
    var volumeUsage: PerTypeUsageWire<DiskUsageVolume>?
    var buildCacheUsage: PerTypeUsageWire<BuildCacheRecord>?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        func legacy<T: Decodable>(_ key: String) throws -> [T]? {
            guard c.has(key) else { return nil }
            return try c.opt(key) ?? []
        }
        layersSize = try c.opt("LayersSize")
        images = try legacy("Images")
        containers = try legacy("Containers")
        volumes = try legacy("Volumes")
        buildCache = try legacy("BuildCache")
        imageUsage = try c.opt("ImageUsage")
        containerUsage = try c.opt("ContainerUsage")
        volumeUsage = try c.opt("VolumeUsage")
        buildCacheUsage = try c.opt("BuildCacheUsage")
    }

    func summarise(rules: DiskUsageRules) -> SystemDiskUsage {
        let perType = imageUsage != nil || containerUsage != nil || volumeUsage != nil || buildCacheUsage != nil
        var result = SystemDiskUsage(shape: perType ? .perTypeUsage : .legacy, layersSize: layersSize)
        result.imageItems = imageUsage?.items ?? images ?? []
        result.containerItems = containerUsage?.items ?? containers ?? []
        result.volumeItems = volumeUsage?.items ?? volumes ?? []
        result.buildCacheRecords = buildCacheUsage?.items ?? buildCache ?? []
        if perType {
            result.images = imageUsage?.category
            result.containers = containerUsage?.category
            result.volumes = volumeUsage?.category
            result.buildCache = buildCacheUsage?.category
        } else {
            if let images { result.images = .images(images, layersSize: layersSize ?? 0, rules: rules) }
            if let containers { result.containers = .containers(containers) }
            if let volumes { result.volumes = .volumes(volumes, rules: rules) }
            if let buildCache { result.buildCache = .buildCache(buildCache) }
        }
        return result
    }
}

extension Int64 {
    /// Sums of sizes a daemon reported saturate instead of trapping: a corrupt or hostile answer
    /// (`"Size": 9223372036854775807` twice) must give a wrong number, never a crashed watchdog.
    func clampedAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    func clampedSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}

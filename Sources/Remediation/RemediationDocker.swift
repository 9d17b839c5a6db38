import FoundationEssentials
import DockerEngine
import Sampling
import HostProbes
#if canImport(Glibc)
    import Glibc
#endif

/// The Docker calls remediation makes, as a protocol so policy tests drive a fake.
public protocol RemediationDocker: Sendable {
    func pruneBuildCache(keepStorage: Int64) throws -> RemovalResult
    /// The build cache's total and reclaimable bytes (`/system/df`), nil when the engine has none.
    func buildCacheUsage() throws -> (size: Int64, reclaimable: Int64)?
    func listContainers() throws -> [ContainerSummary]
    func inspectContainer(_ id: String) throws -> ContainerInspect
    func removeContainer(_ id: String) throws
    func listImages() throws -> [ImageSummary]
    func removeImage(_ id: String) throws -> RemovalResult
    /// When the image was last tagged (pulled, built, `docker tag`), if Docker knows.
    func imageLastTagTime(_ id: String) throws -> Date?
    func listUnusedVolumes() throws -> [VolumeSummary]
    func removeVolume(_ name: String) throws
    func restartContainer(_ id: String) throws
    /// What each object holds on disk, for the plan's estimates (one `/system/df` walk per episode).
    func objectSizes() throws -> ObjectSizes
}

/// Bytes on disk per object, from the engine's own size fields: an image's size less what it
/// shares with other images, a container's writable layer (`SizeRw`), a volume's data
/// (`UsageData.Size`). An object missing here has no estimate; the plan says "size unknown".
public struct ObjectSizes: Sendable, Equatable {
    public var images: [String: Int64] = [:]
    public var containers: [String: Int64] = [:]
    public var volumes: [String: Int64] = [:]
    public init(images: [String: Int64] = [:], containers: [String: Int64] = [:], volumes: [String: Int64] = [:]) {
        self.images = images
        self.containers = containers
        self.volumes = volumes
    }
}

extension RemediationDocker {
    /// Policy tests' fakes that do not model sizes leave every estimate to the image list's own field.
    public func objectSizes() throws -> ObjectSizes { ObjectSizes() }
}

/// The real thing: each call with the client's deadlines (prunes get longer ones: they walk layers).
public struct DockerRemediationClient: RemediationDocker {
    public let client: DockerClient
    public init(client: DockerClient) { self.client = client }

    public func pruneBuildCache(keepStorage: Int64) throws -> RemovalResult {
        try client.pruneBuildCache(keepStorage: keepStorage, timeout: .seconds(600))
    }
    public func buildCacheUsage() throws -> (size: Int64, reclaimable: Int64)? {
        // Podman builds with buildah: no BuildKit cache, and its /system/df walks everything
        // (seconds on a big host) for an answer that has none.
        if (try? client.version(maxAge: .seconds(3600)))?.engine == .podman { return (0, 0) }
        guard let cache = try client.systemDiskUsage(kinds: [.buildCache], timeout: .seconds(120)).buildCache else { return nil }
        return (cache.sizeBytes, cache.reclaimableBytes)
    }
    public func listContainers() throws -> [ContainerSummary] { try client.listContainers() }
    public func inspectContainer(_ id: String) throws -> ContainerInspect { try client.inspectContainer(id) }
    public func removeContainer(_ id: String) throws { try client.removeContainer(id, timeout: .seconds(120)) }
    public func listImages() throws -> [ImageSummary] { try client.listImages() }
    public func removeImage(_ id: String) throws -> RemovalResult { try client.removeImage(id, timeout: .seconds(300)) }
    public func imageLastTagTime(_ id: String) throws -> Date? { try client.imageLastTagTime(id) }
    public func listUnusedVolumes() throws -> [VolumeSummary] { try client.listUnusedVolumes() }
    public func removeVolume(_ name: String) throws { try client.removeVolume(name, timeout: .seconds(120)) }
    public func restartContainer(_ id: String) throws { try client.restartContainer(id) }
    public func objectSizes() throws -> ObjectSizes {
        let usage = try client.systemDiskUsage(kinds: [.image, .container, .volume], timeout: .seconds(120))
        var sizes = ObjectSizes()
        for image in usage.imageItems where image.size >= 0 {
            sizes.images[image.id] = max(0, image.size - max(0, image.sharedSize))
        }
        for container in usage.containerItems { sizes.containers[container.id] = container.sizeRw }
        for volume in usage.volumeItems {
            if let size = volume.usageData?.size, size >= 0 { sizes.volumes[volume.name] = size }
        }
        return sizes
    }
}

/// The json-file log files the `container_logs` step measures and releases, as a protocol so
/// policy tests drive a fake.
public protocol LogFileAccess: Sendable {
    /// The bytes the live log file takes on disk, nil when it cannot be read.
    func size(_ path: String) -> Int64?
    /// Frees the live log file's disk blocks (its lines so far are gone; dockerd keeps appending).
    func truncate(_ path: String) throws
}

/// The real files, behind `collector.disk.host_prefix` when the watchdog runs in a container.
public struct SystemLogFiles: LogFileAccess {
    public let hostPrefix: String
    public init(hostPrefix: String = "") { self.hostPrefix = hostPrefix }

    public func size(_ path: String) -> Int64? {
        FileSize.allocated(HostPath.resolve(path, hostPrefix: hostPrefix))
    }

    /// A hole over the whole content, the size kept (see ``FileSize/releaseContent(_:)``).
    public func truncate(_ path: String) throws {
        _ = try FileSize.releaseContent(HostPath.resolve(path, hostPrefix: hostPrefix))
    }
}

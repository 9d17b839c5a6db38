import FoundationEssentials

/// The engine behind the Docker API socket, from its own answer (never from version numbers).
public enum EngineKind: String, Sendable, Equatable {
    case docker
    case podman
}

/// Answer of `GET /version`.
///
/// `Version` and `ApiVersion` are present in every engine; the rest is optional because some
/// engines (old ones, Docker-compatible ones) omit it.
public struct DockerVersion: Decodable, Sendable, Equatable {
    /// Engine version, e.g. `20.10.24+dfsg1`, `29.1.0`.
    public var version: String
    /// Highest API version the daemon speaks, e.g. `1.41`.
    public var apiVersion: String
    /// Lowest API version the daemon accepts, e.g. `1.12` (20.10), `1.24` (25+).
    public var minAPIVersion: String?
    public var os: String?
    public var arch: String?
    public var kernelVersion: String?
    public var gitCommit: String?
    public var goVersion: String?
    public var buildTime: String?
    public var experimental: Bool?
    /// `Platform.Name`, e.g. `Docker Engine - Community`.
    public var platformName: String?
    /// `Components[]`: name and version of each part (Engine, containerd, runc, docker-init).
    public var components: [Component]

    public struct Component: Decodable, Sendable, Equatable {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            name = try c.opt("Name") ?? ""
            version = try c.opt("Version") ?? ""
        }
    }

    /// Which engine answers the Docker API: Podman names itself in `Components` ("Podman Engine");
    /// every other answer is Docker's (Engine, or none at all on old daemons).
    public var engine: EngineKind {
        components.contains { $0.name.lowercased().hasPrefix("podman") } ? .podman : .docker
    }

    /// `apiVersion` parsed; nil if the daemon sent something odd.
    public var api: APIVersion? { APIVersion(apiVersion) }
    public var minAPI: APIVersion? { minAPIVersion.flatMap(APIVersion.init) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        version = try c.req("Version")
        apiVersion = try c.req("ApiVersion")
        minAPIVersion = try c.opt("MinAPIVersion")
        os = try c.opt("Os")
        arch = try c.opt("Arch")
        kernelVersion = try c.opt("KernelVersion")
        gitCommit = try c.opt("GitCommit")
        goVersion = try c.opt("GoVersion")
        buildTime = try c.opt("BuildTime")
        experimental = try c.opt("Experimental")
        struct Platform: Decodable { var Name: String? }
        platformName = try c.opt("Platform", as: Platform.self)?.Name
        components = try c.opt("Components") ?? []
    }

    /// Decodes a `/version` body; errors name the offending field.
    public static func decode(_ data: Data) throws(ModelDecodingError) -> DockerVersion {
        try ModelJSON.decode(DockerVersion.self, from: data, what: "GET /version")
    }
}

/// Answer of `GET /info` (the cheap, useful part of it).
public struct DockerInfo: Decodable, Sendable, Equatable {
    /// Daemon ID (a UUID on current engines, a `XXXX:XXXX:...` key on older ones).
    public var id: String?
    /// Host name.
    public var name: String?
    public var serverVersion: String?
    public var dockerRootDir: String?
    /// Storage driver, e.g. `overlay2`.
    public var driver: String?
    /// `DriverStatus` pairs, e.g. `["Backing Filesystem", "extfs"]`.
    public var driverStatus: [[String]]
    public var liveRestoreEnabled: Bool?
    public var containers: Int?
    public var containersRunning: Int?
    public var containersPaused: Int?
    public var containersStopped: Int?
    public var images: Int?
    public var ncpu: Int?
    public var memTotal: Int64?
    public var operatingSystem: String?
    public var osType: String?
    public var architecture: String?
    public var kernelVersion: String?
    public var cgroupDriver: String?
    /// `"1"` or `"2"`.
    public var cgroupVersion: String?
    public var loggingDriver: String?
    public var defaultRuntime: String?
    public var experimentalBuild: Bool?
    /// The daemon's clock (RFC 3339 with nanoseconds); nil if absent or unparsable.
    public var systemTime: Date?
    public var warnings: [String]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = try c.opt("ID")
        name = try c.opt("Name")
        serverVersion = try c.opt("ServerVersion")
        dockerRootDir = try c.opt("DockerRootDir")
        driver = try c.opt("Driver")
        driverStatus = try c.opt("DriverStatus") ?? []
        liveRestoreEnabled = try c.opt("LiveRestoreEnabled")
        containers = try c.opt("Containers")
        containersRunning = try c.opt("ContainersRunning")
        containersPaused = try c.opt("ContainersPaused")
        containersStopped = try c.opt("ContainersStopped")
        images = try c.opt("Images")
        ncpu = try c.opt("NCPU")
        memTotal = try c.opt("MemTotal")
        operatingSystem = try c.opt("OperatingSystem")
        osType = try c.opt("OSType")
        architecture = try c.opt("Architecture")
        kernelVersion = try c.opt("KernelVersion")
        cgroupDriver = try c.opt("CgroupDriver")
        cgroupVersion = try c.opt("CgroupVersion")
        loggingDriver = try c.opt("LoggingDriver")
        defaultRuntime = try c.opt("DefaultRuntime")
        experimentalBuild = try c.opt("ExperimentalBuild")
        systemTime = try c.date("SystemTime")
        warnings = try c.opt("Warnings") ?? []
    }

    /// Decodes an `/info` body; errors name the offending field.
    public static func decode(_ data: Data) throws(ModelDecodingError) -> DockerInfo {
        try ModelJSON.decode(DockerInfo.self, from: data, what: "GET /info")
    }
}

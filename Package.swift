// swift-tools-version:6.0
import PackageDescription

/// docker-watchdog: samples a Docker host, serves Prometheus metrics and repairs the host.
///
/// The targets below are in layers, lowest first; a target depends only on targets of lower
/// layers (`scripts/checks/layering.sh` reads this manifest and every file's imports and fails
/// otherwise). Unsafe pointer code lives only in the thin wrappers of layer 2 (and `Locking`);
/// everything above is plain Swift. Linux only: the code uses epoll, statfs, /proc and glibc.
/// docs/architecture.md walks through the layers, one scrape and one remediation.
let package = Package(
    name: "docker-watchdog",
    products: [
        .executable(name: "docker-watchdog", targets: ["docker-watchdog"]),
        .executable(name: "fake-docker-engine", targets: ["fake-docker-engine"]),
        .library(name: "Watchdog", targets: ["Watchdog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0")
    ],
    targets: [
        // MARK: layer 0: C libraries and one shim per library (typed wrappers of variadic calls)
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // HTTP/2 framing for BuildKit's gRPC control service (the build history).
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),
        // gnutls (client-certificate checks, HMAC, random bytes) and crypt (bcrypt via crypt_r) for the web config.
        .target(
            name: "CHTTPServerShims", dependencies: ["CMicroHTTPD"],
            linkerSettings: [.linkedLibrary("gnutls"), .linkedLibrary("crypt")]),
        .target(name: "CZlibShims", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CSystemShims"),

        // MARK: layer 1: foundations without Docker or HTTP
        // Locks, threads, sleeps and allocator settings on pthreads/glibc (ThreadSanitizer sees these
        // locks; Synchronization.Mutex's futex is invisible to it on Linux).
        .target(name: "Locking", dependencies: ["CSystemShims"]),
        // Trimming and number formatting without Foundation (the watchdog links FoundationEssentials at most).
        .target(name: "TextFormatting"),
        .target(name: "Exposition"),
        // Response bodies shared without copies, gzip pieces (zlib).
        .target(name: "ResponseBodies", dependencies: ["CZlibShims"]),

        // MARK: layer 2: thin wrappers (the only modules with unsafe code, besides Locking and ResponseBodies)
        .target(name: "CurlTransport", dependencies: ["CCurl", "CCurlShims", "Locking", "TextFormatting"]),
        .target(name: "MicroHTTPServer", dependencies: ["CMicroHTTPD", "CHTTPServerShims", "Locking", "ResponseBodies"]),
        // statfs with a deadline, /proc/self/mountinfo.
        .target(name: "HostProbes", dependencies: ["Locking", "CSystemShims"]),
        // libyaml's event parser: events, marks and errors as Swift values.
        .target(name: "YAMLEvents", dependencies: ["CYAML"]),
        // One HTTP/2 client exchange (nghttp2) over a byte stream the caller provides.
        .target(name: "HTTP2Session", dependencies: ["CNghttp2"]),

        // MARK: layer 3: the configuration (keys, file/env/flag loading; YAML composed from libyaml's events)
        // and the Docker Engine API client
        .target(name: "WatchdogConfig", dependencies: ["YAMLEvents"]),
        .target(
            name: "DockerEngine",
            dependencies: ["CurlTransport", "HTTP2Session", "Locking", "TextFormatting", .product(name: "Logging", package: "swift-log")]),

        // MARK: layer 4: sampling (collector protocol and registry, runner, store, host status, core metrics)
        .target(
            name: "Sampling",
            dependencies: [
                "DockerEngine", "Exposition", "Locking", "ResponseBodies", "TextFormatting", "WatchdogConfig",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: layer 5: container state and health (tracker, events stream)
        .target(
            name: "Containers",
            dependencies: ["DockerEngine", "Locking", "Sampling", .product(name: "Logging", package: "swift-log")]),

        // MARK: layer 6: collectors (one file each) and remediation (engine, policies, ledger, audit log)
        .target(
            name: "Collectors",
            dependencies: [
                "Containers", "DockerEngine", "Exposition", "HostProbes", "Locking", "Sampling", "TextFormatting",
                "WatchdogConfig", .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Remediation",
            dependencies: [
                "Containers", "CurlTransport", "DockerEngine", "Exposition", "HostProbes", "Locking", "Sampling",
                "TextFormatting", "WatchdogConfig", .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: layer 7: the web front (router with the auth gate, security, status page)
        .target(
            name: "Web",
            dependencies: [
                "Containers", "Exposition", "Locking", "MicroHTTPServer", "Remediation", "Sampling", "TextFormatting",
                "WatchdogConfig", .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: layer 8: the service that wires everything, and the entry point
        .target(
            name: "Watchdog",
            dependencies: [
                "Collectors", "Containers", "CurlTransport", "DockerEngine", "Exposition", "HostProbes", "Locking",
                "MicroHTTPServer", "Remediation",
                "Sampling", "TextFormatting", "Web", "WatchdogConfig", .product(name: "Logging", package: "swift-log"),
            ]),
        // A release binary is linked position-dependent: a PIE's relocations dirty about 2 MiB of
        // pages at start-up that stay resident (BENCHMARKS.md, resident memory). Debug builds (the
        // sanitizers need a PIE) are left alone.
        .executableTarget(
            name: "docker-watchdog", dependencies: ["Watchdog"],
            linkerSettings: [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(platforms: [.linux], configuration: .release))]),

        // MARK: layer 9: test support, benchmark and fuzz tools (not part of the watchdog)
        .target(name: "FakeDockerEngine", dependencies: ["MicroHTTPServer", "Locking"]),
        .executableTarget(name: "fake-docker-engine", dependencies: ["FakeDockerEngine", "MicroHTTPServer"]),
        .executableTarget(
            name: "bench-profile",
            dependencies: ["Watchdog", "Collectors", "Containers", "Sampling", "ResponseBodies", "DockerEngine", "Exposition", "FakeDockerEngine", "MicroHTTPServer"]),
        .target(name: "WatchdogTestSupport", dependencies: ["CurlTransport"]),
        // Fuzz targets (scripts/checks/fuzz.sh builds them with libFuzzer; a plain build replays a corpus).
        .target(
            name: "FuzzTargets",
            dependencies: [
                "DockerEngine", "WatchdogConfig", "Watchdog", "Exposition", "MicroHTTPServer", "WatchdogTestSupport",
                "Sampling", "Web", "Collectors", "Containers", "Remediation",
            ]),
        .executableTarget(name: "fuzz-docker-json", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-http", dependencies: ["FuzzTargets"]),

        // MARK: tests
        .testTarget(name: "ExpositionTests", dependencies: ["Exposition"]),
        .testTarget(
            name: "WatchdogConfigTests",
            dependencies: ["WatchdogConfig", "YAMLEvents", "Watchdog", "Collectors"], exclude: ["YAMLTrees.txt"]),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzTargets"]),
        .testTarget(
            name: "DockerEngineTests",
            dependencies: ["DockerEngine", "FakeDockerEngine", "CurlTransport", "HTTP2Session"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "WatchdogTests",
            dependencies: [
                "Watchdog", "Sampling", "Collectors", "Containers", "Remediation", "Web", "HostProbes", "ResponseBodies",
                "FakeDockerEngine", "CurlTransport", "WatchdogTestSupport", "Locking", "TextFormatting", "DockerEngine",
                "WatchdogConfig", "MicroHTTPServer", "Exposition",
            ]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Watchdog", "Sampling", "Collectors", "Containers", "Remediation", "Web", "HostProbes", "ResponseBodies",
                "DockerEngine", "Exposition", "CurlTransport", "WatchdogTestSupport", "FakeDockerEngine", "MicroHTTPServer",
                "Locking", "WatchdogConfig", "TextFormatting",
            ]),
    ]
)

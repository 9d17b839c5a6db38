// swift-tools-version:6.0
import PackageDescription

/// Release builds on Linux put every function in a section of its own, so that the linker can
/// place the code a running watchdog executes together (`Sources/docker-watchdog/hot-sections.txt`,
/// made by `scripts/hot-sections.sh`): the kernel keeps whole 64 KiB blocks of a binary's text
/// resident around each page touched, and executed code scattered over the binary made most of it
/// resident (BENCHMARKS.md, resident memory). Debug builds are left alone.
let functionSections: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-function-sections"], .when(platforms: [.linux], configuration: .release))
]

/// docker-watchdog: samples a Docker host, serves Prometheus metrics and repairs the host.
///
/// Layout: two system-library targets and one C shim target wrap libmicrohttpd and libcurl; the only
/// Swift modules that touch unsafe pointers are `CurlTransport` and `MicroHTTPServer`. Everything
/// else is plain Swift.
let package = Package(
    name: "docker-watchdog",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "docker-watchdog", targets: ["docker-watchdog"]),
        .executable(name: "fake-docker-engine", targets: ["fake-docker-engine"]),
        .library(name: "Watchdog", targets: ["Watchdog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "CWatchdogShims",
            dependencies: ["CMicroHTTPD", "CCurl"],
            cSettings: [.unsafeFlags(["-ffunction-sections"], .when(platforms: [.linux], configuration: .release))],
            // gnutls (client-certificate checks, HMAC) and crypt (bcrypt via crypt_r) for the web config.
            linkerSettings: [.linkedLibrary("z"), .linkedLibrary("gnutls"), .linkedLibrary("crypt")]
        ),

        // MARK: thin wrappers (the only modules with unsafe code)
        .target(name: "CurlTransport", dependencies: ["CCurl", "CWatchdogShims", "Locking", "TextFormatting"], swiftSettings: functionSections),
        // Locks ThreadSanitizer can see (Synchronization.Mutex's futex is invisible to it on Linux).
        .target(name: "Locking", dependencies: ["CWatchdogShims"], swiftSettings: functionSections),
        .target(name: "MicroHTTPServer", dependencies: ["CMicroHTTPD", "CWatchdogShims", "Locking"], swiftSettings: functionSections),

        // MARK: plain Swift
        // Trimming and number formatting without Foundation (the watchdog links FoundationEssentials at most).
        .target(name: "TextFormatting", swiftSettings: functionSections),
        .target(name: "Exposition", swiftSettings: functionSections),
        .target(name: "WatchdogConfig", swiftSettings: functionSections),
        .target(
            name: "DockerEngine",
            dependencies: ["CurlTransport", "Locking", "TextFormatting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: functionSections
        ),
        .target(
            name: "Watchdog",
            dependencies: [
                "DockerEngine", "Exposition", "WatchdogConfig", "MicroHTTPServer", "Locking", "TextFormatting",
                // Only for the allocator settings (Support/Allocator.swift): plain calls, no pointers.
                "CWatchdogShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: functionSections
        ),
        // A release binary is linked position-dependent: a PIE's relocations dirty about 2 MiB of
        // pages at start-up that stay resident (BENCHMARKS.md, resident memory). Debug builds (the
        // sanitizers need a PIE) are left alone. The executed code is placed together (see
        // `functionSections`; gold's option, the toolchain's default linker on Linux).
        .executableTarget(
            name: "docker-watchdog", dependencies: ["Watchdog"],
            exclude: ["hot-sections.txt"],
            swiftSettings: functionSections,
            linkerSettings: [.unsafeFlags(
                ["-Xclang-linker", "-no-pie",
                 "-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/Sources/docker-watchdog/hot-sections.txt"],
                .when(platforms: [.linux], configuration: .release))]
        ),

        // MARK: test support
        .target(name: "FakeDockerEngine", dependencies: ["MicroHTTPServer", "Locking"]),
        // Benchmark servers and profile (scripts/bench.sh): not part of the watchdog.
        .executableTarget(name: "fake-docker-engine", dependencies: ["FakeDockerEngine", "MicroHTTPServer"]),
        .executableTarget(
            name: "bench-profile",
            dependencies: ["Watchdog", "DockerEngine", "Exposition", "FakeDockerEngine", "MicroHTTPServer"]
        ),
        .target(name: "WatchdogTestSupport", dependencies: ["CurlTransport"]),
        // Fuzz targets (scripts/checks/fuzz.sh builds them with libFuzzer; a plain build replays a corpus).
        .target(
            name: "FuzzTargets",
            dependencies: ["DockerEngine", "WatchdogConfig", "Watchdog", "Exposition", "MicroHTTPServer", "WatchdogTestSupport"]
        ),
        .executableTarget(name: "fuzz-docker-json", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-http", dependencies: ["FuzzTargets"]),

        // MARK: tests
        .testTarget(name: "ExpositionTests", dependencies: ["Exposition"]),
        .testTarget(name: "WatchdogConfigTests", dependencies: ["WatchdogConfig", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzTargets"]),
        .testTarget(
            name: "DockerEngineTests",
            dependencies: ["DockerEngine", "FakeDockerEngine", "CurlTransport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "WatchdogTests", dependencies: ["Watchdog", "FakeDockerEngine", "CurlTransport", "WatchdogTestSupport", "Locking", "TextFormatting", "DockerEngine"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Watchdog", "DockerEngine", "Exposition", "CurlTransport", "WatchdogTestSupport", "FakeDockerEngine", "MicroHTTPServer", "Locking"]),
    ]
)

import Foundation

/// A private engine of the test's own, started and stopped with `scripts/test-dockerd.sh`, for
/// tests that must not share a daemon (they restart it, fill it with containers, or compare counts).
///
/// The engine is `engine`, or `WATCHDOG_TEST_ENGINE` when a test run is for one engine of the
/// matrix (`scripts/test.sh` runs the real-daemon suites once per engine), or Debian 12's dockerd.
public final class PrivateDaemon: @unchecked Sendable {
    public let name: String
    public let host: String
    public let pidFile: String
    public let dataRoot: String
    /// debian12, docker26, docker28, docker28-containerd or podman4.
    public let engine: String
    /// A docker CLI that talks to this engine (Debian's 20.10 for debian12, Docker 28's otherwise).
    public let cli: String
    /// DOCKER_CONFIG for `cli` (where the buildx plugin is), when it needs one.
    public let dockerConfig: String?

    /// The engine a test run is for (`WATCHDOG_TEST_ENGINE`), debian12 by default.
    public static var engineUnderTest: String {
        let value = ProcessInfo.processInfo.environment["WATCHDOG_TEST_ENGINE"] ?? ""
        return value.isEmpty ? "debian12" : value
    }

    public var isPodman: Bool { engine.hasPrefix("podman") }

    /// Podman's health checks run from systemd timers, which these machines lack: for a Podman
    /// engine this thread runs every running container's check once a second (what the tests'
    /// `--health-interval 1s` asks of Docker), so every suite sees health work as on Docker.
    private let healthDriverStopped = NSLock()
    private var healthDriverRunning = false

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// `scripts/test-dockerd.sh`, from `WATCHDOG_TEST_DOCKERD_SCRIPT` or next to the package.
    public static var script: String {
        if let path = ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKERD_SCRIPT"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("scripts/test-dockerd.sh").path
    }

    /// Debian's 20.10 client, which matches the daemon and can do BuildKit builds.
    public static let dockerCLI = "/usr/bin/docker"

    /// - Parameter daemonArguments: appended to dockerd's command line (`WATCHDOG_TEST_DOCKERD_EXTRA_ARGS`).
    /// - Parameter logsLoopfsMB: the containers' directory (their logs) on a loop filesystem of its own.
    public init(name: String, loopfsMB: Int? = nil, logsLoopfsMB: Int? = nil, engine: String? = nil, daemonArguments: [String] = []) throws {
        self.name = name
        let engine = engine ?? Self.engineUnderTest
        self.engine = engine
        var args = ["start", name, "--engine", engine]
        if let loopfsMB { args += ["--loopfs", String(loopfsMB)] }
        if let logsLoopfsMB { args += ["--logs-loopfs", String(logsLoopfsMB)] }
        let started = try runCommand(
            Self.script, args, environment: daemonArguments.isEmpty ? [:] : ["WATCHDOG_TEST_DOCKERD_EXTRA_ARGS": daemonArguments.joined(separator: " ")])
        guard started.status == 0 else {
            throw Failure(description: "test-dockerd.sh start \(name) failed: \(started.output) \(started.error)")
        }
        let env = try runCommand(Self.script, ["env", name, "--prefix", "D"])
        var values: [String: String] = [:]
        for line in env.output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[String(pair[0])] = String(pair[1]) }
        }
        guard let host = values["D_HOST"], let pid = values["D_PIDFILE"], let root = values["D_ROOT"] else {
            throw Failure(description: "test-dockerd.sh env \(name) printed no addresses: \(env.output)")
        }
        self.host = host
        self.pidFile = pid
        self.dataRoot = root
        self.cli = values["D_CLI"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.dockerCLI
        self.dockerConfig = values["D_DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if engine.hasPrefix("podman") { startHealthDriver() }
    }

    private func startHealthDriver() {
        healthDriverStopped.withLock { healthDriverRunning = true }
        let socket = String(host.dropFirst("unix://".count))
        Thread.detachNewThread { [self] in
            var withoutCheck = Set<String>()
            while healthDriverStopped.withLock({ healthDriverRunning }) {
                let list = (try? runCommand("/usr/bin/curl", ["-s", "--max-time", "2", "--unix-socket", socket, "http://d/containers/json"]))?.output ?? ""
                let ids = ((try? JSONSerialization.jsonObject(with: Data(list.utf8))) as? [[String: Any]] ?? []).compactMap { $0["Id"] as? String }
                for id in ids where !withoutCheck.contains(id) {
                    let r = try? runCommand(
                        "/usr/bin/curl", ["-s", "--max-time", "5", "--unix-socket", socket, "http://d/v4.0.0/libpod/containers/\(id)/healthcheck"])
                    if r?.output.contains("no defined healthcheck") == true { withoutCheck.insert(id) }
                }
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// The daemon's pid, from its pidfile.
    public var pid: Int32? {
        (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Runs the docker CLI against this daemon; throws with its stderr on failure.
    @discardableResult
    public func docker(_ args: [String], environment: [String: String] = [:]) throws -> String {
        var environment = environment
        if let dockerConfig, environment["DOCKER_CONFIG"] == nil { environment["DOCKER_CONFIG"] = dockerConfig }
        let r = try runCommand(cli, ["-H", host] + args, environment: environment)
        guard r.status == 0 else { throw Failure(description: "docker \(args.joined(separator: " ")): \(r.error)") }
        return r.output
    }

    /// Runs a container's health check once (Podman's checks are run by systemd timers, which
    /// these machines lack); on Docker it only reads the status. Returns the status.
    @discardableResult
    public func runHealthcheck(_ container: String) throws -> String {
        let r = try runCommand(Self.script, ["healthcheck", name, container])
        guard r.status == 0 else { throw Failure(description: "healthcheck \(container): \(r.output) \(r.error)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops dockerd by its pid and starts it again on the same state.
    public func restart() throws {
        let r = try runCommand(Self.script, ["restart", name])
        guard r.status == 0 else { throw Failure(description: "restart \(name): \(r.output) \(r.error)") }
    }

    /// Stops the daemon and removes its state. Safe to call twice.
    public func stop() {
        healthDriverStopped.withLock { healthDriverRunning = false }
        _ = try? runCommand(Self.script, ["stop", name])
    }
}

import Foundation

/// A private dockerd of the test's own, started and stopped with `scripts/test-dockerd.sh`, for
/// tests that must not share a daemon (they restart it, fill it with containers, or compare counts).
public final class PrivateDaemon: @unchecked Sendable {
    public let name: String
    public let host: String
    public let pidFile: String
    public let dataRoot: String

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// `scripts/test-dockerd.sh`, from `WATCHDOG_TEST_DOCKERD_SCRIPT` or next to the package.
    public static var script: String {
        if let path = ProcessInfo.processInfo.environment["WATCHDOG_TEST_DOCKERD_SCRIPT"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("scripts/test-dockerd.sh").path
    }

    /// Debian's 20.10 client, which matches the daemon and can do BuildKit builds.
    public static let dockerCLI = "/usr/bin/docker"

    public init(name: String, loopfsMB: Int? = nil) throws {
        self.name = name
        var args = ["start", name]
        if let loopfsMB { args += ["--loopfs", String(loopfsMB)] }
        let started = try runCommand(Self.script, args)
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
    }

    /// The daemon's pid, from its pidfile.
    public var pid: Int32? {
        (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Runs the docker CLI against this daemon; throws with its stderr on failure.
    @discardableResult
    public func docker(_ args: [String], environment: [String: String] = [:]) throws -> String {
        let r = try runCommand(Self.dockerCLI, ["-H", host] + args, environment: environment)
        guard r.status == 0 else { throw Failure(description: "docker \(args.joined(separator: " ")): \(r.error)") }
        return r.output
    }

    /// Stops dockerd by its pid and starts it again on the same state.
    public func restart() throws {
        let r = try runCommand(Self.script, ["restart", name])
        guard r.status == 0 else { throw Failure(description: "restart \(name): \(r.output) \(r.error)") }
    }

    /// Stops the daemon and removes its state. Safe to call twice.
    public func stop() {
        _ = try? runCommand(Self.script, ["stop", name])
    }
}

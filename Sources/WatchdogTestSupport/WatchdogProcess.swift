import CurlTransport
import Foundation

/// The real `docker-watchdog` binary started as a child process for end-to-end tests.
///
/// It listens on 127.0.0.1 port 0; the bound port is read from its start-up log line. Stopped with
/// SIGTERM by its own pid.
public final class WatchdogProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    /// Where this watchdog writes its audit log (removed when this object goes away).
    public let auditLogPath: String
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stderrText = ""

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The binary under test: `WATCHDOG_BIN`, else `.build/debug/docker-watchdog` next to the package.
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["WATCHDOG_BIN"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/docker-watchdog").path
    }

    /// Runs the binary with `arguments` to completion; returns its exit status and output.
    public static func runToExit(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binaryPath)
        p.arguments = arguments
        p.environment = environment
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Starts the watchdog and waits until it listens.
    ///
    /// `launcher` runs the binary through another program that execs it (e.g. `setpriv --reuid=…`
    /// to run it as an unprivileged user); the pid stays the watchdog's.
    /// `environment` is added to the child's (which otherwise has only PATH).
    public init(arguments: [String], launcher: [String] = [], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: launcher.first ?? Self.binaryPath)
        // Remediation off unless a test turns it on (a later flag wins), and the audit log in a
        // temporary file: a test watchdog must never act on a daemon behind another test's back.
        auditLogPath = FileManager.default.temporaryDirectory.appendingPathComponent("wd-audit-\(UUID().uuidString).jsonl").path
        process.arguments =
            (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [Self.binaryPath]) + [
                "--web.listen-address", "127.0.0.1:0", "--log.level", "debug", "--remediation.disk.enabled=false",
                "--remediation.audit-log", auditLogPath,
            ] + arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.stderrText += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let port = Self.listenPort(in: log) {
                self.port = port
                return
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop()
        throw Failure(description: "watchdog did not start listening; its log:\n\(log)")
    }

    public var log: String {
        lock.lock()
        defer { lock.unlock() }
        return stderrText
    }

    public var pid: Int32 { process.processIdentifier }

    static func listenPort(in log: String) -> Int? {
        guard let range = log.range(of: "listen=") else { return nil }
        let rest = log[range.upperBound...].prefix { !$0.isWhitespace }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        return Int(rest[rest.index(after: colon)...])
    }

    /// GET from the watchdog over loopback.
    public func get(_ path: String, headers: [(String, String)] = [], timeout: Duration = .seconds(5)) throws -> TransportResponse {
        let session = CurlSession(endpoint: .tcp(host: "127.0.0.1", port: port))
        return try session.perform(TransportRequest(target: path, headers: headers, connectTimeout: .seconds(1), totalTimeout: timeout))
    }

    /// Parsed text-format samples from `/metrics`.
    public func samples() throws -> [ParsedSample] {
        try parseExposition(String(decoding: get("/metrics").body, as: UTF8.self))
    }

    /// Polls `/metrics` until `condition` holds or `timeout` passes; returns the last samples.
    @discardableResult
    public func waitFor(_ what: String, timeout: TimeInterval = 20, _ condition: ([ParsedSample]) -> Bool) throws -> [ParsedSample] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [ParsedSample] = []
        while Date() < deadline {
            last = try samples()
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Failure(description: "timed out waiting for \(what); log tail:\n\(log.suffix(3000))")
    }

    /// Waits until every `(metric, container name, value)` of `awaited` is exported; on a timeout
    /// prints each one that did not get there with `describe(name)` (the engine's view of that
    /// container), so the failure says which series was late and why.
    @discardableResult
    public func waitForSeries(
        _ what: String, timeout: TimeInterval, _ awaited: [(String, String, Double)], describe: (String) -> String
    ) throws -> [ParsedSample] {
        do {
            return try waitFor(what, timeout: timeout) { s in awaited.allSatisfy { s.value($0.0, ["name": $0.1]) == $0.2 } }
        } catch {
            let last = (try? samples()) ?? []
            for (metric, name, want) in awaited where last.value(metric, ["name": name]) != want {
                let got = last.value(metric, ["name": name]).map { "\($0)" } ?? "absent"
                print("\(what): \(metric){name=\(name)} is \(got), awaited \(want); engine: \(describe(name))")
            }
            throw error
        }
    }

    /// Open descriptors and threads of the watchdog process, from /proc.
    public func footprint() -> (fds: Int, threads: Int) {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
        return (fds, threads)
    }

    /// What each open descriptor points at (`socket:[123]`, a path), for failure messages. A socket
    /// also names its other end as `ss` sees it: which socket file and process a unix connection
    /// reaches (`peer gone` for a connection whose daemon has exited and which libcurl has not
    /// looked at since), or a TCP socket's addresses and state; `socket:[inode]` alone cannot tell
    /// a connection to the daemon from libcurl's wake-up socketpair or an HTTP client's connection.
    public func descriptorTargets() -> [String] {
        let dir = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let sockets = Self.socketTable()
        return names.compactMap { name -> (Int, String)? in
            guard let fd = Int(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(name)")
            else { return nil }
            guard target.hasPrefix("socket:["), let described = sockets[String(target.dropFirst(8).dropLast())] else {
                return (fd, "\(fd) \(target)")
            }
            return (fd, "\(fd) \(target) \(described)")
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Every socket `ss` lists, by inode: unix ones with their state and what their peer is, TCP
    /// ones with state and addresses. Empty if `ss` (iproute2) is missing.
    static func socketTable() -> [String: String] {
        guard let ss = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss", "/sbin/ss"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return [:] }
        var table: [String: String] = [:]
        // u_str ESTAB 0 0 /path/or/* INODE /peer/path/or/* PEER_INODE users:(("name",pid=1,fd=3),…)
        var unix: [String: (state: String, local: String, peer: String, users: String)] = [:]
        for line in ((try? runCommand(ss, ["-xanp"]).output) ?? "").split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 8 else { continue }
            unix[f[5]] = (f[1], f[4], f[7], f.dropFirst(8).joined(separator: " "))
        }
        for (inode, u) in unix {
            let peer: String
            if let p = unix[u.peer] {
                peer = "peer \(p.local == "*" ? "unnamed" : p.local) \(p.users.isEmpty ? "" : p.users)"
            } else {
                peer = u.peer == "0" ? "peer gone" : u.peer == "*" ? "no peer" : "peer \(u.peer)"
            }
            table[inode] = "unix \(u.state)\(u.local == "*" ? "" : " " + u.local) \(peer)"
        }
        // ESTAB 0 0 127.0.0.1:9 127.0.0.1:5 users:(…) ino:123 sk:…
        for line in ((try? runCommand(ss, ["-tanpe"]).output) ?? "").split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 5, let ino = f.first(where: { $0.hasPrefix("ino:") }) else { continue }
            table[String(ino.dropFirst(4))] = "tcp \(f[0]) \(f[3]) -> \(f[4])"
        }
        return table
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        stderrPipe.fileHandleForReading.readabilityHandler = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: auditLogPath)
    }

    /// The audit log's records, oldest first.
    public func auditRecords() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: auditLogPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

}

/// Runs a command to completion and returns its exit status, standard output and standard error
/// (for docker, df, promtool, the test-bed script).
///
/// Uses posix_spawn and waitpid with the output in temporary files rather than Foundation's
/// `Process`, whose exit detection was seen to hang when the child leaves daemons behind.
@discardableResult
public func runCommand(
    _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]
) throws -> (status: Int32, output: String, error: String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inPath = dir.appendingPathComponent("in").path
    let outPath = dir.appendingPathComponent("out").path
    let errPath = dir.appendingPathComponent("err").path
    try Data((stdin ?? "").utf8).write(to: URL(fileURLWithPath: inPath))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard rc == 0 else { throw CommandFailure(description: "cannot run \(executable): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let error = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return (exitStatus, output, error)
}

public struct CommandFailure: Error, CustomStringConvertible {
    public let description: String
}

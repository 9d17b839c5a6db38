import DockerEngine
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import TextFormatting

/// What a command run by the watchdog did.
public struct CommandResult: Sendable, Equatable {
    /// The exit status, or 128 + the signal that ended it.
    public var status: Int32
    /// The command ran past its deadline and was killed (with its whole process group).
    public var timedOut: Bool
    /// The end of its standard output and error, for the log and the audit record.
    public var output: String

    public init(status: Int32, timedOut: Bool = false, output: String = "") {
        self.status = status
        self.timedOut = timedOut
        self.output = output
    }
}

/// The host side of a daemon restart, as a protocol so the policy's tests fake it: find and signal
/// dockerd, run the restart command, ping the daemon.
public protocol DaemonControl: Sendable {
    /// dockerd's pid from its pidfile, when the file names a live process.
    func daemonPID(pidFile: String) -> Int32?
    /// Where dockerd writes its stack dumps: its exec root (best effort, from its command line).
    func stackDumpDirectory(pid: Int32) -> String
    /// Sends SIGUSR1: dockerd writes a goroutine stack dump and logs where.
    func requestStackDump(pid: Int32) throws
    /// The newest `goroutine-stacks-*.log` in `directory` written at or after `since`.
    func findStackDump(in directory: String, since: Date) -> String?
    /// Runs `/bin/sh -c command` to completion or until `timeout` (then kills its process group).
    func run(_ command: String, timeout: Duration) -> CommandResult
    /// One `/_ping` with a deadline; true when the daemon answered.
    func ping(timeout: Duration) -> Bool
}

public struct DaemonControlError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The real host: signals, posix_spawn, and a Docker client of its own for the verification pings.
public struct SystemDaemonControl: DaemonControl {
    public let client: DockerClient

    public init(client: DockerClient) { self.client = client }

    public func daemonPID(pidFile: String) -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingWhitespace()), pid > 1
        else { return nil }
        return kill(pid, 0) == 0 || errno == EPERM ? pid : nil
    }

    public func stackDumpDirectory(pid: Int32) -> String {
        // dockerd writes goroutine-stacks-<time>.log into its exec root (default /var/run/docker).
        if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") {
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            for (i, arg) in args.enumerated() {
                if arg == "--exec-root", i + 1 < args.count { return args[i + 1] }
                if arg.hasPrefix("--exec-root=") { return String(arg.dropFirst("--exec-root=".count)) }
            }
        }
        return "/var/run/docker"
    }

    public func requestStackDump(pid: Int32) throws {
        guard kill(pid, SIGUSR1) == 0 else {
            throw DaemonControlError("cannot send SIGUSR1 to dockerd (pid \(pid)): \(String(cString: strerror(errno)))")
        }
    }

    public func findStackDump(in directory: String, since: Date) -> String? {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return nil }
        var best: (path: String, time: Date)?
        for name in names where name.hasPrefix("goroutine-stacks-") && name.hasSuffix(".log") {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let time = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                time >= since.addingTimeInterval(-1)
            else { continue }
            if best == nil || time > best!.time { best = (path, time) }
        }
        return best?.path
    }

    public func run(_ command: String, timeout: Duration) -> CommandResult {
        runShellCommand(command, timeout: timeout)
    }

    public func ping(timeout: Duration) -> Bool {
        (try? client.ping(timeout: timeout)) != nil
    }
}

/// Runs `/bin/sh -c command` with posix_spawn in a process group of its own, its output in a
/// temporary file, default signal dispositions and an empty signal mask (the watchdog blocks
/// SIGTERM in every thread; a daemon started by the command must not inherit that), and no
/// descriptor of the watchdog's beyond stdin/stdout/stderr. Past `timeout` the whole group is killed.
func runShellCommand(_ command: String, timeout: Duration) -> CommandResult {
    let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("docker-watchdog-cmd-\(UUID().uuidString).log").path
    defer { unlink(outPath) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    closeFrom(&actions, 3)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

    let arguments: [String] = ["/bin/sh", "-c", command]
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
    guard rc == 0 else {
        return CommandResult(status: 127, output: "cannot run /bin/sh: \(String(cString: strerror(rc)))")
    }
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    var timedOut = false
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { break }
        if ContinuousClock.now >= deadline {
            timedOut = true
            kill(-pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            break
        }
        usleep(20_000)
    }
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    return CommandResult(status: exitStatus, timedOut: timedOut, output: String(text.suffix(2000)))
}

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), looked up at run time because the
/// Glibc module does not export it; without it the child keeps what is not close-on-exec.
private func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
    _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
}

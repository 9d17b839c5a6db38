#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Builds the configuration from the command line, the environment and the configuration file.
///
/// Precedence, highest first: **flags > environment > file > defaults**. Flags win because they
/// are the most local and the most visible (`ps` shows them); the environment beats the file
/// because containers are configured by environment on top of a baked-in file; defaults apply to
/// whatever nobody set.
///
/// Every source is validated in full, even for keys a higher source overrides: an invalid file is
/// a latent outage for the day the override is removed, and `--config.check` must catch it. The
/// exception is `DOCKER_HOST`, which belongs to the docker CLI rather than to us: it is read only
/// when neither `DOCKER_WATCHDOG_DOCKER_HOST` nor `--docker.host` is given.
public enum ConfigLoader {
    /// Environment variable naming the configuration file; `--config.file` overrides it.
    public static let configFileEnvironmentVariable = "DOCKER_WATCHDOG_CONFIG_FILE"

    /// The program name used in `--help`.
    static let programName = "docker-watchdog"

    /// Decides what the process should do.
    ///
    /// - Parameters:
    ///   - arguments: the command-line arguments **without** the program name
    ///     (`Array(CommandLine.arguments.dropFirst())`). Positional arguments are rejected.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`).
    ///     An empty variable counts as unset. Unknown `DOCKER_WATCHDOG_*` variables are rejected.
    ///   - readFile: returns the contents of the configuration file; injected so tests need no
    ///     files. `ConfigLoader.readFile(_:)` is the production implementation.
    /// - Returns: `.help` and `.version` win over any other flag, so `--help` works even with an
    ///   otherwise broken command line.
    /// - Throws: the first problem found; the caller prints it and exits with status 2.
    public static func load(
        arguments: [String],
        environment: [String: String],
        registry: ConfigRegistry,
        readFile: (String) throws -> String
    ) throws(ConfigError) -> ConfigCommand {
        let args = parseArguments(arguments, registry: registry)
        if args.help { return .help(ConfigReference.helpText(program: programName, registry: registry)) }
        if args.version { return .version }
        if let error = args.firstError { throw error }

        var assignments: [RawAssignment] = []

        // 1. The file.
        var configFile = args.configFile
        if configFile == nil, let path = environment[configFileEnvironmentVariable], !path.isEmpty {
            configFile = (path, "env \(configFileEnvironmentVariable)")
        }
        if let (path, source) = configFile {
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw ConfigError(key: "config.file", source: source, reason: "cannot read \(path): \(describe(error))")
            }
            assignments += try YAMLSource.assignments(yaml: text, path: path, registry: registry)
        }

        // 2. The environment.
        assignments += try environmentAssignments(environment, flagKeys: Set(args.assignments.map(\.key.name)), registry: registry)

        // 3. The flags, in the order given, so a repeated flag's last value wins; a repeatable
        // one's values are joined instead (`--web.listen-address a --web.listen-address b`).
        var flags: [RawAssignment] = []
        for assignment in args.assignments {
            if assignment.key.repeatable, let i = flags.firstIndex(where: { $0.key.name == assignment.key.name }) {
                flags[i].raw += "," + assignment.raw
            } else {
                flags.append(assignment)
            }
        }
        assignments += flags

        var config = WatchdogConfiguration.defaults
        var origins: [String: Origin] = [:]
        for assignment in assignments {
            do {
                try assignment.key.apply(&config, assignment.raw)
            } catch {
                throw ConfigError(key: assignment.key.name, source: assignment.origin.source, reason: error.reason)
            }
            origins[assignment.key.name] = assignment.origin
        }
        for rule in registry.crossChecks {
            if let error = rule.check(config, { origins[$0] ?? .defaults }) { throw error }
        }
        return args.check ? .check(config, file: configFile?.path) : .run(config)
    }

    // MARK: - Environment

    private static func environmentAssignments(
        _ environment: [String: String], flagKeys: Set<String>, registry: ConfigRegistry
    ) throws(ConfigError) -> [RawAssignment] {
        var known: Set<String> = [configFileEnvironmentVariable]
        var out: [RawAssignment] = []
        for key in registry.keys {
            known.insert(key.env)
            if let value = environment[key.env], !value.isEmpty {
                out.append(RawAssignment(key: key, raw: value, origin: Origin(layer: .environment, source: "env \(key.env)")))
            } else if !flagKeys.contains(key.name) {
                // Aliases are foreign variables (DOCKER_HOST); only consult them when nothing more
                // specific is set, so a DOCKER_HOST meant for the CLI cannot break an explicit setting.
                if let alias = key.envAliases.first(where: { !(environment[$0] ?? "").isEmpty }) {
                    out.append(RawAssignment(key: key, raw: environment[alias]!, origin: Origin(layer: .environment, source: "env \(alias)")))
                }
            }
        }
        // A misspelt variable would otherwise be silently ignored, which is the hardest kind of
        // configuration bug to find.
        for name in environment.keys.sorted() where name.hasPrefix(ConfigRegistry.envPrefix) && !known.contains(name) {
            var reason = "unknown environment variable"
            if let suggestion = Suggest.closest(to: name, among: known.sorted()) {
                reason += "; did you mean \(suggestion)?"
            }
            throw ConfigError(key: name, source: "environment", reason: reason)
        }
        return out
    }

    // MARK: - Command line

    private struct ParsedArguments {
        var help = false
        var version = false
        var check = false
        var configFile: (path: String, source: String)?
        var assignments: [RawAssignment] = []
        var firstError: ConfigError?

        mutating func fail(_ error: ConfigError) {
            if firstError == nil { firstError = error }
        }
    }

    private static let specialFlags = ["config.file", "config.check", "help", "version"]

    /// Tokenises the arguments. Errors are recorded rather than thrown so that a `--help` anywhere
    /// still shows the help.
    private static func parseArguments(_ arguments: [String], registry: ConfigRegistry) -> ParsedArguments {
        var out = ParsedArguments()
        var i = 0
        var onlyPositionals = false

        func nextValue(for flag: String, key: String, inline: Substring?) -> String? {
            if let inline { return String(inline) }
            guard i < arguments.count else {
                out.fail(ConfigError(key: key, source: "flag \(flag)", reason: "flag needs a value"))
                return nil
            }
            defer { i += 1 }
            return arguments[i]
        }

        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("-") || arg == "-" {
                out.fail(
                    ConfigError(
                        key: arg, source: "command line",
                        reason: "unexpected argument; settings are given as --flags (see --help)"))
                continue
            }
            if arg == "--" {
                onlyPositionals = true
                continue
            }
            if arg == "-h" {
                out.help = true
                continue
            }
            guard arg.hasPrefix("--") else {
                // Go-style single-dash flags (-web.listen-address) are a common habit.
                let name = arg.dropFirst().split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                var reason = "unknown flag"
                if registry.byFlagName[name] != nil || specialFlags.contains(name) {
                    reason += "; did you mean --\(name)?"
                }
                out.fail(ConfigError(key: arg, source: "command line", reason: reason))
                continue
            }
            let body = arg.dropFirst(2)
            let parts = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let inline: Substring? = parts.count == 2 ? parts[1] : nil
            let flag = "--" + name

            switch name {
            case "help":
                out.help = true
            case "version":
                out.version = true
            case "config.check":
                if let inline {
                    do {
                        out.check = try ValueType<Bool>.bool.parse(String(inline))
                    } catch {
                        out.fail(ConfigError(key: "config.check", source: "flag \(flag)", reason: error.reason))
                    }
                } else {
                    out.check = true
                }
            case "config.file":
                guard let path = nextValue(for: flag, key: "config.file", inline: inline) else { continue }
                if path.isEmpty {
                    out.fail(ConfigError(key: "config.file", source: "flag \(flag)", reason: "needs a file path"))
                } else {
                    out.configFile = (path, "flag \(flag)")
                }
            default:
                // `--no-NAME` turns a boolean off (`--no-collector.containers`), as kingpin does.
                if registry.byFlagName[name] == nil, name.hasPrefix("no-"),
                    let key = registry.byFlagName[String(name.dropFirst(3))], key.isBool
                {
                    guard inline == nil else {
                        out.fail(ConfigError(key: key.name, source: "flag \(flag)", reason: "takes no value"))
                        continue
                    }
                    out.assignments.append(RawAssignment(key: key, raw: "false", origin: Origin(layer: .flags, source: "flag \(flag)")))
                    continue
                }
                guard let key = registry.byFlagName[name] else {
                    var reason = "unknown flag"
                    let candidates = registry.keys.map(\.flagName) + specialFlags
                    if let suggestion = Suggest.closest(to: name, among: candidates) {
                        reason += "; did you mean --\(suggestion)?"
                    }
                    out.fail(ConfigError(key: flag, source: "command line", reason: reason))
                    continue
                }
                // A bare bool flag means true; other types always take a value, and the next
                // argument is taken even if it starts with "-" (e.g. a negative number), as Go does.
                let raw = key.isBool && inline == nil ? "true" : nextValue(for: flag, key: key.name, inline: inline)
                guard let raw else { continue }
                out.assignments.append(RawAssignment(key: key, raw: raw, origin: Origin(layer: .flags, source: "flag \(flag)")))
            }
        }
        return out
    }

    // MARK: - Reading the file

    /// Reading the configuration file failed; `reason` is the operating system's wording
    /// (`No such file or directory`), which is what an operator needs to fix it.
    public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
        public var description: String { "\(path): \(reason)" }
    }

    /// The production `readFile`: reads the whole file as UTF-8, with POSIX error reasons.
    public static func readFile(_ path: String) throws(FileReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            // A configuration file is small; refusing huge inputs keeps a mistaken path (a disk
            // image, /dev/zero) from eating memory.
            if bytes.count > 4 << 20 { throw FileReadError(path: path, reason: "file is larger than 4 MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileReadError(path: path, reason: "not valid UTF-8")
        }
        return text
    }

    /// The reason part of a `readFile` error: the bare OS reason ("No such file or directory")
    /// for our own reader; otherwise whatever the error says about itself. (Foundation's file
    /// errors are not unwrapped here: this module does not link Foundation, and the watchdog reads
    /// with `readFile(_:)`.)
    private static func describe(_ error: any Error) -> String {
        if let e = error as? FileReadError { return e.reason }
        return String(describing: error)
    }
}

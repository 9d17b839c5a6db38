import FoundationEssentials
import Logging
import WatchdogConfig

#if canImport(Glibc)
    import Glibc
    import Locking
    import Web
    import Sampling
#endif

/// The program: parse configuration, start the service, run until SIGTERM or SIGINT.
///
/// Lives in the library (not `main.swift`) so that no closure here is inferred to be main-actor
/// isolated; libmicrohttpd and the sampling threads call into this code from their own threads.
public enum Entrypoint {
    /// Exit status for a configuration the program refuses.
    public static let configErrorStatus: Int32 = 2

    public static func main(arguments: [String], environment: [String: String]) -> Int32 {
        let command: ConfigCommand
        do {
            command = try ConfigLoader.load(
                arguments: arguments, environment: environment, registry: .watchdog,
                readFile: { path in
                    try ConfigLoader.readFile(path)
                })
        } catch {
            writeStandardError("docker-watchdog: \(error.description)\n")
            return configErrorStatus
        }
        switch command {
        case .help(let text):
            print(text)
            return 0
        case .version:
            let info = BuildInfo.current
            print("docker-watchdog \(info.version) (revision \(info.revision), branch \(info.branch), built \(info.buildDate), Swift \(info.swiftVersion))")
            return 0
        case .check(let configuration, let file):
            // The web config file (TLS, basic auth) is checked too, key pair included.
            do {
                _ = try WebSecurity(configuration: configuration)
            } catch {
                writeStandardError("docker-watchdog: \(error.description)\n")
                return configErrorStatus
            }
            // The effective configuration after every layer (defaults, file, environment, flags),
            // as a YAML file that loads to the same settings: what the watchdog would run with.
            print("# docker-watchdog: configuration OK\(file.map { " (\($0))" } ?? ""); the effective settings:")
            print(ConfigReference.yamlDocument(for: configuration, registry: .watchdog), terminator: "")
            return 0
        case .run(let configuration):
            let webSecurity: WebSecurity
            do {
                webSecurity = try WebSecurity(configuration: configuration)
            } catch {
                writeStandardError("docker-watchdog: \(error.description)\n")
                return configErrorStatus
            }
            return run(
                configuration, webSecurity: webSecurity,
                reload: { () throws(ConfigError) -> ConfigCommand in
                    try ConfigLoader.load(
                        arguments: arguments, environment: environment, registry: .watchdog,
                        readFile: { path in
                            try ConfigLoader.readFile(path)
                        })
                })
        }
    }

    static func run(
        _ configuration: WatchdogConfiguration, webSecurity: WebSecurity, reload: () throws(ConfigError) -> ConfigCommand
    ) -> Int32 {
        let level = Logger.Level(rawValue: configuration.log.level.rawValue) ?? .info
        let format: StructuredLogHandler.Format = configuration.log.format == .json ? .json : .logfmt
        Allocator.tune()
        LoggingSystem.bootstrap { label in StructuredLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "docker-watchdog")

        // Block the stop signals in every thread (new threads inherit the mask) and wait for them
        // synchronously below: no signal handler runs arbitrary code.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let service = WatchdogService(configuration: configuration, logger: logger)
        do {
            try service.start(webSecurity: webSecurity)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            LogSink.standardError.flush()  // the writer is queued: without this the reason is lost
            return 1
        }
        var received: Int32 = 0
        while true {
            sigwait(&signals, &received)
            guard received == SIGHUP else { break }
            reloadConfiguration(service: service, read: reload, logger: logger)
        }
        logger.info("stopping", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        service.stop()
        LogSink.standardError.flush()
        return 0
    }

    /// SIGHUP: reads the configuration again (same flags and environment, the files anew). Scrapes
    /// are never interrupted: the server keeps running throughout.
    ///
    /// Applied at once: the basic-auth users of the web config file. Every other change is
    /// validated, named in the log and flagged by `docker_watchdog_config_restart_required`,
    /// and applies after a restart: re-creating the sampling and remediation machinery in place
    /// would reset the remediation cool-downs and caps, which a reload must never do. An invalid
    /// file is logged with the key and line and `docker_watchdog_config_last_reload_successful`
    /// goes to 0; the running configuration stays.
    static func reloadConfiguration(service: WatchdogService, read: () throws(ConfigError) -> ConfigCommand, logger: Logger) {
        let store = service.store
        var status = store.reloadStatus
        do {
            guard case .run(let fresh) = try read() else { return }
            var pending = ConfigDiff.changedKeys(service.configuration, fresh, registry: .watchdog)
            let users = try service.webSecurity?.reload()
            if users?.tlsChangeNeedsRestart == true { pending.append("web.config_file (tls_server_config)") }
            status = .init(successful: true, lastSuccess: Date(), restartRequired: !pending.isEmpty)
            logger.info(
                "configuration reloaded",
                metadata: [
                    "basic_auth_users": "\(users?.users.count ?? 0)",
                    "restart_required_for": "\(pending.isEmpty ? "nothing" : pending.joined(separator: ","))",
                ])
        } catch {
            status.successful = false
            logger.error("configuration reload failed; the running configuration stays", metadata: ["error": "\(error.description)"])
        }
        store.setReloadStatus(status)
    }
}

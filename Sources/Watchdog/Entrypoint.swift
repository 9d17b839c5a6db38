import Foundation
import Logging
import WatchdogConfig

#if canImport(Glibc)
import Glibc
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
            command = try ConfigLoader.load(arguments: arguments, environment: environment, readFile: { path in
                try ConfigLoader.readFile(path)
            })
        } catch {
            FileHandle.standardError.write(Data("docker-watchdog: \(error.description)\n".utf8))
            return configErrorStatus
        }
        switch command {
        case .help(let text):
            print(text)
            return 0
        case .version:
            let info = BuildInfo.current
            print("docker-watchdog \(info.version) (revision \(info.revision), Swift \(info.swiftVersion))")
            return 0
        case .check(let configuration, let file):
            // The web config file (TLS, basic auth) is checked too, key pair included.
            do {
                _ = try WebSecurity(configuration: configuration)
            } catch {
                FileHandle.standardError.write(Data("docker-watchdog: \(error.description)\n".utf8))
                return configErrorStatus
            }
            print("docker-watchdog: configuration OK\(file.map { " (\($0))" } ?? "")")
            return 0
        case .run(let configuration):
            let webSecurity: WebSecurity
            do {
                webSecurity = try WebSecurity(configuration: configuration)
            } catch {
                FileHandle.standardError.write(Data("docker-watchdog: \(error.description)\n".utf8))
                return configErrorStatus
            }
            return run(configuration, webSecurity: webSecurity)
        }
    }

    static func run(_ configuration: WatchdogConfiguration, webSecurity: WebSecurity) -> Int32 {
        let level = Logger.Level(rawValue: configuration.log.level.rawValue) ?? .info
        let format: StructuredLogHandler.Format = configuration.log.format == .json ? .json : .logfmt
        LoggingSystem.bootstrap { label in StructuredLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "docker-watchdog")

        // Block the stop signals in every thread (new threads inherit the mask) and wait for them
        // synchronously below: no signal handler runs arbitrary code.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let service = WatchdogService(configuration: configuration, logger: logger)
        do {
            try service.start(webSecurity: webSecurity)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            return 1
        }
        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("stopping", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        service.stop()
        LogSink.standardError.flush()
        return 0
    }
}

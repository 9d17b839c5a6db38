import Foundation
import Watchdog
import WatchdogConfig

/// The configuration loader end to end: a YAML file, command-line flags and environment variables
/// through `ConfigLoader.load`.
///
/// Input layout (so that mutations of one part leave the others intact): everything before the
/// first NUL byte is the configuration file; after it, NUL-separated tokens, where a token of the
/// form `DOCKER_…=value` is an environment variable and any other token a command-line argument.
/// `--config.file fuzz.yaml` always comes first, so the file is read unless a fuzzed flag names
/// another file (every path reads the same text).
///
/// Properties: no trap or hang; a rejection is a `ConfigError` with a key, a source and a reason;
/// an accepted configuration written back out with `ConfigReference.yamlDocument` loads to the
/// same configuration.
public enum ConfigFuzz: FuzzTarget {
    public static let name = "config"

    public static func run(_ input: [UInt8]) throws(PropertyViolation) {
        let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let yaml = String(decoding: parts[0], as: UTF8.self)
        var arguments = ["--config.file", "fuzz.yaml"]
        var environment: [String: String] = [:]
        if parts.count > 1 {
            for token in parts[1].split(separator: 0) {
                let text = String(decoding: token, as: UTF8.self)
                if text.hasPrefix("DOCKER_"), let equals = text.firstIndex(of: "=") {
                    environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
                } else {
                    arguments.append(text)
                }
            }
        }
        let command: ConfigCommand
        do {
            command = try ConfigLoader.load(arguments: arguments, environment: environment, registry: .watchdog, readFile: { _ in yaml })
        } catch {
            guard !error.key.isEmpty, !error.source.isEmpty, !error.reason.isEmpty else {
                throw PropertyViolation("ConfigError without key, source or reason: \(error)")
            }
            return
        }
        switch command {
        case .run(let configuration), .check(let configuration, _):
            let written = ConfigReference.yamlDocument(for: configuration, registry: .watchdog)
            let reloaded: ConfigCommand
            do {
                reloaded = try ConfigLoader.load(arguments: ["--config.file", "effective.yaml"], environment: [:], registry: .watchdog, readFile: { _ in written })
            } catch {
                throw PropertyViolation("the effective configuration does not load back: \(error)\n\(written)")
            }
            guard case .run(let again) = reloaded, again == configuration else {
                throw PropertyViolation("the effective configuration loads back differently:\n\(written)")
            }
        case .help(let text):
            guard !text.isEmpty else { throw PropertyViolation("empty help text") }
        case .version:
            break
        }
    }
}

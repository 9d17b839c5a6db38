@testable import WatchdogConfig
import Watchdog

/// Runs the loader with in-memory files, so no test touches the filesystem.
func load(
    _ arguments: [String] = [],
    env: [String: String] = [:],
    files: [String: String] = [:]
) throws(ConfigError) -> ConfigCommand {
    try ConfigLoader.load(arguments: arguments, environment: env, registry: registry) { path in
        guard let text = files[path] else {
            throw ConfigLoader.FileReadError(path: path, reason: "No such file or directory")
        }
        return text
    }
}

/// The configuration of a `.run` result, or nil (the test then fails on the nil).
func config(
    _ arguments: [String] = [],
    env: [String: String] = [:],
    files: [String: String] = [:]
) throws(ConfigError) -> WatchdogConfiguration? {
    if case .run(let c) = try load(arguments, env: env, files: files) { return c }
    return nil
}

/// The error a load fails with, or nil if it succeeded.
func loadError(
    _ arguments: [String] = [],
    env: [String: String] = [:],
    files: [String: String] = [:]
) -> ConfigError? {
    do {
        _ = try load(arguments, env: env, files: files)
        return nil
    } catch {
        return error
    }
}

/// Loads a single YAML file given as `--config.file config.yaml`.
func loadYAML(_ yaml: String) -> Result<WatchdogConfiguration, ConfigError> {
    do {
        guard case .run(let c) = try load(["--config.file", "config.yaml"], files: ["config.yaml": yaml]) else {
            return .failure(ConfigError(key: "-", source: "-", reason: "not a run command"))
        }
        return .success(c)
    } catch {
        return .failure(error)
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var value: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}

/// Every key the watchdog reads: its own and its collectors'.
let registry = ConfigRegistry.watchdog

import Collectors
import Testing
@testable import WatchdogConfig

/// The registry is the single source of truth; these tests keep it internally consistent so that
/// adding a key cannot silently break a source or the documentation.
@Suite struct RegistryIntegrity {
    @Test func namesAreUniqueDottedLowerSnake() {
        let names = registry.keys.map(\.name)
        #expect(Set(names).count == names.count)
        for name in names {
            let segments = name.split(separator: ".", omittingEmptySubsequences: false)
            #expect(segments.count >= 2, "\(name) needs a section")
            for segment in segments {
                let ok =
                    !segment.isEmpty && segment.first!.isLetter
                    && segment.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "_" }
                #expect(ok, "\(name): segment \(segment) is not lower_snake")
            }
        }
    }

    @Test func derivedNamesDoNotCollide() {
        let flags = registry.keys.map(\.flagName)
        #expect(Set(flags).count == flags.count)
        let envs = registry.keys.flatMap { [$0.env] + $0.envAliases } + [ConfigLoader.configFileEnvironmentVariable]
        #expect(Set(envs).count == envs.count)
        for special in ["config.file", "config.check", "help", "version"] {
            #expect(registry.byFlagName[special] == nil)
        }
    }

    @Test func noKeyIsAlsoASection() {
        for key in registry.keys {
            #expect(!registry.sections.contains(key.name), "\(key.name) is both a key and a section")
        }
    }

    @Test func everyDefaultIsDocumentedAndRoundTrips() throws {
        for key in registry.keys {
            #expect(key.roundTrips(.defaults), "\(key.name): default \(key.defaultText) does not parse back")
            #expect(!key.doc.isEmpty, "\(key.name) has no description")
        }
    }

    @Test func derivedNamesFollowTheConvention() throws {
        let key = try #require(registry.byName["collector.system_df.interval"])
        #expect(key.flag == "--collector.system-df.interval")
        #expect(key.env == "DOCKER_WATCHDOG_COLLECTOR_SYSTEM_DF_INTERVAL")
    }

    @Test func everyKeyIsSettableFromEverySource() throws {
        // Sets each key to a non-default value via flag, env and file, and checks that the result
        // differs from the defaults and agrees across sources: proves every registry entry is wired
        // to its own field and reachable under its derived names.
        let samples: [String: String] = [
            "docker.host": "tcp://h:1", "docker.api_version": "1.41", "docker.cert_path": "/certs", "docker.read_only": "true", "web.listen_address": ":1",
            "web.telemetry_path": "/x", "web.systemd_socket": "true", "collector.disk.path": "/d", "collector.disk.host_prefix": "/h", "collector.disk.containerd_root": "/c",
            "log.level": "error", "log.format": "json", "web.max_connections": "7",
            "web.max_connections_per_ip": "7", "web.config_file": "/etc/w.yml", "web.request_header_timeout": "7s",
            "collector.containers.enabled": "false", "collector.containers.include": "^a",
            "collector.daemon.enabled": "false", "collector.disk.enabled": "false", "collector.system_df.enabled": "false",
            "collector.process.enabled": "false", "collector.containers.max_label_value_length": "64",
            "collector.containers.exclude": "^b", "collector.containers.labels": "team",
            "collector.containers.max_inspects_per_round": "7", "collector.containers.max_series": "7", "collector.containers.max_streak_inspects_per_round": "7",
            "collector.containers.history_size": "7", "collector.build_cache.enabled": "false", "collector.build_history.enabled": "false", "collector.logs.enabled": "false",
            "remediation.webhook_url": "http://127.0.0.1:1/x",
            // remediation (the disk keys, then the daemon and autoheal policies)
            "remediation.dry_run": "true", "remediation.audit_log": "/a.jsonl", "remediation.protect_label": "keep=1",
            "remediation.keep_pattern": "^k", "remediation.disk.enabled": "false", "remediation.disk.dry_run": "true",
            "remediation.disk.act_below_ratio": "0.15", "remediation.disk.act_below_bytes": "7MiB",
            "remediation.disk.act_below_inodes_ratio": "0.15", "remediation.disk.target_ratio": "0.3",
            "remediation.disk.target_inodes_ratio": "0.3", "remediation.disk.steps": "volumes",
            "remediation.disk.build_cache_keep": "7MiB", "remediation.disk.named_volume_label": "gc=1",
            "remediation.disk.logs_truncate_above": "7MiB", "remediation.disk.logs_label": "cut=1", "remediation.disk.logs_all": "true",
            "remediation.daemon.enabled": "true", "remediation.daemon.dry_run": "true", "remediation.daemon.failures": "7",
            "remediation.daemon.restart_command": "/bin/true", "remediation.daemon.pid_file": "/p.pid",
            "remediation.daemon.max_restarts": "7", "remediation.autoheal.enabled": "false",
            "remediation.autoheal.dry_run": "true", "remediation.autoheal.label": "heal=1", "remediation.autoheal.all": "true",
            "remediation.autoheal.max_restarts": "7", "remediation.autoheal.stack": "true",
        ]
        var fieldsSeen: [(String, WatchdogConfiguration)] = []
        // docker.tls_verify is valid only with a tcp:// host and readable certificates:
        // DockerTLSConfigTests sets it from every source with them.
        for key in registry.keys where key.name != "docker.tls_verify" {
            let value = samples[key.name] ?? "3s"  // every other key is a duration today; no default is 3s
            let viaFlag = try config([key.flag + "=" + value])
            let viaEnv = try config(env: [key.env: value])
            let viaFile = loadYAML(nestedYAML(key.name, value)).value
            #expect(viaFlag != nil && viaFlag != .defaults, "\(key.name) via flag")
            #expect(viaEnv == viaFlag, "\(key.name) via env")
            #expect(viaFile == viaFlag, "\(key.name) via file")
            if let viaFlag {
                if let other = fieldsSeen.first(where: { $0.1 == viaFlag }) {
                    Issue.record("\(key.name) writes the same field as \(other.0)")
                }
                fieldsSeen.append((key.name, viaFlag))
            }
        }
    }

    /// `a.b.c`, `v` → "a:\n  b:\n    c: \"v\"\n"
    private func nestedYAML(_ name: String, _ value: String) -> String {
        let parts = name.split(separator: ".")
        var out = ""
        for (depth, part) in parts.enumerated() {
            out += String(repeating: "  ", count: depth) + part + ":"
            out += depth == parts.count - 1 ? " \"\(value)\"\n" : "\n"
        }
        return out
    }
}

@Suite struct Reference {
    @Test func markdownTableHasEveryKeyExactlyOnce() {
        let table = ConfigReference.markdownTable(registry: registry)
        let rows = table.split(separator: "\n").dropFirst(2)
        #expect(rows.count == registry.keys.count)
        for key in registry.keys {
            let occurrences = rows.filter { $0.hasPrefix("| `\(key.name)` |") }
            #expect(occurrences.count == 1, "\(key.name) appears \(occurrences.count) times")
            #expect(occurrences.first?.contains("`\(key.flag)`") == true)
            #expect(occurrences.first?.contains("`\(key.env)`") == true)
        }
    }

    @Test func markdownTableShape() throws {
        let lines = ConfigReference.markdownTable(registry: registry).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "| key | flag | env | type | default | description |")
        #expect(lines.last == "")  // ends with a newline
        for line in lines.dropLast() {
            // Six cells: seven unescaped pipes.
            let pipes = line.split(separator: "\\|", omittingEmptySubsequences: false).joined().filter { $0 == "|" }.count
            #expect(pipes == 7, "\(line)")
        }
        let host = try #require(lines.first { $0.hasPrefix("| `docker.host` |") })
        #expect(
            host
                == "| `docker.host` | `--docker.host` | `DOCKER_WATCHDOG_DOCKER_HOST`, `DOCKER_HOST` | Docker host (unix:// or tcp://) | `unix:///var/run/docker.sock` | \(registry.byName["docker.host"]!.doc) |"
        )
        #expect(lines.contains { $0.hasPrefix("| `collector.daemon.info_interval` |") && $0.contains("| `1m` |") })
        #expect(lines.contains { $0.hasPrefix("| `collector.disk.path` |") && $0.contains("| `\"\"` |") })
    }

    @Test func helpMentionsEveryFlagEnvAndDefault() {
        let help = ConfigReference.helpText(program: "dw", registry: registry)
        #expect(help.hasPrefix("Usage: dw [flags]\n"))
        for key in registry.keys {
            #expect(help.contains("  \(key.flag) ") || help.contains("  \(key.flag)\n"), "\(key.flag) missing")
            #expect(help.contains(key.env), "\(key.env) missing")
            #expect(help.contains("default: \(key.defaultText.isEmpty ? "\"\"" : key.defaultText)\n"), "\(key.name) default")
        }
        for special in ["--config.file PATH", "--config.check", "-h, --help", "--version", "DOCKER_HOST"] {
            #expect(help.contains(special))
        }
    }

    @Test func yamlDocumentLoadsBackToTheSameConfiguration() throws {
        var c = WatchdogConfiguration.defaults
        c.docker.host = .tcp(host: "::1", port: 2375)
        c.docker.apiVersion = "1.40"
        c.web.listenAddress = ListenAddress(host: "", port: 1)
        c.collectors[DiskCollector.config].hostPrefix = "/host with space"
        c.collectors[SystemDFCollector.config].interval = .milliseconds(1500)
        c.log.level = .critical
        let yaml = ConfigReference.yamlDocument(for: c, registry: registry)
        #expect(loadYAML(yaml).value == c)
        #expect(loadYAML(ConfigReference.yamlDocument(for: .defaults, registry: registry)).value == .defaults)
    }
}

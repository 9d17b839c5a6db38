/// Human-facing documentation generated from the registry, so `--help`, the README and the
/// parser cannot disagree about names, types or defaults.
public enum ConfigReference {
    /// The README's configuration table: `| key | flag | env | type | default | description |`,
    /// one row per key in registry order, ending with a newline. A README drift test compares the
    /// README against this verbatim, so changing the format means regenerating the README section.
    public static func markdownTable(registry: ConfigRegistry) -> String {
        var lines = [
            "| key | flag | env | type | default | description |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for key in registry.keys {
            let env = ([key.env] + key.envAliases).map { "`\($0)`" }.joined(separator: ", ")
            let cells = [
                "`\(key.name)`",
                ([key.flag] + key.flagAliases.map { "--" + $0 }).map { "`\($0)`" }.joined(separator: ", "),
                env,
                escape(key.summary),
                "`\(displayDefault(key))`",
                escape(key.doc),
            ]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `--help` text: usage, precedence, the special flags, then every key with its type,
    /// default and environment variable, wrapped for an 80-column terminal.
    public static func helpText(program: String, registry: ConfigRegistry) -> String {
        var out = """
            Usage: \(program) [flags]

            Prometheus exporter and self-healer for Docker hosts.

            """
        out += "\n"
        out += wrap(
            "Settings are read from, highest precedence first: command-line flags, environment variables, the YAML file named by --config.file, built-in defaults. Each key below is a flag (--web.listen-address :9734 or --web.listen-address=:9734), an environment variable (DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS) and a nested YAML key (web: listen_address: \":9734\"). An empty environment variable counts as unset, and so does an empty YAML value. Unknown flags, keys and DOCKER_WATCHDOG_* variables are errors.",
            indent: "")
        out += "\n"
        out += wrap(
            "Durations are written 250ms, 10s, 5m or 1h30m (a bare number means seconds); byte sizes 1024, 500MB or 5GiB; ratios 0.1 or 10%.",
            indent: "")
        out += "\nGeneral flags:\n"
        let general: [(String, String)] = [
            ("--config.file PATH", "YAML configuration file (env \(ConfigLoader.configFileEnvironmentVariable))."),
            ("--config.check", "Validate the configuration from all sources, report and exit (0 if valid, 2 if not)."),
            ("-h, --help", "Show this help and exit."),
            ("--version", "Print the version and exit."),
        ]
        for (flag, doc) in general {
            out += "  \(flag)\n" + wrap(doc, indent: "        ")
        }
        out += "\nConfiguration flags:\n"
        var previousSection = ""
        for key in registry.keys {
            let section = String(key.name.split(separator: ".").first ?? "")
            if section != previousSection, !previousSection.isEmpty { out += "\n" }
            previousSection = section
            let aliases = key.flagAliases.isEmpty ? "" : " (also " + key.flagAliases.map { "--" + $0 }.joined(separator: ", ") + ")"
            out += "  \(key.flag)\(key.isBool ? "" : " " + key.placeholder)\(aliases)\n"
            out += wrap(key.doc, indent: "        ")
            // Not wrapped: a default or a variable name broken across lines is hard to copy.
            out += "        Type: \(key.summary); default: \(displayDefault(key))\n"
            out += "        Env: " + ([key.env] + key.envAliases).joined(separator: ", ") + "\n"
        }
        if !registry.crossChecks.isEmpty {
            out += "\nRules across keys:\n"
            for rule in registry.crossChecks {
                out += wrap("- " + rule.doc, indent: "  ", hangingIndent: "    ")
            }
        }
        return out
    }

    /// The configuration as a complete YAML file, every key present. `--config.check` prints it
    /// to show the *effective* settings after all layers, and it is a ready-made starting file.
    /// Loading the output yields the same configuration.
    public static func yamlDocument(for configuration: WatchdogConfiguration, registry: ConfigRegistry) -> String {
        var out = ""
        var openPath: [Substring] = []
        for key in registry.keys {
            let parts = key.name.split(separator: ".")
            let sections = Array(parts.dropLast())
            var common = 0
            while common < min(sections.count, openPath.count), sections[common] == openPath[common] { common += 1 }
            for depth in common..<sections.count {
                out += String(repeating: "  ", count: depth) + "\(sections[depth]):\n"
            }
            openPath = sections
            out += String(repeating: "  ", count: sections.count) + "\(parts.last!): \(yamlScalar(key.render(configuration)))\n"
        }
        return out
    }

    // MARK: - Helpers

    private static func displayDefault(_ key: ConfigKey) -> String {
        let text = key.defaultText
        return text.isEmpty ? "\"\"" : text
    }

    /// Markdown table cells cannot contain a bare "|".
    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }

    /// Plain when that is unambiguous, double-quoted otherwise. The loader reads a scalar's raw
    /// text, so YAML's own typing (`yes`, `1.40`) is harmless; what must be quoted is text YAML
    /// would parse differently or treat as null (`:9734`, `unix://...`, the empty string).
    private static func yamlScalar(_ s: String) -> String {
        let plainSafe =
            s.first.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "/") } ?? false
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/_.-".contains($0)) }
            && !["null", "Null", "NULL", "~"].contains(s)
        if plainSafe { return s }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Greedy word wrap to 80 columns; every line ends with "\n".
    private static func wrap(_ text: String, indent: String, hangingIndent: String? = nil, width: Int = 80) -> String {
        var out = ""
        var line = indent
        var lineHasWord = false
        for word in text.split(separator: " ") {
            if lineHasWord, line.count + 1 + word.count > width {
                out += line + "\n"
                line = hangingIndent ?? indent
                lineHasWord = false
            }
            line += (lineHasWord ? " " : "") + word
            lineHasWord = true
        }
        return out + line + "\n"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

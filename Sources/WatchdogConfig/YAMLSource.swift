/// One value for one key from one source, not yet parsed.
struct RawAssignment: Sendable {
    let key: ConfigKey
    var raw: String
    let origin: Origin
}

/// Reads the configuration file.
///
/// The file is walked as a node tree (`YAMLNode.parse`: libyaml's events composed into nodes)
/// rather than decoded with `Codable`: the tree keeps each node's line
/// (`YAMLNode.mark`), so every error can point at the line to fix, and walking it against the
/// registry rejects unknown keys, which `Codable` would silently ignore.
enum YAMLSource {
    static func assignments(yaml: String, path: String, registry: ConfigRegistry) throws(ConfigError) -> [RawAssignment] {
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(yaml)
        } catch {
            throw yamlError(error, path: path)
        }
        guard let root else { return [] }  // empty file, or only comments: all defaults
        var out: [RawAssignment] = []
        switch root {
        case .mapping(let mapping):
            try walk(mapping, prefix: "", path: path, registry: registry, into: &out)
        case .scalar(let scalar) where scalar.isNull:
            break  // a file that says only "~" or "null": nothing set
        default:
            throw ConfigError(
                key: "config.file", source: location(path, root.mark),
                reason: "expected a mapping of keys at the top level (e.g. \"web:\"), got \(kind(root))")
        }
        return out
    }

    private static func walk(
        _ mapping: YAMLNode.Mapping, prefix: String, path: String, registry: ConfigRegistry, into out: inout [RawAssignment]
    ) throws(ConfigError) {
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode, !keyScalar.isNull else {
                throw ConfigError(
                    key: prefix.isEmpty ? "config.file" : prefix, source: location(path, keyNode.mark),
                    reason: "mapping keys must be plain names, got \(kind(keyNode))")
            }
            let name = keyScalar.string
            let full = prefix.isEmpty ? name : prefix + "." + name
            let source = location(path, keyNode.mark)
            // An empty key (`'': 1`) names nothing: say where it is and what is wrong.
            guard !name.isEmpty else {
                throw ConfigError(
                    key: prefix.isEmpty ? "config.file" : prefix, source: source, reason: "empty key: mapping keys must be plain names")
            }

            if name.contains("."), registry.byName[full] != nil || registry.sections.contains(full) {
                // Dotted keys would make one setting writable in two ways in one file; keep one.
                throw ConfigError(
                    key: full, source: source,
                    reason: "unknown key: write dotted keys as nested mappings (\(nestedExample(full)))")
            }
            if let key = registry.byName[full] {
                switch value {
                case .scalar(let scalar):
                    // An empty value (`key:`, `~`, `null`) means "not set here": easier than
                    // deleting the line when commenting a setting out.
                    if scalar.isNull { continue }
                    out.append(
                        RawAssignment(
                            key: key, raw: scalar.string,
                            origin: Origin(layer: .file, source: location(path, value.mark))))
                default:
                    throw ConfigError(
                        key: full, source: location(path, value.mark),
                        reason: "expected \(key.summary), got \(kind(value))")
                }
            } else if registry.sections.contains(full) {
                switch value {
                case .mapping(let nested):
                    try walk(nested, prefix: full, path: path, registry: registry, into: &out)
                case .scalar(let scalar) where scalar.isNull:
                    continue  // `web:` with nothing under it
                default:
                    throw ConfigError(
                        key: full, source: location(path, value.mark),
                        reason: "expected a mapping of \(full).* keys, got \(kind(value))")
                }
            } else {
                throw ConfigError(key: full, source: source, reason: unknownKeyReason(full, prefix: prefix, registry: registry))
            }
        }
    }

    private static func unknownKeyReason(_ full: String, prefix: String, registry: ConfigRegistry) -> String {
        let candidates = registry.keys.map(\.name) + registry.sections.sorted()
        if let suggestion = Suggest.closest(to: full, among: candidates) {
            return "unknown key; did you mean \(suggestion)?"
        }
        // Inside a known section, listing its children is the next best help.
        if !prefix.isEmpty {
            let children = Set(
                candidates.compactMap { name -> String? in
                    guard name.hasPrefix(prefix + ".") else { return nil }
                    return name.dropFirst(prefix.count + 1).split(separator: ".").first.map(String.init)
                }
            ).sorted()
            return "unknown key; \(prefix) has: \(children.joined(separator: ", "))"
        }
        return "unknown key"
    }

    /// `web.listen_address` → `web: {listen_address: ...}`
    private static func nestedExample(_ full: String) -> String {
        let parts = full.split(separator: ".")
        return parts.dropLast().reversed().reduce("\(parts.last!): ...") { "\($1): {\($0)}" }
    }

    static func kind(_ node: YAMLNode) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return "the value \(quoted(s.string))"
        }
    }

    static func location(_ path: String, _ mark: YAMLNode.Mark) -> String {
        "\(path):\(mark.line)"
    }

    /// Turns a parse error into a `ConfigError` that names the file and line.
    static func yamlError(_ error: YAMLError, path: String, key: String = "config.file", prefix: String = "invalid YAML") -> ConfigError {
        if let first = error.duplicateKeys.first {
            return ConfigError(
                key: first, source: location(path, error.mark),
                reason: "duplicate key \(error.duplicateKeys.map { quoted($0) }.joined(separator: ", ")): it appears more than once in one mapping (this is its first occurrence)")
        }
        var reason = "\(prefix): \(error.problem)"
        if let context = error.context, let contextMark = error.contextMark {
            reason += " (\(context) at line \(contextMark.line))"
        }
        return ConfigError(key: key, source: location(path, error.mark), reason: reason)
    }
}

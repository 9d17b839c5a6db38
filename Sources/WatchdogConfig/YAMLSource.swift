import Yams

/// One value for one key from one source, not yet parsed.
struct RawAssignment: Sendable {
    let key: ConfigKey
    let raw: String
    let origin: Origin
}

/// Reads the configuration file.
///
/// The file is walked as a Yams node tree (`Yams.compose`) rather than decoded with `Codable`:
/// the tree keeps each node's line (`Node.mark`), so every error can point at the line to fix, and
/// walking it against the registry rejects unknown keys, which `Codable` would silently ignore.
enum YAMLSource {
    static func assignments(yaml: String, path: String) throws(ConfigError) -> [RawAssignment] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw yamlError(error, path: path)
        }
        guard let root else { return [] }  // empty file, or only comments: all defaults
        var out: [RawAssignment] = []
        switch root {
        case .mapping(let mapping):
            try walk(mapping, prefix: "", path: path, into: &out)
        case .scalar(let scalar) where isNull(scalar):
            break  // a file that says only "~" or "null": nothing set
        default:
            throw ConfigError(
                key: "config.file", source: location(path, root.mark),
                reason: "expected a mapping of keys at the top level (e.g. \"web:\"), got \(kind(root))")
        }
        return out
    }

    private static func walk(
        _ mapping: Node.Mapping, prefix: String, path: String, into out: inout [RawAssignment]
    ) throws(ConfigError) {
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode, !isNull(keyScalar) else {
                throw ConfigError(
                    key: prefix.isEmpty ? "config.file" : prefix, source: location(path, keyNode.mark),
                    reason: "mapping keys must be plain names, got \(kind(keyNode))")
            }
            let name = keyScalar.string
            let full = prefix.isEmpty ? name : prefix + "." + name
            let source = location(path, keyNode.mark)

            if name.contains("."), ConfigRegistry.byName[full] != nil || ConfigRegistry.sections.contains(full) {
                // Dotted keys would make one setting writable in two ways in one file; keep one.
                throw ConfigError(
                    key: full, source: source,
                    reason: "unknown key: write dotted keys as nested mappings (\(nestedExample(full)))")
            }
            if let key = ConfigRegistry.byName[full] {
                switch value {
                case .scalar(let scalar):
                    // An empty value (`key:`, `~`, `null`) means "not set here": easier than
                    // deleting the line when commenting a setting out.
                    if isNull(scalar) { continue }
                    out.append(RawAssignment(
                        key: key, raw: scalar.string,
                        origin: Origin(layer: .file, source: location(path, value.mark ?? keyNode.mark))))
                default:
                    throw ConfigError(
                        key: full, source: location(path, value.mark ?? keyNode.mark),
                        reason: "expected \(key.summary), got \(kind(value))")
                }
            } else if ConfigRegistry.sections.contains(full) {
                switch value {
                case .mapping(let nested):
                    try walk(nested, prefix: full, path: path, into: &out)
                case .scalar(let scalar) where isNull(scalar):
                    continue  // `web:` with nothing under it
                default:
                    throw ConfigError(
                        key: full, source: location(path, value.mark ?? keyNode.mark),
                        reason: "expected a mapping of \(full).* keys, got \(kind(value))")
                }
            } else {
                throw ConfigError(key: full, source: source, reason: unknownKeyReason(full, prefix: prefix))
            }
        }
    }

    private static func unknownKeyReason(_ full: String, prefix: String) -> String {
        let candidates = ConfigRegistry.keys.map(\.name) + ConfigRegistry.sections.sorted()
        if let suggestion = Suggest.closest(to: full, among: candidates) {
            return "unknown key; did you mean \(suggestion)?"
        }
        // Inside a known section, listing its children is the next best help.
        if !prefix.isEmpty {
            let children = Set(candidates.compactMap { name -> String? in
                guard name.hasPrefix(prefix + ".") else { return nil }
                return name.dropFirst(prefix.count + 1).split(separator: ".").first.map(String.init)
            }).sorted()
            return "unknown key; \(prefix) has: \(children.joined(separator: ", "))"
        }
        return "unknown key"
    }

    /// `web.listen_address` → `web: {listen_address: ...}`
    private static func nestedExample(_ full: String) -> String {
        let parts = full.split(separator: ".")
        return parts.dropLast().reversed().reduce("\(parts.last!): ...") { "\($1): {\($0)}" }
    }

    private static func isNull(_ scalar: Node.Scalar) -> Bool {
        Resolver.default.resolveTag(of: .scalar(scalar)) == .null
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return "the value \(quoted(s.string))"
        case .alias: return "an alias"
        }
    }

    static func location(_ path: String, _ mark: Mark?) -> String {
        guard let mark else { return path }
        return "\(path):\(mark.line)"
    }

    /// Turns Yams' parse errors into a `ConfigError` that names the file and line.
    private static func yamlError(_ error: any Error, path: String) -> ConfigError {
        guard let yamlError = error as? YamlError else {
            return ConfigError(key: "config.file", source: path, reason: "invalid YAML: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var reason = "invalid YAML: \(problem)"
            if let context {
                reason += " (\(context.text) at line \(context.mark.line))"
            }
            return ConfigError(key: "config.file", source: location(path, mark), reason: reason)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                key: duplicates.first ?? "config.file", source: location(path, context.mark),
                reason: "duplicate key \(duplicates.map { quoted($0) }.joined(separator: ", ")): it appears more than once in one mapping (this is its first occurrence)")
        case .reader(let problem, let offset, _, _):
            return ConfigError(
                key: "config.file", source: path,
                reason: "invalid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return ConfigError(key: "config.file", source: path, reason: "invalid YAML: \(yamlError)")
        }
    }
}

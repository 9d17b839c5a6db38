/// The web configuration file named by `web.config_file` (`--web.config.file`): TLS and basic auth for
/// the HTTP endpoint, in the shape of the Prometheus exporter-toolkit's file, so one file can serve
/// every exporter on a host.
///
/// ```yaml
/// tls_server_config:
///   cert_file: server.crt
///   key_file: server.key
///   client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default)
///   client_ca_file: ca.crt
///   min_version: TLS12                             # or TLS13
/// basic_auth_users:
///   alice: $2y$10$...
/// ```
///
/// Only the keys above are accepted. The toolkit's other keys (cipher suites, HTTP/2, headers, rate
/// limits) are refused by name rather than ignored: a setting that silently does nothing is worse than
/// an error. Relative paths resolve against the directory of the web config file. Certificate, key and
/// CA files are read here, so a missing or unreadable one fails `--config.check`; whether the key
/// matches the certificate is checked by the TLS library when the watchdog starts (also before
/// `--config.check` reports success).
public struct WebConfig: Sendable, Equatable, CustomStringConvertible {
    /// The file this was read from, as given.
    public var path: String
    /// nil: plain HTTP.
    public var tls: TLS?
    /// User name → bcrypt hash. Empty: no authentication.
    public var basicAuthUsers: [String: String]

    public struct TLS: Sendable, Equatable {
        public enum ClientAuth: String, Sendable, Equatable {
            case none = "NoClientCert"
            case requireAndVerify = "RequireAndVerifyClientCert"
        }

        public enum MinVersion: String, Sendable, Equatable {
            case tls12 = "TLS12"
            case tls13 = "TLS13"
        }

        /// Resolved paths.
        public var certFile: String
        public var keyFile: String
        public var clientCAFile: String?
        /// File contents (PEM).
        public var certificatePEM: String
        public var keyPEM: String
        public var clientCAPEM: String?
        public var clientAuth: ClientAuth
        public var minVersion: MinVersion
    }

    /// Never prints the private key.
    public var description: String {
        var parts = ["path: \(path)"]
        if let tls {
            parts.append("tls: cert \(tls.certFile), key \(tls.keyFile), client auth \(tls.clientAuth.rawValue), min \(tls.minVersion.rawValue)")
        }
        parts.append("basic_auth_users: \(basicAuthUsers.keys.sorted().joined(separator: ", "))")
        return "WebConfig(" + parts.joined(separator: "; ") + ")"
    }

    /// Reads and validates the web config file.
    ///
    /// - Parameters:
    ///   - path: the file, as configured (relative to the working directory, or absolute).
    ///   - origin: where `web.config_file` was set (`flag --web.config.file`), named when the file
    ///     itself cannot be read.
    ///   - readFile: reads a file's text (`ConfigLoader.readFile` in production); also used for the
    ///     certificate, key and CA files.
    /// - Throws: a `ConfigError` whose key is the offending web-config key (`tls_server_config.cert_file`)
    ///   and whose source is `file:line`.
    public static func load(path: String, origin: String = "web.config_file", readFile: (String) throws -> String) throws(ConfigError) -> WebConfig {
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw ConfigError(key: "web.config_file", source: origin, reason: "cannot read web config file \(path): \(describe(error))")
        }
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text)
        } catch {
            throw YAMLSource.yamlError(error, path: path, key: "web.config_file", prefix: "invalid YAML in web config file")
        }
        var config = WebConfig(path: path, tls: nil, basicAuthUsers: [:])
        guard let root else { return config }  // an empty file: plain HTTP, no authentication
        guard case .mapping(let top) = root else {
            throw ConfigError(
                key: "web.config_file", source: YAMLSource.location(path, root.mark),
                reason: "expected a mapping (tls_server_config, basic_auth_users), got \(kind(root))")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        for (keyNode, value) in top {
            let name = try scalarKey(keyNode, prefix: "", path: path)
            let here = YAMLSource.location(path, keyNode.mark)
            switch name {
            case "tls_server_config":
                if isNull(value) { continue }
                config.tls = try parseTLS(value, path: path, directory: directory, readFile: readFile)
            case "basic_auth_users":
                if isNull(value) { continue }
                config.basicAuthUsers = try parseUsers(value, path: path)
            case "http_server_config", "rate_limit":
                throw ConfigError(key: name, source: here, reason: "not supported by docker-watchdog (supported: tls_server_config, basic_auth_users)")
            default:
                throw ConfigError(key: name, source: here, reason: unknown(name, among: ["tls_server_config", "basic_auth_users"]))
            }
        }
        return config
    }

    // MARK: - tls_server_config

    private static let tlsKeys = ["cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"]
    private static let unsupportedTLSKeys = [
        "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans",
        "cert", "key", "client_ca",
    ]

    private static func parseTLS(
        _ node: YAMLNode, path: String, directory: String, readFile: (String) throws -> String
    ) throws(ConfigError) -> TLS {
        guard case .mapping(let mapping) = node else {
            throw ConfigError(
                key: "tls_server_config", source: YAMLSource.location(path, node.mark),
                reason: "expected a mapping (cert_file, key_file, ...), got \(kind(node))")
        }
        var values: [String: (value: String, source: String)] = [:]
        for (keyNode, value) in mapping {
            let name = try scalarKey(keyNode, prefix: "tls_server_config", path: path)
            let full = "tls_server_config." + name
            let here = YAMLSource.location(path, keyNode.mark)
            if unsupportedTLSKeys.contains(name) {
                throw ConfigError(key: full, source: here, reason: "not supported by docker-watchdog (supported: \(tlsKeys.joined(separator: ", ")))")
            }
            guard tlsKeys.contains(name) else {
                throw ConfigError(key: full, source: here, reason: unknown(name, among: tlsKeys))
            }
            guard case .scalar(let scalar) = value else {
                throw ConfigError(key: full, source: here, reason: "expected a string, got \(kind(value))")
            }
            if isNull(value) { continue }
            values[name] = (scalar.string, YAMLSource.location(path, value.mark))
        }
        let sectionSource = YAMLSource.location(path, node.mark)

        var clientAuth = TLS.ClientAuth.none
        if let (raw, source) = values["client_auth_type"] {
            switch raw {
            case "NoClientCert": clientAuth = .none
            case "RequireAndVerifyClientCert": clientAuth = .requireAndVerify
            case "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven":
                throw ConfigError(
                    key: "tls_server_config.client_auth_type", source: source,
                    reason: "\(quoted(raw)) is not supported by docker-watchdog; use NoClientCert or RequireAndVerifyClientCert")
            default:
                throw ConfigError(
                    key: "tls_server_config.client_auth_type", source: source,
                    reason: "expected NoClientCert or RequireAndVerifyClientCert, got \(quoted(raw))")
            }
        }
        var minVersion = TLS.MinVersion.tls12
        if let (raw, source) = values["min_version"] {
            switch raw {
            case "TLS12": minVersion = .tls12
            case "TLS13": minVersion = .tls13
            case "TLS10", "TLS11":
                throw ConfigError(
                    key: "tls_server_config.min_version", source: source,
                    reason: "\(raw) is refused: TLS versions before 1.2 are broken; use TLS12 or TLS13")
            default:
                throw ConfigError(
                    key: "tls_server_config.min_version", source: source,
                    reason: "expected TLS12 or TLS13, got \(quoted(raw))")
            }
        }

        func file(_ name: String, required: Bool) throws(ConfigError) -> (path: String, text: String)? {
            guard let (raw, source) = values[name], !raw.isEmpty else {
                if required {
                    throw ConfigError(key: "tls_server_config.\(name)", source: sectionSource, reason: "missing: tls_server_config needs cert_file and key_file")
                }
                return nil
            }
            let resolved = raw.hasPrefix("/") ? raw : directory + "/" + raw
            do {
                return (resolved, try readFile(resolved))
            } catch {
                throw ConfigError(key: "tls_server_config.\(name)", source: source, reason: "cannot read \(resolved): \(describe(error))")
            }
        }
        let cert = try file("cert_file", required: true)!
        let key = try file("key_file", required: true)!
        guard cert.text.contains("-----BEGIN CERTIFICATE-----") else {
            throw ConfigError(
                key: "tls_server_config.cert_file", source: values["cert_file"]!.source,
                reason: "\(cert.path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        guard key.text.contains("PRIVATE KEY-----") else {
            throw ConfigError(
                key: "tls_server_config.key_file", source: values["key_file"]!.source,
                reason: "\(key.path) holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        }
        if key.text.contains("ENCRYPTED") {
            throw ConfigError(
                key: "tls_server_config.key_file", source: values["key_file"]!.source,
                reason: "\(key.path) is encrypted; docker-watchdog needs an unencrypted key (protect it with file permissions)")
        }
        let ca = try file("client_ca_file", required: false)
        switch (clientAuth, ca) {
        case (.requireAndVerify, nil):
            throw ConfigError(
                key: "tls_server_config.client_ca_file", source: values["client_auth_type"]!.source,
                reason: "missing: RequireAndVerifyClientCert needs client_ca_file, the CA that signs client certificates")
        case (.none, .some):
            throw ConfigError(
                key: "tls_server_config.client_ca_file", source: values["client_ca_file"]!.source,
                reason: "set without client_auth_type: RequireAndVerifyClientCert; it would have no effect")
        default:
            break
        }
        if let ca, !ca.text.contains("-----BEGIN CERTIFICATE-----") {
            throw ConfigError(
                key: "tls_server_config.client_ca_file", source: values["client_ca_file"]!.source,
                reason: "\(ca.path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        return TLS(
            certFile: cert.path, keyFile: key.path, clientCAFile: ca?.path, certificatePEM: cert.text, keyPEM: key.text,
            clientCAPEM: ca?.text, clientAuth: clientAuth, minVersion: minVersion)
    }

    // MARK: - basic_auth_users

    private static func parseUsers(_ node: YAMLNode, path: String) throws(ConfigError) -> [String: String] {
        guard case .mapping(let mapping) = node else {
            throw ConfigError(
                key: "basic_auth_users", source: YAMLSource.location(path, node.mark),
                reason: "expected a mapping of user name to bcrypt hash, got \(kind(node))")
        }
        var users: [String: String] = [:]
        for (keyNode, value) in mapping {
            let user = try scalarKey(keyNode, prefix: "basic_auth_users", path: path)
            let full = "basic_auth_users." + user
            let here = YAMLSource.location(path, keyNode.mark)
            if user.isEmpty || user.contains(":") {
                throw ConfigError(key: full, source: here, reason: "a user name must be non-empty and contain no \":\" (basic auth separates it from the password with one)")
            }
            guard case .scalar(let scalar) = value, !isNull(value) else {
                throw ConfigError(key: full, source: here, reason: "expected a bcrypt hash, got \(kind(value))")
            }
            guard isBCryptHash(scalar.string) else {
                throw ConfigError(
                    key: full, source: YAMLSource.location(path, value.mark),
                    reason: "expected a bcrypt hash ($2y$, $2b$ or $2a$, cost 04-31, 60 characters; e.g. from htpasswd -nBC 10 \"\" | tr -d ':\\n'), got \(quoted(redact(scalar.string)))")
            }
            users[user] = scalar.string
        }
        return users
    }

    /// `$2y$10$` followed by 53 characters of bcrypt's base-64 alphabet (22 of salt, 31 of hash).
    public static func isBCryptHash(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]), bytes[3] == UInt8(ascii: "$"),
            bytes[6] == UInt8(ascii: "$")
        else { return false }
        guard let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost) else { return false }
        return bytes[7...].allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "/")
        }
    }

    /// A value in the hash position might be a plain-text password pasted by mistake: show only its start.
    private static func redact(_ s: String) -> String {
        s.hasPrefix("$") ? s : String(s.prefix(2)) + "…(\(s.count) characters)"
    }

    // MARK: - Helpers

    private static func scalarKey(_ node: YAMLNode, prefix: String, path: String) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else {
            throw ConfigError(
                key: prefix.isEmpty ? "web.config_file" : prefix, source: YAMLSource.location(path, node.mark),
                reason: "mapping keys must be plain names, got \(kind(node))")
        }
        return scalar.string
    }

    private static func unknown(_ name: String, among candidates: [String]) -> String {
        if let suggestion = Suggest.closest(to: name, among: candidates) { return "unknown key; did you mean \(suggestion)?" }
        return "unknown key; expected one of: \(candidates.joined(separator: ", "))"
    }

    private static func isNull(_ node: YAMLNode) -> Bool { node.isNull }

    private static func kind(_ node: YAMLNode) -> String { YAMLSource.kind(node) }

    private static func describe(_ error: any Error) -> String {
        if let e = error as? ConfigLoader.FileReadError { return e.reason }
        return String(describing: error)
    }
}

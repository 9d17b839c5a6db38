import FoundationEssentials
import MicroHTTPServer
import Locking
import WatchdogConfig

/// The HTTP endpoint's protection, from the web config file (`web.config_file`): the TLS options the
/// server starts with and the basic-auth gate in front of every endpoint (`/healthz` included, as in the
/// exporter-toolkit).
///
/// Built once at start. `reload()` re-reads the file and swaps in its `basic_auth_users`;
/// `renewedTLS()` re-reads the certificate, key and CA files and hands changed material to the
/// server (as the exporter-toolkit re-reads them), so certificates rotate without a restart. Only
/// turning TLS on or off takes a restart (`reload()` says so in its result).
public final class WebSecurity: Sendable {
    /// The web config file, as configured; nil when none is (plain HTTP, no authentication).
    public let path: String?
    /// TLS for the server, or nil for plain HTTP: the material last loaded.
    public var tls: HTTPTLSOptions? { currentTLS.withLock { $0 } }
    private let currentTLS: Mutex<HTTPTLSOptions?>
    public let authenticator: BasicAuthenticator
    private let loadedTLS: WebConfig.TLS?

    /// What `reload()` changed.
    public struct ReloadResult: Sendable, Equatable {
        /// The user names now accepted.
        public let users: [String]
        /// The file's TLS settings differ from those the server runs with; they apply after a restart.
        public let tlsChangeNeedsRestart: Bool
    }

    /// Reads and validates the web config file named by `configuration.web.configFile`, including a
    /// trial load of the certificate and key by the TLS library.
    ///
    /// - Throws: `ConfigError`, for the caller to print and exit with status 2.
    public convenience init(configuration: WatchdogConfiguration) throws(ConfigError) {
        let path = configuration.web.configFile
        guard !path.isEmpty else {
            self.init(path: nil, config: nil, tls: nil)
            return
        }
        let config = try Self.read(path)
        self.init(path: path, config: config, tls: try Self.tlsOptions(config))
    }

    private init(path: String?, config: WebConfig?, tls: HTTPTLSOptions?) {
        self.path = path
        self.currentTLS = Mutex(tls)
        self.loadedTLS = config?.tls
        self.authenticator = BasicAuthenticator(users: config?.basicAuthUsers ?? [:])
    }

    /// Re-reads the web config file and replaces the basic-auth users (dropping cached credentials).
    /// On error nothing changes and the error says what is wrong. Meant for SIGHUP.
    @discardableResult
    public func reload() throws(ConfigError) -> ReloadResult {
        guard let path else { return ReloadResult(users: [], tlsChangeNeedsRestart: false) }
        let config = try Self.read(path)
        if config.tls != nil { _ = try Self.tlsOptions(config) }
        authenticator.replaceUsers(config.basicAuthUsers)
        return ReloadResult(users: authenticator.userNames, tlsChangeNeedsRestart: (config.tls == nil) != (loadedTLS == nil))
    }

    /// Re-reads the web config file's TLS files. Returns the new material when the certificate, key,
    /// client CA or minimum version changed (validated by the TLS library, and kept as current);
    /// nil when nothing changed or TLS is off. On an error nothing changes: the server keeps
    /// serving the material it has, and the error says what is wrong.
    public func renewedTLS() throws(ConfigError) -> HTTPTLSOptions? {
        guard let path, tls != nil else { return nil }
        let config = try Self.read(path)
        guard let fresh = try Self.tlsOptions(config) else { return nil }
        return currentTLS.withLock { current -> HTTPTLSOptions? in
            guard current != fresh else { return nil }
            current = fresh
            return fresh
        }
    }

    /// nil when the request may pass; otherwise the 401 to send.
    public func check(_ request: HTTPRequest) -> HTTPResponse? {
        guard authenticator.isEnabled else { return nil }
        return authenticator.authorize(header: request.headers["authorization"]) ? nil : BasicAuthenticator.challenge()
    }

    private static func read(_ path: String) throws(ConfigError) -> WebConfig {
        try WebConfig.load(path: path, origin: "web.config_file", readFile: { try ConfigLoader.readFile($0) })
    }

    private static func tlsOptions(_ config: WebConfig) throws(ConfigError) -> HTTPTLSOptions? {
        guard let tls = config.tls else { return nil }
        let options = HTTPTLSOptions(
            certificatePEM: tls.certificatePEM, keyPEM: tls.keyPEM,
            clientCAPEM: tls.clientAuth == .requireAndVerify ? tls.clientCAPEM : nil,
            minimumVersion: tls.minVersion == .tls13 ? .tls13 : .tls12)
        do {
            try options.validate()
        } catch {
            throw ConfigError(
                key: "tls_server_config", source: config.path,
                reason: "TLS library refused \(tls.certFile) / \(tls.keyFile)\(tls.clientCAFile.map { " / \($0)" } ?? ""): \(error.description)")
        }
        return options
    }
}

import Testing
@testable import WatchdogConfig

/// The web config file (`--web.config.file`): what it accepts and how each mistake is reported.
@Suite struct WebConfigFile {
    static let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    static let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    static let hash = "$2y$10$" + String(repeating: "a", count: 53)

    /// Loads `/etc/dw/web.yml` with `yaml` and the usual PEM files beside it.
    func load(_ yaml: String, extra: [String: String] = [:]) throws(ConfigError) -> WebConfig {
        var files = ["/etc/dw/web.yml": yaml, "/etc/dw/server.crt": Self.cert, "/etc/dw/server.key": Self.key, "/etc/dw/ca.crt": Self.cert]
        files.merge(extra) { $1 }
        return try WebConfig.load(path: "/etc/dw/web.yml", origin: "flag --web.config.file") { path in
            guard let text = files[path] else { throw ConfigLoader.FileReadError(path: path, reason: "No such file or directory") }
            return text
        }
    }

    func error(_ yaml: String, extra: [String: String] = [:]) -> ConfigError? {
        do {
            _ = try load(yaml, extra: extra)
            return nil
        } catch {
            return error
        }
    }

    @Test func fullFileParsesWithPathsRelativeToTheFile() throws {
        let config = try load(
            """
            tls_server_config:
              cert_file: server.crt
              key_file: /etc/dw/server.key
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.crt
              min_version: TLS13
            basic_auth_users:
              alice: \(Self.hash)
              bob: "\(Self.hash.replacingOccurrences(of: "$2y$", with: "$2b$"))"
            """)
        let tls = try #require(config.tls)
        #expect(tls.certFile == "/etc/dw/server.crt")
        #expect(tls.keyFile == "/etc/dw/server.key")
        #expect(tls.clientCAFile == "/etc/dw/ca.crt")
        #expect(tls.clientAuth == .requireAndVerify)
        #expect(tls.minVersion == .tls13)
        #expect(tls.keyPEM == Self.key)
        #expect(config.basicAuthUsers.keys.sorted() == ["alice", "bob"])
        #expect(!config.description.contains("PRIVATE KEY"))
    }

    @Test func emptyFileAndDefaults() throws {
        let empty = try load("")
        #expect(empty.tls == nil && empty.basicAuthUsers.isEmpty)
        let tls = try #require(try load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n").tls)
        #expect(tls.minVersion == .tls12)
        #expect(tls.clientAuth == .none)
    }

    @Test func unreadableFileNamesTheSettingAndThePath() throws {
        var caught: ConfigError?
        do {
            _ = try WebConfig.load(path: "/nope.yml", origin: "flag --web.config.file") { path in
                throw ConfigLoader.FileReadError(path: path, reason: "Permission denied")
            }
        } catch {
            caught = error
        }
        let e = try #require(caught)
        #expect(e.key == "web.config_file")
        #expect(e.source == "flag --web.config.file")
        #expect(e.reason.contains("/nope.yml") && e.reason.contains("Permission denied"))
    }

    @Test func unknownAndUnsupportedKeys() throws {
        let top = try #require(error("tls_server_confg:\n  cert_file: a\n"))
        #expect(top.key == "tls_server_confg" && top.source == "/etc/dw/web.yml:1")
        #expect(top.reason.contains("did you mean tls_server_config"))
        let nested = try #require(error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [x]\n"))
        #expect(nested.key == "tls_server_config.cipher_suites" && nested.source == "/etc/dw/web.yml:4")
        #expect(nested.reason.contains("not supported"))
        let http = try #require(error("http_server_config:\n  http2: false\n"))
        #expect(http.key == "http_server_config" && http.reason.contains("not supported"))
    }

    @Test func nonBcryptHashIsRefusedWithoutEchoingAPassword() throws {
        let plain = try #require(error("basic_auth_users:\n  alice: hunter2hunter2\n"))
        #expect(plain.key == "basic_auth_users.alice" && plain.source == "/etc/dw/web.yml:2")
        #expect(plain.reason.contains("bcrypt"))
        #expect(!plain.reason.contains("hunter2hunter2"))
        let md5 = try #require(error("basic_auth_users:\n  alice: $1$abc$defghijklmnopqrstuvwx\n"))
        #expect(md5.key == "basic_auth_users.alice")
        let shortHash = try #require(error("basic_auth_users:\n  alice: \(Self.hash.dropLast())\n"))
        #expect(shortHash.key == "basic_auth_users.alice")
        let badCost = try #require(error("basic_auth_users:\n  alice: $2y$03$\(String(repeating: "a", count: 53))\n"))
        #expect(badCost.key == "basic_auth_users.alice")
        let colon = try #require(error("basic_auth_users:\n  \"a:b\": \(Self.hash)\n"))
        #expect(colon.key == "basic_auth_users.a:b" && colon.reason.contains(":"))
    }

    @Test func missingOrUnreadableTLSFiles() throws {
        let noCert = try #require(error("tls_server_config:\n  key_file: server.key\n"))
        #expect(noCert.key == "tls_server_config.cert_file" && noCert.reason.contains("missing"))
        let missingCert = try #require(error("tls_server_config:\n  cert_file: gone.crt\n  key_file: server.key\n"))
        #expect(missingCert.key == "tls_server_config.cert_file" && missingCert.source == "/etc/dw/web.yml:2")
        #expect(missingCert.reason.contains("/etc/dw/gone.crt") && missingCert.reason.contains("No such file"))
        let unreadableKey = try #require(error("tls_server_config:\n  cert_file: server.crt\n  key_file: locked.key\n"))
        #expect(unreadableKey.key == "tls_server_config.key_file" && unreadableKey.source == "/etc/dw/web.yml:3")
        let notAKey = try #require(
            error(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n"))
        #expect(notAKey.key == "tls_server_config.key_file" && notAKey.reason.contains("no PEM private key"))
        let encrypted = try #require(
            error(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: enc.key\n",
                extra: ["/etc/dw/enc.key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----\n"]))
        #expect(encrypted.key == "tls_server_config.key_file" && encrypted.reason.contains("encrypted"))
    }

    @Test func minVersionBelowTLS12IsRefused() throws {
        for version in ["TLS10", "TLS11"] {
            let e = try #require(error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: \(version)\n"))
            #expect(e.key == "tls_server_config.min_version" && e.source == "/etc/dw/web.yml:4")
            #expect(e.reason.contains("refused"))
        }
        let typo = try #require(error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS1.2\n"))
        #expect(typo.key == "tls_server_config.min_version" && typo.reason.contains("TLS12 or TLS13"))
    }

    @Test func clientAuthNeedsItsCA() throws {
        let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        let noCA = try #require(error(base + "  client_auth_type: RequireAndVerifyClientCert\n"))
        #expect(noCA.key == "tls_server_config.client_ca_file" && noCA.reason.contains("missing"))
        let caWithoutAuth = try #require(error(base + "  client_ca_file: ca.crt\n"))
        #expect(caWithoutAuth.key == "tls_server_config.client_ca_file")
        let unsupported = try #require(error(base + "  client_auth_type: RequestClientCert\n"))
        #expect(unsupported.key == "tls_server_config.client_auth_type" && unsupported.reason.contains("not supported"))
    }

    @Test func settingIsReachableUnderTheToolkitFlagName() throws {
        let viaToolkitFlag = try #require(try config(["--web.config.file", "/w.yml"]))
        let viaDerivedFlag = try #require(try config(["--web.config-file=/w.yml"]))
        let viaEnv = try #require(try config(env: ["DOCKER_WATCHDOG_WEB_CONFIG_FILE": "/w.yml"]))
        #expect(viaToolkitFlag.web.configFile == "/w.yml")
        #expect(viaDerivedFlag == viaToolkitFlag && viaEnv == viaToolkitFlag)
        #expect(ConfigReference.helpText(program: "x", registry: registry).contains("--web.config.file PATH (also --web.config-file)"))  // the toolkit's spelling first
    }

    @Test func bcryptSyntax() {
        #expect(WebConfig.isBCryptHash(Self.hash))
        #expect(WebConfig.isBCryptHash("$2b$31$" + String(repeating: "/", count: 53)))
        #expect(!WebConfig.isBCryptHash("$2x$10$" + String(repeating: "a", count: 53)))
        #expect(!WebConfig.isBCryptHash("$2y$10$" + String(repeating: "a", count: 52) + "!"))
        #expect(!WebConfig.isBCryptHash("$2y$32$" + String(repeating: "a", count: 53)))
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

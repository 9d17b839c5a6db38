import Foundation
import MicroHTTPServer
import Testing
import WatchdogTestSupport

/// TLS and basic auth of the real binary over loopback, driven with the `curl` and `openssl` command-line
/// tools (OpenSSL on the client side, GnuTLS on the server side), with certificates and bcrypt hashes
/// made by the test.
@Suite("Web security: TLS and basic auth", .serialized)
struct WebSecurityTests {
    /// A CA, a server certificate for 127.0.0.1 / localhost, a client certificate from the same CA, a
    /// self-signed "rogue" client certificate, and a bcrypt hash (cost 10, made by Python's crypt module)
    /// of alice's password.
    final class Fixture {
        let dir: String
        let aliceHash: String
        static let alicePassword = "correct horse"

        init() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-tls-\(UUID().uuidString)").path
            self.dir = dir
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            func p(_ name: String) -> String { dir + "/" + name }
            func openssl(_ args: [String]) throws {
                let r = try runCommand("/usr/bin/openssl", args)
                guard r.status == 0 else { throw SetupFailure(description: "openssl \(args.joined(separator: " ")): \(r.error)") }
            }
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            try openssl(["req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=watchdog test CA"])
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(toFile: p("server.ext"), atomically: true, encoding: .utf8)
            try "extendedKeyUsage=clientAuth\n".write(toFile: p("client.ext"), atomically: true, encoding: .utf8)
            for (name, cn) in [("server", "localhost"), ("client", "prometheus")] {
                try openssl(["req"] + ec + ["-keyout", p("\(name).key"), "-out", p("\(name).csr"), "-subj", "/CN=\(cn)"])
                try openssl([
                    "x509", "-req", "-in", p("\(name).csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
                    "-out", p("\(name).crt"), "-days", "2", "-extfile", p("\(name).ext"),
                ])
            }
            try openssl(["req", "-x509"] + ec + ["-keyout", p("rogue.key"), "-out", p("rogue.crt"), "-days", "2", "-subj", "/CN=prometheus"])
            let py = try runCommand(
                "/usr/bin/python3",
                [
                    "-W", "ignore", "-c",
                    "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<10)))",
                    Self.alicePassword,
                ])
            guard py.status == 0 else { throw SetupFailure(description: "python3 crypt: \(py.error)") }
            // Python writes $2b$; the file uses the $2y$ spelling that htpasswd writes, which libcrypt also reads.
            aliceHash = "$2y$" + py.output.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(4)
            #expect(aliceHash.hasPrefix("$2y$10$") && aliceHash.count == 60, "\(aliceHash)")
        }

        func p(_ name: String) -> String { dir + "/" + name }

        /// Writes a web config file with relative paths and returns its path.
        func webConfig(_ tlsExtra: String = "", users: Bool = true, name: String = "web.yml") throws -> String {
            var yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" + tlsExtra
            if users { yaml += "basic_auth_users:\n  alice: \(aliceHash)\n" }
            try yaml.write(toFile: p(name), atomically: true, encoding: .utf8)
            return p(name)
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    struct SetupFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts the binary on the web config; Docker is not needed (the watchdog serves without it).
    func watchdog(_ webConfig: String) throws -> WatchdogProcess {
        try WatchdogProcess(arguments: ["--web.config.file", webConfig, "--docker.host", "unix:///nonexistent/docker.sock"])
    }

    struct CurlResult {
        let exit: Int32
        /// `%{http_code}`: "000" when no HTTP response arrived.
        let code: String
        let stderr: String
    }

    /// One curl transfer; `args` go before the URL.
    func curl(_ url: String, _ args: [String], fixture: Fixture) throws -> CurlResult {
        let r = try runCommand(
            "/usr/bin/curl",
            [
                "-s", "-S", "--max-time", "10", "--cacert", fixture.p("ca.crt"),
                "-o", "/dev/null", "-w", "%{http_code}",
            ] + args + [url])
        return CurlResult(exit: r.status, code: r.output, stderr: r.error)
    }

    /// The SHA-256 fingerprint of the certificate the server presents now.
    func servedFingerprint(_ port: Int) throws -> String {
        let r = try runCommand(
            "/bin/sh",
            ["-c", "openssl s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aCertificateReplacedOnDiskIsServedOnTheNextHandshakeWithoutARestart() throws {
        let f = try Fixture()
        let wd = try watchdog(try f.webConfig())
        defer { wd.stop() }
        let before = try servedFingerprint(wd.port)
        #expect(before.contains("Fingerprint="), "\(before)")
        // A renewed certificate (new key, same CA), moved into place as cert tools do.
        func openssl(_ args: [String]) throws { #expect(try runCommand("/usr/bin/openssl", args).status == 0) }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req"] + ec + ["-keyout", f.p("renewed.key"), "-out", f.p("renewed.csr"), "-subj", "/CN=localhost"])
        try openssl([
            "x509", "-req", "-in", f.p("renewed.csr"), "-CA", f.p("ca.crt"), "-CAkey", f.p("ca.key"), "-CAcreateserial",
            "-out", f.p("renewed.crt"), "-days", "2", "-extfile", f.p("server.ext"),
        ])
        _ = try runCommand("/bin/sh", ["-c", "cd '\(f.dir)' && mv renewed.key server.key && mv renewed.crt server.crt"])
        var after = before
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && after == before {
            Thread.sleep(forTimeInterval: 0.5)
            after = try servedFingerprint(wd.port)
        }
        #expect(after != before && after.contains("Fingerprint="), "still serving \(before)")
        // Served and trusted, with basic auth as before, by the same process.
        let ok = try curl("https://127.0.0.1:\(wd.port)/metrics", ["-u", "alice:\(Fixture.alicePassword)"], fixture: f)
        #expect(ok.code == "200", "\(ok.stderr)")
        #expect(wd.log.contains("TLS certificate renewed from disk"))
        // A broken replacement is refused: the renewed certificate keeps being served, and the log says why.
        try "not a certificate\n".write(toFile: f.p("server.crt"), atomically: true, encoding: .utf8)
        let deadline2 = Date().addingTimeInterval(15)
        while Date() < deadline2 && !wd.log.contains("cannot load the renewed TLS certificate") { Thread.sleep(forTimeInterval: 0.5) }
        #expect(wd.log.contains("cannot load the renewed TLS certificate"))
        #expect(try servedFingerprint(wd.port) == after)
    }

    // MARK: - Basic auth and TLS versions

    @Test func basicAuthOverTLS() throws {
        let f = try Fixture()
        let wd = try watchdog(try f.webConfig())
        defer { wd.stop() }
        let base = "https://127.0.0.1:\(wd.port)"
        let alice = ["-u", "alice:\(Fixture.alicePassword)"]

        #expect(try curl(base + "/metrics", alice, fixture: f).code == "200")
        #expect(try curl(base + "/metrics", ["-u", "alice:wrong"], fixture: f).code == "401")
        #expect(try curl(base + "/metrics", ["-u", "mallory:\(Fixture.alicePassword)"], fixture: f).code == "401")
        #expect(try curl(base + "/metrics", [], fixture: f).code == "401")
        // Every endpoint is protected, the health check included.
        #expect(try curl(base + "/healthz", [], fixture: f).code == "401")
        #expect(try curl(base + "/healthz", alice, fixture: f).code == "200")
        #expect(try curl("https://localhost:\(wd.port)/", alice, fixture: f).code == "200")
        // Still read-only for an authenticated client.
        #expect(try curl(base + "/metrics", alice + ["-X", "POST"], fixture: f).code == "405")
        #expect(try curl(base + "/api/v1/actions", alice + ["-X", "DELETE"], fixture: f).code == "405")

        // The challenge header, and a real metrics body behind it.
        let headers = try runCommand("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "--cacert", f.p("ca.crt"), base + "/metrics"])
        #expect(headers.output.lowercased().contains("www-authenticate: basic realm=\"docker-watchdog\""), "\(headers.output)")
        let body = try runCommand("/usr/bin/curl", ["-s", "--cacert", f.p("ca.crt")] + alice + [base + "/metrics"])
        #expect(body.output.contains("docker_daemon_up 0"), "\(body.output.prefix(300))")
        // Every 401 so far is counted (wrong password, unknown user, none on /metrics and /healthz,
        // and the header request above), and nothing else is.
        #expect(
            body.output.contains("docker_watchdog_http_unauthorized_requests_total 5\n"),
            "\(body.output.split(separator: "\n").filter { $0.contains("unauthorized") })")

        // TLS 1.2 and 1.3 are accepted.
        #expect(try curl(base + "/metrics", alice + ["--tlsv1.3"], fixture: f).code == "200")
        #expect(try curl(base + "/metrics", alice + ["--tlsv1.2", "--tls-max", "1.2"], fixture: f).code == "200")
        // TLS 1.1 is refused in the handshake. SECLEVEL=0 lets OpenSSL offer TLS 1.1 at all (see the
        // control test below, which proves this very command works against a server that allows it).
        let old = try curl(base + "/metrics", alice + tls11, fixture: f)
        #expect(old.code == "000" && old.exit == 35, "TLS 1.1 must fail the handshake: exit \(old.exit) \(old.stderr)")
        let sClient = try runCommand("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(wd.port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], stdin: "")
        #expect(sClient.status != 0, "openssl s_client -tls1_1 connected: \(sClient.output.prefix(500))")
        // Plain HTTP to the TLS port gets no HTTP answer at all.
        let plain = try curl("http://127.0.0.1:\(wd.port)/metrics", alice, fixture: f)
        #expect(plain.code == "000" && plain.exit != 0, "plain HTTP answered: \(plain.code)")

        // The server's own complaints about those connections are counted and go through the
        // watchdog's log (structured, at most one line per 10 s), not straight to stderr.
        let after = try runCommand("/usr/bin/curl", ["-s", "--cacert", f.p("ca.crt")] + alice + [base + "/metrics"])
        let errors = after.output.split(separator: "\n").first { $0.hasPrefix("docker_watchdog_http_server_errors_total ") }
        let count = errors.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        #expect(count >= 2, "the failed handshakes are counted: \(errors ?? "no such series")")
        let lines = wd.log.split(separator: "\n")
        let logged = lines.filter { $0.contains("http server could not serve a connection") }
        #expect(!logged.isEmpty && Double(logged.count) < count, "\(count) errors, log: \(logged)")
    }

    let tls11 = ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"]

    /// The control for "TLS 1.1 refused": the same client command succeeds against a server that allows
    /// TLS 1.1, so the refusal above comes from the watchdog, not from the client.
    @Test func tls11ClientWorksAgainstAServerThatAllowsIt() throws {
        let f = try Fixture()
        let server = try HTTPServer(
            listen: .tcp(host: "127.0.0.1", port: 0),
            options: HTTPServerOptions(
                tls: HTTPTLSOptions(
                    certificatePEM: try String(contentsOfFile: f.p("server.crt"), encoding: .utf8),
                    keyPEM: try String(contentsOfFile: f.p("server.key"), encoding: .utf8),
                    priorities: "NORMAL:+VERS-TLS1.1")),
            handler: { _ in .text(200, "ok\n") })
        defer { server.stop() }
        let r = try curl("https://127.0.0.1:\(server.port!)/", tls11, fixture: f)
        #expect(r.code == "200", "client could not speak TLS 1.1 even to a server allowing it: exit \(r.exit) \(r.stderr)")
    }

    /// Unknown users and wrong passwords cost the same (one bcrypt at the configured cost); right
    /// passwords are cached. Requests are interleaved on one keep-alive connection, so load on the
    /// machine affects both kinds alike, and medians are compared.
    @Test func unknownUserTimingMatchesWrongPassword() throws {
        let f = try Fixture()
        let wd = try watchdog(try f.webConfig())
        defer { wd.stop() }
        let url = "https://127.0.0.1:\(wd.port)/metrics"
        let rounds = 15
        var args = ["-s", "--max-time", "60"]
        func transfer(_ user: String, _ password: String) {
            args += ["--cacert", f.p("ca.crt"), "-o", "/dev/null", "-w", "\(user) %{http_code} %{time_total}\n", "-u", "\(user):\(password)", url, "--next"]
        }
        transfer("warmup", "x")  // pays the handshake
        for _ in 0..<rounds {
            transfer("alice", "wrong")
            transfer("mallory", "wrong")
            transfer("alice", Fixture.alicePassword)
        }
        args.removeLast()  // the trailing --next
        let r = try runCommand("/usr/bin/curl", args)
        #expect(r.status == 0, "\(r.error)")
        var times: [String: [Double]] = [:]
        var codes: [String: Set<String>] = [:]
        for line in r.output.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let t = Double(parts[2]) else { continue }
            let kind = parts[0] == "alice" && parts[1] == "200" ? "right" : String(parts[0])
            times[kind, default: []].append(t)
            codes[String(parts[0]), default: []].insert(String(parts[1]))
        }
        #expect(codes["mallory"] == ["401"])
        #expect(codes["alice"] == ["401", "200"])
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
        let wrong = median(times["alice"] ?? []), unknown = median(times["mallory"] ?? []), right = median(times["right"] ?? [])
        #expect(times["alice"]?.count == rounds && times["mallory"]?.count == rounds && times["right"]?.count == rounds)
        // Indistinguishable within noise: medians within 25% (or 10 ms) of each other.
        #expect(
            abs(wrong - unknown) <= max(0.25 * max(wrong, unknown), 0.010),
            "wrong password median \(wrong)s vs unknown user \(unknown)s")
        // Wrong passwords are not cached: each pays bcrypt, far above a cached right password.
        #expect(wrong > 5 * right, "wrong password \(wrong)s vs cached right password \(right)s")
    }

    // MARK: - Client certificates

    @Test func clientCertificateRequired() throws {
        let f = try Fixture()
        let config = try f.webConfig("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n", users: false)
        let wd = try watchdog(config)
        defer { wd.stop() }
        let url = "https://127.0.0.1:\(wd.port)/metrics"
        for version in [["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]] {
            let ok = try curl(url, version + ["--cert", f.p("client.crt"), "--key", f.p("client.key")], fixture: f)
            #expect(ok.code == "200", "\(version) with the client certificate: exit \(ok.exit) \(ok.stderr)")
            let none = try curl(url, version, fixture: f)
            #expect(none.code == "000" && none.exit != 0, "\(version) without a certificate got \(none.code)")
            let rogue = try curl(url, version + ["--cert", f.p("rogue.crt"), "--key", f.p("rogue.key")], fixture: f)
            #expect(rogue.code == "000" && rogue.exit != 0, "\(version) with an untrusted certificate got \(rogue.code)")
        }
    }

    // MARK: - Configuration errors

    @Test func badWebConfigExitsTwoNamingKeyAndFile() throws {
        let f = try Fixture()
        let low = try f.webConfig("  min_version: TLS11\n", name: "low.yml")
        for mode in [["--config.check"], []] {
            let r = try WatchdogProcess.runToExit(mode + ["--web.config.file", low, "--web.listen-address", "127.0.0.1:0"])
            #expect(r.status == 2, "\(mode): \(r.stderr)")
            #expect(r.stderr.contains("tls_server_config.min_version") && r.stderr.contains(low), "\(r.stderr)")
        }
        // A key that does not belong to the certificate: found by the TLS library before anything starts.
        try "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n".write(toFile: f.p("mismatch.yml"), atomically: true, encoding: .utf8)
        let mismatch = try WatchdogProcess.runToExit(["--config.check", "--web.config.file", f.p("mismatch.yml")])
        #expect(mismatch.status == 2)
        #expect(mismatch.stderr.contains("tls_server_config") && mismatch.stderr.contains(f.p("mismatch.yml")), "\(mismatch.stderr)")
        let missing = try WatchdogProcess.runToExit(["--config.check", "--web.config.file", f.p("absent.yml")])
        #expect(missing.status == 2 && missing.stderr.contains("web.config_file"), "\(missing.stderr)")
        let good = try WatchdogProcess.runToExit(["--config.check", "--web.config.file", try f.webConfig()])
        #expect(good.status == 0, "\(good.stderr)")
    }
}

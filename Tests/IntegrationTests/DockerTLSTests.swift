import Foundation
import Testing
import WatchdogTestSupport

/// A dockerd that listens on 127.0.0.1 with TLS and requires client certificates, reached the way
/// the docker CLI reaches it: DOCKER_HOST=tcp://…, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH. In the
/// engine matrix too (Docker 26 and 28: the build history over an upgraded connection inside TLS).
@Suite(
    "Docker over TLS", .enabled(if: TestBed.mainAvailable, "needs dockerd (scripts/test.sh)"),
    .enabled(if: !PrivateDaemon.engineUnderTest.hasPrefix("podman"), "dockerd's -H/--tlsverify flags; Podman's service has no TLS listener"))
struct DockerTLSTests {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
    static func makeCertificates(in dir: String) throws {
        func openssl(_ args: [String]) throws {
            let r = try runCommand("/usr/bin/openssl", args)
            guard r.status == 0 else { throw TestBedMissing(description: "openssl \(args.first ?? ""): \(r.error)") }
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let days = ["-days", "2"]
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/ca-key.pem", "-out", "\(dir)/ca.pem", "-subj", "/CN=wd-test-ca"] + days)
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n".write(toFile: "\(dir)/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: "\(dir)/client.ext", atomically: true, encoding: .utf8)
        for (name, subject, ext) in [("server", "/CN=127.0.0.1", "server.ext"), ("client", "/CN=wd-client", "client.ext")] {
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/\(name)-key.pem", "-out", "\(dir)/\(name).csr", "-subj", subject])
            try openssl(
                [
                    "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca-key.pem", "-CAcreateserial",
                    "-out", "\(dir)/\(name)-cert.pem", "-extfile", "\(dir)/\(ext)",
                ] + days)
        }
        // The client's files under the names DOCKER_CERT_PATH uses.
        try FileManager.default.copyItem(atPath: "\(dir)/client-cert.pem", toPath: "\(dir)/cert.pem")
        try FileManager.default.copyItem(atPath: "\(dir)/client-key.pem", toPath: "\(dir)/key.pem")
    }

    static func freePort() -> Int { Int.random(in: 30_000...39_999) }

    @Test func theWatchdogReachesATLSDaemonWithTheCLIsVariablesAndRefusesAWrongCA() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-tls-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.makeCertificates(in: dir)
        let port = Self.freePort()
        let daemon = try PrivateDaemon(
            name: "tls",
            daemonArguments: [
                "-H", "tcp://127.0.0.1:\(port)", "--tlsverify", "--tlscacert", "\(dir)/ca.pem", "--tlscert", "\(dir)/server-cert.pem",
                "--tlskey", "\(dir)/server-key.pem",
            ])
        defer { daemon.stop() }
        let tcp = "tcp://127.0.0.1:\(port)"
        // The environment of a shell set up for the docker CLI; the watchdog reads the same variables.
        let w = try WatchdogProcess(
            arguments: ["--collector.daemon.interval", "500ms", "--collector.build-history.interval", "500ms"],
            environment: ["DOCKER_HOST": tcp, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir])
        defer { w.stop() }
        let s = try w.waitFor("the daemon up over TLS", timeout: 30) { $0.value("docker_daemon_up") == 1 }
        #expect(s.first { $0.name == "docker_daemon_info" }?.labels["server_version"]?.isEmpty == false)

        // The build history is read over an upgraded connection (POST /grpc, h2c inside TLS here):
        // BuildKit's answer, the history or 20.10's gRPC UNIMPLEMENTED, comes back through it.
        let history = try w.waitFor("build_history rounds over TLS", timeout: 30) {
            ($0.value("docker_watchdog_collector_runs_total", ["collector": "build_history"]) ?? 0) >= 2
                && $0.value("docker_watchdog_collector_success", ["collector": "build_history"]) == 1
        }
        let servesHistory = ["docker26", "docker28", "docker28-containerd"].contains(PrivateDaemon.engineUnderTest)
        #expect(history.value("docker_build_history_available") == (servesHistory ? 1 : 0))
        #expect(history.value("docker_build_cache_hit_rate_method_info", ["method": servesHistory ? "build_history" : "usage_count"]) == 1)

        // Plain HTTP to the TLS port, and TLS with another CA, are refused and reported.
        let plain = try WatchdogProcess(arguments: ["--docker.host", tcp, "--collector.daemon.interval", "500ms"])
        defer { plain.stop() }
        let wrongCA = dir + "/wrong"
        try FileManager.default.createDirectory(atPath: wrongCA, withIntermediateDirectories: true)
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("wd-tls-other-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: other) }
        try Self.makeCertificates(in: other)
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            try FileManager.default.copyItem(atPath: (file == "ca.pem" ? other : dir) + "/" + file, toPath: wrongCA + "/" + file)
        }
        let mistrusting = try WatchdogProcess(arguments: [
            "--docker.host", tcp, "--docker.tls-verify", "--docker.cert-path", wrongCA, "--collector.daemon.interval", "500ms",
        ])
        defer { mistrusting.stop() }
        for (name, watchdog) in [("plain HTTP", plain), ("another CA", mistrusting)] {
            let failed = try watchdog.waitFor("\(name): probes fail", timeout: 30) { ($0.total("docker_daemon_probe_failures_total") ?? 0) >= 2 }
            #expect(failed.value("docker_daemon_up") == 0, "\(name)")
        }
    }
}

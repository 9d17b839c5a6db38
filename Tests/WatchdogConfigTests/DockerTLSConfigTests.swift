import Foundation
import Testing
@testable import WatchdogConfig

/// TLS to a tcp:// daemon, configured as the docker CLI is (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
@Suite struct DockerTLSConfigTests {
    static func certDirectory(without missing: String? = nil) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd-certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for file in ["ca.pem", "cert.pem", "key.pem"] where file != missing {
            try "-----BEGIN CERTIFICATE-----\n".write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func theDockerCLIsVariablesAndTheWatchdogsOwnKeysAllWork() throws {
        let dir = try Self.certDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let viaCLI = try #require(try config(env: ["DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir]))
        #expect(viaCLI.docker.tlsVerify && viaCLI.docker.certPath == dir)
        let viaFlags = try config(["--docker.host=tcp://127.0.0.1:2376", "--docker.tls-verify", "--docker.cert-path=\(dir)"])
        #expect(viaFlags == viaCLI)
        let viaFile = try config(
            ["--config.file=/w.yml"],
            files: ["/w.yml": "docker:\n  host: tcp://127.0.0.1:2376\n  tls_verify: true\n  cert_path: \(dir)\n"])
        #expect(viaFile == viaCLI)
    }

    @Test func aUnixSocketOrMissingCertificatesAreRefusedWithTheKey() throws {
        let dir = try Self.certDirectory(without: "key.pem")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let unix = try #require(loadError(["--docker.tls-verify"]))
        #expect(unix.key == "docker.tls_verify" && unix.reason.contains("tcp://"))
        let noPath = try #require(loadError(["--docker.host=tcp://h:2376", "--docker.tls-verify"]))
        #expect(noPath.key == "docker.cert_path")
        let noKey = try #require(loadError(["--docker.host=tcp://h:2376", "--docker.tls-verify", "--docker.cert-path=\(dir)"]))
        #expect(noKey.key == "docker.cert_path" && noKey.reason.contains("key.pem"), "\(noKey)")
    }
}

import Foundation
import Testing

/// The private Docker daemons `scripts/test.sh` starts (see `scripts/test-dockerd.sh`).
///
/// With `WATCHDOG_REQUIRE_DOCKER=1` (as the test script and CI set it) a missing daemon fails the
/// tests instead of skipping them, so CI can never pass without having talked to a real daemon.
enum TestBed {
    static let env = ProcessInfo.processInfo.environment

    /// The shared daemon: tests may add containers but must not stop it.
    static var mainHost: String? { env["WATCHDOG_TEST_DOCKER_HOST"] }
    /// The daemon the fault tests may freeze (SIGSTOP) and resume.
    static var faultHost: String? { env["WATCHDOG_FAULT_DOCKER_HOST"] }
    static var faultPidFile: String? { env["WATCHDOG_FAULT_DOCKER_PIDFILE"] }
    static var required: Bool { env["WATCHDOG_REQUIRE_DOCKER"] == "1" }

    /// Debian's 20.10 client, which matches the test daemon (and has BuildKit support).
    static let dockerCLI = "/usr/bin/docker"

    static var mainAvailable: Bool { mainHost != nil || required }
    static var faultAvailable: Bool { (faultHost != nil && faultPidFile != nil) || required }

    static func requireMain() throws -> String {
        guard let host = mainHost else {
            throw TestBedMissing(description: "WATCHDOG_TEST_DOCKER_HOST is not set: run the tests with scripts/test.sh")
        }
        return host
    }

    static func requireFault() throws -> (host: String, pid: Int32) {
        guard let host = faultHost, let pidFile = faultPidFile else {
            throw TestBedMissing(description: "WATCHDOG_FAULT_DOCKER_HOST/PIDFILE are not set: run the tests with scripts/test.sh")
        }
        let text = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(text) else { throw TestBedMissing(description: "no pid in \(pidFile)") }
        return (host, pid)
    }
}

struct TestBedMissing: Error, CustomStringConvertible {
    let description: String
}

import CurlTransport
import Foundation
import Testing
import WatchdogTestSupport

/// Where the metrics are served: several addresses at once, or sockets systemd passes.
@Suite("Listening (real binary)")
struct ListenTests {
    /// `listen=a:1,b:2` from the start-up log line.
    static func listened(_ log: String) -> [String] {
        guard let range = log.range(of: "listen=") else { return [] }
        return log[range.upperBound...].prefix { !$0.isWhitespace }.split(separator: ",").map(String.init)
    }

    static func metricsStatus(host: String, port: Int) throws -> Int {
        let session = CurlSession(endpoint: .tcp(host: host, port: port))
        return try session.perform(TransportRequest(target: "/metrics", connectTimeout: .seconds(1), totalTimeout: .seconds(5))).status
    }

    @Test func twoListenAddressesAreServedAtOnce() throws {
        let w = try WatchdogProcess(arguments: [
            "--docker.host", "unix:///nonexistent/docker.sock", "--web.listen-address", "127.0.0.2:0",
        ])
        defer { w.stop() }
        let addresses = Self.listened(w.log)
        #expect(addresses.count == 2, "\(w.log.suffix(2000))")
        for address in addresses {
            let host = String(address[..<address.lastIndex(of: ":")!])
            let port = try #require(Int(address[address.index(after: address.lastIndex(of: ":")!)...]))
            #expect(try Self.metricsStatus(host: host, port: port) == 200, "\(address)")
        }
        #expect(Set(addresses.map { $0.split(separator: ":").first.map(String.init) ?? "" }) == ["127.0.0.1", "127.0.0.2"])
    }

    /// Socket activation as systemd does it: the listening socket at fd 3, LISTEN_FDS=1, and
    /// LISTEN_PID set to the watchdog's own pid (a launcher binds, sets them and execs).
    @Test func aSocketPassedTheSystemdWayIsServedAndNoOtherIsOpened() throws {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("wd-sd-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: portFile) }
        let launcher = """
            import os, socket, sys
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
            open(sys.argv[1], "w").write(str(s.getsockname()[1]))
            os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"; os.environ["LISTEN_PID"] = str(os.getpid())
            os.execv(sys.argv[2], sys.argv[2:])
            """
        let w = try WatchdogProcess(
            arguments: ["--docker.host", "unix:///nonexistent/docker.sock", "--web.systemd-socket"],
            launcher: ["/usr/bin/python3", "-c", launcher, portFile])
        defer { w.stop() }
        let port = try #require(Int(try String(contentsOfFile: portFile, encoding: .utf8)))
        #expect(Self.listened(w.log) == ["systemd-fd3:\(port)"], "\(w.log.suffix(2000))")
        #expect(try Self.metricsStatus(host: "127.0.0.1", port: port) == 200)
        // Not also on web.listen_address (127.0.0.1:0 from the test harness picks a port; nothing else listens).
        let listening = try runCommand("/usr/bin/ss", ["-ltnpH"]).output.split(separator: "\n").filter { $0.contains("pid=\(w.pid),") }
        #expect(listening.count == 1, "\(listening)")
    }

    @Test func withoutAPassedSocketTheStartFailsAndSaysWhy() throws {
        let run = try WatchdogProcess.runToExit(["--docker.host", "unix:///nonexistent/docker.sock", "--web.systemd-socket"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("LISTEN_FDS"), "\(run.stderr)")
    }
}

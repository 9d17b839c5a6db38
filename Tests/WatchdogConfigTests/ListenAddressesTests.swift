import Testing
@testable import WatchdogConfig

/// Several listen addresses, as the exporter-toolkit takes them: the flag repeated, or a list.
@Suite struct ListenAddressesTests {
    @Test func aRepeatedFlagAddsAddressesInOrder() throws {
        let c = try #require(try config(["--web.listen-address", "127.0.0.1:9734", "--web.listen-address=[::1]:9734"]))
        #expect(c.web.listenAddresses == [ListenAddress(host: "127.0.0.1", port: 9734), ListenAddress(host: "::1", port: 9734)])
        #expect(c.web.listenAddress == ListenAddress(host: "127.0.0.1", port: 9734))
    }

    @Test func environmentAndFileTakeACommaSeparatedList() throws {
        let env = try #require(try config(env: ["DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS": "127.0.0.1:1,127.0.0.2:2"]))
        #expect(env.web.listenAddresses.map(\.port) == [1, 2])
        let file = try #require(
            try config(["--config.file=/w.yml"], files: ["/w.yml": "web:\n  listen_address: \"127.0.0.1:1,127.0.0.2:2\"\n"]))
        #expect(file == env)
        // Flags replace the file's list as a whole (the flags layer wins), repeated or not.
        let both = try #require(
            try config(
                ["--config.file=/w.yml", "--web.listen-address=:3"], files: ["/w.yml": "web:\n  listen_address: \"127.0.0.1:1,127.0.0.2:2\"\n"]))
        #expect(both.web.listenAddresses == [ListenAddress(host: "", port: 3)])
    }

    @Test func aBadOrRepeatedAddressNamesTheKey() throws {
        let bad = try #require(loadError(["--web.listen-address", "127.0.0.1:1", "--web.listen-address", "nope"]))
        #expect(bad.key == "web.listen_address" && bad.reason.contains("nope"))
        let twice = try #require(loadError(["--web.listen-address", ":1", "--web.listen-address", ":1"]))
        #expect(twice.key == "web.listen_address" && twice.reason.contains("twice"))
    }
}

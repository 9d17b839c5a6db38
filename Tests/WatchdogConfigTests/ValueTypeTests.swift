import Testing
@testable import WatchdogConfig

/// Parsing of each value type, good and bad input. The syntax is shared by all three sources, so
/// these run mostly on the parsers directly; `LoaderTests` checks the wiring per source.
@Suite struct DurationParsing {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)),
        ("10s", .seconds(10)),
        ("5m", .seconds(300)),
        ("1h30m", .seconds(5400)),
        ("1h0m30s", .seconds(3630)),
        ("1.5s", .milliseconds(1500)),
        ("0.1s", .milliseconds(100)),
        ("1.5h", .seconds(5400)),
        ("10", .seconds(10)),
        ("2.5", .milliseconds(2500)),
        ("  7s ", .seconds(7)),
        ("100us", .microseconds(100)),
        ("100µs", .microseconds(100)),
        ("3ns", .nanoseconds(3)),
        ("0", .zero),
        ("-5s", .seconds(-5)),
    ])
    func accepts(_ input: String, _ expected: Duration) throws {
        #expect(try parseDuration(input) == expected)
    }

    @Test(arguments: ["", "s", "10x", "ten seconds", "1h 30m", "5 m", "1..5s", ".", "10s5", "1d", "--5s", "nan"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try parseDuration(input) }
    }

    @Test func tooLargeIsRejectedNotTrapped() {
        #expect(throws: ValueError.self) { try parseDuration("99999999999999999999h") }
        #expect(throws: ValueError.self) { try parseDuration("3000000h") }  // > 292 years
    }

    @Test func positiveConstraintRejectsZeroAndNegative() throws {
        let positive = ValueType<Duration>.duration(positive: true)
        #expect(throws: ValueError.self) { try positive.parse("0s") }
        #expect(throws: ValueError.self) { try positive.parse("-1s") }
        #expect(try positive.parse("1ns") == .nanoseconds(1))
        #expect(try ValueType<Duration>.duration(positive: false).parse("0") == .zero)
    }

    @Test(arguments: [
        (Duration.seconds(5400), "1h30m"), (.milliseconds(250), "250ms"), (.seconds(60), "1m"),
        (.seconds(120), "2m"), (.milliseconds(1500), "1s500ms"), (.zero, "0s"), (.seconds(-3), "-3s"),
    ])
    func formatsAndRoundTrips(_ d: Duration, _ text: String) throws {
        #expect(formatDuration(d) == text)
        #expect(try parseDuration(text) == d)
    }
}

@Suite struct IntegerParsing {
    let type = ValueType<Int>.integer(1...10_000)

    @Test func acceptsInRange() throws {
        #expect(try type.parse("1") == 1)
        #expect(try type.parse("10000") == 10_000)
        #expect(try type.parse(" 64 ") == 64)
    }

    @Test(arguments: ["0", "10001", "-1", "abc", "", "1.5", "1e3", "0x10"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try type.parse(input) }
    }

    @Test func rangeErrorStatesTheBounds() {
        #expect(throws: ValueError("must be between 1 and 10000, got 0")) { try type.parse("0") }
    }
}

@Suite struct ByteSizeParsing {
    @Test(arguments: [
        ("1024", Int64(1024)), ("0", 0), ("5GiB", 5 << 30), ("500MB", 500_000_000), ("1KB", 1000),
        ("1KiB", 1024), ("2TiB", 2 << 40), ("1.5GiB", 3 << 29), ("10 MiB", 10 << 20), ("7b", 7),
        ("5gib", 5 << 30), ("1PB", 1_000_000_000_000_000),
    ])
    func accepts(_ input: String, _ expected: Int64) throws {
        #expect(try parseByteSize(input) == expected)
    }

    @Test(arguments: ["", "GiB", "5XB", "-5GiB", "1.2.3GB", "five", "99999999999PiB"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try parseByteSize(input) }
    }

    @Test func singleLetterUnitsAreAmbiguous() {
        #expect(throws: ValueError("ambiguous unit in \"5G\": write GB (decimal) or GiB (binary)")) {
            try parseByteSize("5G")
        }
    }

    @Test func rangeIsEnforced() {
        let type = ValueType<Int64>.byteSize(1...(1 << 30))
        #expect(throws: ValueError.self) { try type.parse("0") }
        #expect(throws: ValueError.self) { try type.parse("2GiB") }
    }

    @Test(arguments: [Int64(0), 1023, 1024, 5 << 30, 500_000_000, 1_000, 123_456_789])
    func formatRoundTrips(_ bytes: Int64) throws {
        #expect(try parseByteSize(formatByteSize(bytes)) == bytes)
    }

    @Test func formatPrefersExactBinaryUnits() {
        #expect(formatByteSize(5 << 30) == "5GiB")
        #expect(formatByteSize(500_000_000) == "500MB")
        #expect(formatByteSize(1023) == "1023B")
    }
}

@Suite struct RatioParsing {
    let type = ValueType<Double>.ratio()

    @Test(arguments: [("0.1", 0.1), ("10%", 0.1), ("100%", 1.0), ("0", 0.0), ("1", 1.0), (" 25 % ", 0.25)])
    func accepts(_ input: String, _ expected: Double) throws {
        #expect(abs(try type.parse(input) - expected) < 1e-12)
    }

    @Test(arguments: ["1.5", "150%", "-0.1", "", "%", "abc", "nan", "inf", "0x1p-2"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try type.parse(input) }
    }
}

@Suite struct BoolParsing {
    @Test(arguments: [("true", true), ("false", false), ("TRUE", true), ("yes", true), ("no", false), ("1", true), ("0", false)])
    func accepts(_ input: String, _ expected: Bool) throws {
        #expect(try ValueType<Bool>.bool.parse(input) == expected)
    }

    @Test(arguments: ["", "maybe", "2", "truee"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try ValueType<Bool>.bool.parse(input) }
    }
}

@Suite struct EnumParsing {
    @Test func acceptsCaseInsensitively() throws {
        #expect(try ValueType<LogLevel>.enumeration(placeholder: "L").parse("WARNING") == .warning)
        #expect(try ValueType<LogFormat>.enumeration(placeholder: "F").parse("json") == .json)
    }

    @Test func errorListsAllowedValues() {
        #expect(throws: ValueError("expected one of logfmt, json, got \"xml\"")) {
            try ValueType<LogFormat>.enumeration(placeholder: "F").parse("xml")
        }
    }
}

@Suite struct ListenAddressParsing {
    @Test(arguments: [
        (":9734", ListenAddress(host: "", port: 9734)),
        ("0.0.0.0:80", ListenAddress(host: "0.0.0.0", port: 80)),
        ("localhost:65535", ListenAddress(host: "localhost", port: 65535)),
        ("[::1]:9734", ListenAddress(host: "::1", port: 9734)),
        ("[::]:0", ListenAddress(host: "::", port: 0)),
        ("my-host.example:1", ListenAddress(host: "my-host.example", port: 1)),
    ])
    func accepts(_ input: String, _ expected: ListenAddress) throws {
        let parsed = try parseListenAddress(input)
        #expect(parsed == expected)
        #expect(try parseListenAddress(parsed.description) == parsed)
    }

    @Test(arguments: ["abc", "", "9734", ":", ":65536", ":-1", ":http", "::1:9734", "[::1]", "[::1]9734", "host name:80", "[abc]:80", "host:80:90"])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try parseListenAddress(input) }
    }

    @Test func descriptionBracketsIPv6() {
        #expect(ListenAddress(host: "::1", port: 1).description == "[::1]:1")
        #expect(ListenAddress(host: "", port: 9734).description == ":9734")
    }
}

@Suite struct DockerHostParsing {
    @Test(arguments: [
        ("unix:///var/run/docker.sock", DockerHost.unix(path: "/var/run/docker.sock")),
        ("tcp://127.0.0.1:2375", .tcp(host: "127.0.0.1", port: 2375)),
        ("tcp://docker", .tcp(host: "docker", port: 2375)),
        ("http://docker:8080", .tcp(host: "docker", port: 8080)),
        ("HTTP://docker:8080/", .tcp(host: "docker", port: 8080)),
        ("tcp://[::1]:2375", .tcp(host: "::1", port: 2375)),
        ("tcp://[::1]", .tcp(host: "::1", port: 2375)),
    ])
    func accepts(_ input: String, _ expected: DockerHost) throws {
        let parsed = try parseDockerHost(input)
        #expect(parsed == expected)
        #expect(try parseDockerHost(parsed.description) == parsed)
    }

    @Test(arguments: [
        "", "/var/run/docker.sock", "unix://", "unix://relative.sock", "https://docker:2376",
        "ssh://user@host", "npipe:////./pipe/docker_engine", "tcp://", "tcp://:2375", "tcp://host:0",
        "tcp://host:70000", "tcp://host:2375/v1.43", "docker.sock",
    ])
    func rejects(_ input: String) {
        #expect(throws: ValueError.self) { try parseDockerHost(input) }
    }

    @Test func barePathGetsAHint() {
        #expect(throws: ValueError("expected a URL, not a bare path: did you mean unix:///run/docker.sock?")) {
            try parseDockerHost("/run/docker.sock")
        }
    }
}

@Suite struct StringValidators {
    @Test func urlPath() throws {
        #expect(try ValueType<String>.urlPath.parse("/metrics") == "/metrics")
        #expect(try ValueType<String>.urlPath.parse("/") == "/")
        for bad in ["metrics", "", "/a b", "/m?x=1", "/m#f"] {
            #expect(throws: ValueError.self, "\(bad)") { try ValueType<String>.urlPath.parse(bad) }
        }
    }

    @Test func apiVersion() throws {
        for good in ["", "1.24", "1.43", "1.100"] {
            #expect(try ValueType<String>.apiVersion.parse(good) == good)
        }
        for bad in ["1", "2.0", "v1.43", "1.", "1.4x", "1.43.0", "1.1000"] {
            #expect(throws: ValueError.self, "\(bad)") { try ValueType<String>.apiVersion.parse(bad) }
        }
    }

    @Test func optionalAbsolutePath() throws {
        #expect(try ValueType<String>.optionalAbsolutePath.parse("") == "")
        #expect(try ValueType<String>.optionalAbsolutePath.parse("/host") == "/host")
        #expect(throws: ValueError.self) { try ValueType<String>.optionalAbsolutePath.parse("host") }
    }
}

@Suite struct Suggestions {
    @Test func obviousTyposOnly() {
        let flags = ["web.listen-address", "web.telemetry-path", "log.level"]
        #expect(Suggest.closest(to: "web.listen-adress", among: flags) == "web.listen-address")
        #expect(Suggest.closest(to: "web.listen_address", among: flags) == "web.listen-address")
        #expect(Suggest.closest(to: "log.lvel", among: flags) == "log.level")
        #expect(Suggest.closest(to: "listen-address", among: flags) == "web.listen-address")
        #expect(Suggest.closest(to: "frobnicate", among: flags) == nil)
        #expect(Suggest.closest(to: "log.level", among: flags) == nil)  // exact match is not a typo
    }
}

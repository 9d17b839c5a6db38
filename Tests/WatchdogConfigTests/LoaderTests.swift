import Collectors
import Testing
@testable import WatchdogConfig

@Suite struct Defaults {
    @Test func noSourcesYieldsTheDocumentedDefaults() throws {
        let c = try #require(try config())
        #expect(c == WatchdogConfiguration.defaults)
        #expect(c.docker.host == .unix(path: "/var/run/docker.sock"))
        #expect(c.docker.apiVersion == "")
        #expect(c.docker.connectTimeout == .seconds(2))
        #expect(c.docker.requestTimeout == .seconds(10))
        #expect(c.web.listenAddress == ListenAddress(host: "", port: 9734))
        #expect(c.web.telemetryPath == "/metrics")
        #expect(c.web.maxConnections == 64)
        #expect(c.web.maxConnectionsPerIP == 16)
        #expect(c.web.connectionTimeout == .seconds(10))
        #expect(c.collectors[DaemonCollector.config].interval == .seconds(10))
        #expect(c.collectors[DaemonCollector.config].timeout == .seconds(5))
        #expect(c.collectors[DaemonCollector.config].infoInterval == .seconds(60))
        #expect(c.collectors[DiskCollector.config].interval == .seconds(15))
        #expect(c.collectors[DiskCollector.config].statfsTimeout == .seconds(5))
        #expect(c.collectors[DiskCollector.config].path == "")
        #expect(c.collectors[DiskCollector.config].hostPrefix == "")
        #expect(c.collectors[SystemDFCollector.config].interval == .seconds(300))
        #expect(c.collectors[SystemDFCollector.config].timeout == .seconds(120))
        #expect(c.collectors[ProcessCollector.config].interval == .seconds(15))
        #expect(c.log.level == .info)
        #expect(c.log.format == .logfmt)
    }

    @Test func emptyFileAndCommentOnlyFileAreDefaults() throws {
        #expect(loadYAML("").value == .defaults)
        #expect(loadYAML("# nothing here\n\n").value == .defaults)
        #expect(loadYAML("web:\n  # listen_address: :1\n").value == .defaults)
    }

    @Test func emptyYAMLValueLeavesTheDefault() throws {
        #expect(loadYAML("web:\n  listen_address:\n  telemetry_path: ~\n").value == .defaults)
    }
}

@Suite struct Precedence {
    let file = "web:\n  listen_address: \"127.0.0.1:1111\"\n"
    let env = ["DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS": "127.0.0.1:2222"]
    let flag = ["--web.listen-address", "127.0.0.1:3333"]
    let fileArgs = ["--config.file", "/etc/dw.yaml"]

    func port(_ args: [String], env: [String: String]) throws -> Int? {
        try config(args, env: env, files: ["/etc/dw.yaml": file])?.web.listenAddress.port
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        #expect(try port([], env: [:]) == 9734)
        #expect(try port(fileArgs, env: [:]) == 1111)
        #expect(try port(fileArgs, env: env) == 2222)
        #expect(try port(fileArgs + flag, env: env) == 3333)
        #expect(try port(flag, env: env) == 3333)
        #expect(try port(flag, env: [:]) == 3333)
    }

    @Test func layersMergePerKeyNotPerSource() throws {
        let c = try #require(
            try config(
                fileArgs + ["--log.level=debug"],
                env: ["DOCKER_WATCHDOG_WEB_MAX_CONNECTIONS": "5"],
                files: ["/etc/dw.yaml": file]))
        #expect(c.web.listenAddress.port == 1111)
        #expect(c.web.maxConnections == 5)
        #expect(c.log.level == .debug)
        #expect(c.web.telemetryPath == "/metrics")
    }

    @Test func repeatedFlagLastWins() throws {
        #expect(try config(["--log.level", "debug", "--log.level=error"])?.log.level == .error)
    }

    @Test func emptyEnvironmentVariableCountsAsUnset() throws {
        let c = try config(fileArgs, env: ["DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS": ""], files: ["/etc/dw.yaml": file])
        #expect(c?.web.listenAddress.port == 1111)
    }

    @Test func overriddenInvalidFileValueIsStillAnError() {
        // The file must be valid on its own: the override may be removed one day.
        let e = loadError(
            ["--config.file", "c.yaml", "--web.max-connections", "5"],
            files: ["c.yaml": "web:\n  max_connections: 0\n"])
        #expect(e == ConfigError(key: "web.max_connections", source: "c.yaml:2", reason: "must be between 1 and 10000, got 0"))
    }
}

@Suite struct EnvironmentMapping {
    @Test func everyKeyIsReadFromItsVariable() throws {
        let c = try #require(
            try config(env: [
                "DOCKER_WATCHDOG_DOCKER_HOST": "tcp://10.0.0.1:2375",
                "DOCKER_WATCHDOG_DOCKER_API_VERSION": "1.43",
                "DOCKER_WATCHDOG_WEB_MAX_CONNECTIONS_PER_IP": "3",
                "DOCKER_WATCHDOG_COLLECTOR_DAEMON_INFO_INTERVAL": "2m",
                "DOCKER_WATCHDOG_COLLECTOR_SYSTEM_DF_TIMEOUT": "90s",
                "DOCKER_WATCHDOG_COLLECTOR_DISK_HOST_PREFIX": "/host",
                "DOCKER_WATCHDOG_LOG_FORMAT": "json",
                "PATH": "/usr/bin",  // unrelated variables are ignored
            ]))
        #expect(c.docker.host == .tcp(host: "10.0.0.1", port: 2375))
        #expect(c.docker.apiVersion == "1.43")
        #expect(c.web.maxConnectionsPerIP == 3)
        #expect(c.collectors[DaemonCollector.config].infoInterval == .seconds(120))
        #expect(c.collectors[SystemDFCollector.config].timeout == .seconds(90))
        #expect(c.collectors[DiskCollector.config].hostPrefix == "/host")
        #expect(c.log.format == .json)
    }

    @Test func dockerHostIsHonoured() throws {
        #expect(try config(env: ["DOCKER_HOST": "tcp://docker:2375"])?.docker.host == .tcp(host: "docker", port: 2375))
    }

    @Test func dockerHostRanksBelowOurVariableAndFlag() throws {
        let env = ["DOCKER_HOST": "tcp://cli:2375", "DOCKER_WATCHDOG_DOCKER_HOST": "unix:///ours.sock"]
        #expect(try config(env: env)?.docker.host == .unix(path: "/ours.sock"))
        #expect(
            try config(["--docker.host", "unix:///flag.sock"], env: ["DOCKER_HOST": "tcp://cli:2375"])?.docker.host
                == .unix(path: "/flag.sock"))
    }

    @Test func dockerHostRanksAboveTheFile() throws {
        let c = try config(
            ["--config.file", "c.yaml"], env: ["DOCKER_HOST": "tcp://cli:2375"],
            files: ["c.yaml": "docker:\n  host: unix:///file.sock\n"])
        #expect(c?.docker.host == .tcp(host: "cli", port: 2375))
    }

    @Test func unusableDockerHostIsIgnoredWhenOverridden() throws {
        // DOCKER_HOST=ssh://... is fine for the docker CLI; it must not break an explicit setting.
        let env = ["DOCKER_HOST": "ssh://me@box", "DOCKER_WATCHDOG_DOCKER_HOST": "unix:///ours.sock"]
        #expect(try config(env: env)?.docker.host == .unix(path: "/ours.sock"))
        #expect(try config(["--docker.host=unix:///f.sock"], env: ["DOCKER_HOST": "ssh://me@box"]) != nil)
    }

    @Test func unusableDockerHostAloneIsAnErrorNamingTheVariable() {
        let e = loadError(env: ["DOCKER_HOST": "ssh://me@box"])
        #expect(e?.key == "docker.host")
        #expect(e?.source == "env DOCKER_HOST")
    }

    @Test func badValueNamesKeyAndVariable() {
        let e = loadError(env: ["DOCKER_WATCHDOG_COLLECTOR_DISK_INTERVAL": "-5s"])
        #expect(
            e
                == ConfigError(
                    key: "collector.disk.interval", source: "env DOCKER_WATCHDOG_COLLECTOR_DISK_INTERVAL",
                    reason: "must be a positive duration, got \"-5s\""))
    }

    @Test func unknownVariableWithOurPrefixIsRejectedWithSuggestion() {
        let e = loadError(env: ["DOCKER_WATCHDOG_WEB_LISTEN_ADRESS": ":1"])
        #expect(
            e
                == ConfigError(
                    key: "DOCKER_WATCHDOG_WEB_LISTEN_ADRESS", source: "environment",
                    reason: "unknown environment variable; did you mean DOCKER_WATCHDOG_WEB_LISTEN_ADDRESS?"))
    }

    @Test func configFileFromEnvironmentAndFlagOverridesIt() throws {
        let files = ["a.yaml": "log:\n  level: debug\n", "b.yaml": "log:\n  level: error\n"]
        let env = ["DOCKER_WATCHDOG_CONFIG_FILE": "a.yaml"]
        #expect(try config(env: env, files: files)?.log.level == .debug)
        #expect(try config(["--config.file=b.yaml"], env: env, files: files)?.log.level == .error)
    }
}

@Suite struct Flags {
    @Test func bothValueForms() throws {
        #expect(try config(["--web.telemetry-path", "/m"])?.web.telemetryPath == "/m")
        #expect(try config(["--web.telemetry-path=/m"])?.web.telemetryPath == "/m")
        // "=" inside the value is kept.
        #expect(try config(["--collector.disk.path=/a=b"])?.collectors[DiskCollector.config].path == "/a=b")
    }

    @Test func explicitEmptyValueIsAValue() throws {
        let c = try config(["--config.file", "c", "--collector.disk.path="], files: ["c": "collector:\n  disk:\n    path: /x\n"])
        #expect(c?.collectors[DiskCollector.config].path == "")
    }

    @Test func unknownFlagIsNamedWithSuggestion() {
        #expect(
            loadError(["--web.listen-adress", ":1"])
                == ConfigError(
                    key: "--web.listen-adress", source: "command line",
                    reason: "unknown flag; did you mean --web.listen-address?"))
        #expect(loadError(["--web.listen_address=:1"])?.reason == "unknown flag; did you mean --web.listen-address?")
        #expect(loadError(["-log.level=info"])?.reason == "unknown flag; did you mean --log.level?")
        #expect(loadError(["--frobnicate"]) == ConfigError(key: "--frobnicate", source: "command line", reason: "unknown flag"))
    }

    @Test func missingValue() {
        #expect(loadError(["--log.level"]) == ConfigError(key: "log.level", source: "flag --log.level", reason: "flag needs a value"))
        #expect(loadError(["--config.file"])?.key == "config.file")
        #expect(
            loadError(["--web.listen-address"])
                == ConfigError(
                    key: "web.listen_address", source: "flag --web.listen-address", reason: "flag needs a value"))
    }

    @Test func positionalArgumentsAreRejected() {
        #expect(loadError(["serve"])?.key == "serve")
        #expect(loadError(["--", "--log.level=info"])?.key == "--log.level=info")
    }

    @Test func badValueNamesKeyAndFlag() {
        #expect(
            loadError(["--web.listen-address", "abc"])
                == ConfigError(
                    key: "web.listen_address", source: "flag --web.listen-address",
                    reason: "expected host:port, :port or [ipv6]:port, got \"abc\""))
        #expect(
            loadError(["--log.level=verbose"])?.reason
                == "expected one of trace, debug, info, notice, warning, error, critical, got \"verbose\"")
    }

    @Test func helpAndVersionWinOverEverythingElse() throws {
        guard case .help(let text) = try load(["--bogus", "-h"]) else {
            Issue.record("expected help")
            return
        }
        #expect(text.contains("--web.listen-address"))
        #expect(try load(["--help"], env: ["DOCKER_WATCHDOG_NOPE": "1"]) == .help(ConfigReference.helpText(program: "docker-watchdog", registry: registry)))
        #expect(try load(["--log.level=nope", "--version"]) == .version)
    }

    @Test func configCheckReturnsTheValidatedConfigurationAndFile() throws {
        let files = ["c.yaml": "web:\n  max_connections: 8\n"]
        var expected = WatchdogConfiguration.defaults
        expected.web.maxConnections = 8
        #expect(try load(["--config.check", "--config.file", "c.yaml"], files: files) == .check(expected, file: "c.yaml"))
        #expect(try load(["--config.check"]) == .check(.defaults, file: nil))
        #expect(try load(["--config.check=false"]) == .run(.defaults))
    }

    @Test func configCheckStillReportsErrors() {
        let e = loadError(["--config.check", "--config.file", "c.yaml"], files: ["c.yaml": "web:\n  max_connections: -1\n"])
        #expect(e?.key == "web.max_connections")
        #expect(e?.source == "c.yaml:2")
    }
}

@Suite struct FileErrors {
    @Test func unknownKeyInNestedMappingNamesPathAndLine() {
        let yaml = """
            web:
              listen_address: ":1"
            collector:
              daemon:
                interval: 5s
                intervall: 6s
            """
        #expect(
            loadYAML(yaml).error
                == ConfigError(
                    key: "collector.daemon.intervall", source: "config.yaml:6",
                    reason: "unknown key; did you mean collector.daemon.interval?"))
    }

    @Test func unknownKeyWithoutCloseMatchListsTheSection() {
        let e = loadYAML("web:\n  tls: true\n").error
        #expect(e?.key == "web.tls")
        #expect(e?.source == "config.yaml:2")
        #expect(e?.reason.contains("listen_address") == true)
    }

    @Test func unknownTopLevelKey() {
        #expect(loadYAML("log:\n  level: info\nmetrics: {}\n").error?.key == "metrics")
        #expect(loadYAML("collectors:\n  daemon: {}\n").error?.reason == "unknown key; did you mean collector?")
    }

    @Test func mappingWhereScalarExpected() {
        let yaml = "web:\n  listen_address:\n    host: localhost\n    port: 80\n"
        #expect(
            loadYAML(yaml).error
                == ConfigError(
                    key: "web.listen_address", source: "config.yaml:3",
                    reason: "expected listen addresses (host:port, comma-separated; the flag repeats), got a mapping"))
    }

    @Test func listWhereScalarExpected() {
        let e = loadYAML("log:\n  level: [info, debug]\n").error
        #expect(e?.key == "log.level")
        #expect(e?.source == "config.yaml:2")
        #expect(e?.reason.hasSuffix("got a list") == true)
    }

    @Test func scalarWhereSectionExpected() {
        #expect(
            loadYAML("log: debug\n").error
                == ConfigError(
                    key: "log", source: "config.yaml:1", reason: "expected a mapping of log.* keys, got the value \"debug\""))
    }

    @Test func topLevelMustBeAMapping() {
        #expect(loadYAML("- a\n- b\n").error?.key == "config.file")
        #expect(loadYAML("hello\n").error?.reason.contains("top level") == true)
    }

    @Test func negativeIntervalNamesTheKeyAndLine() {
        let yaml = "collector:\n  disk:\n    path: /data\n    interval: -10s\n"
        #expect(
            loadYAML(yaml).error
                == ConfigError(
                    key: "collector.disk.interval", source: "config.yaml:4",
                    reason: "must be a positive duration, got \"-10s\""))
    }

    @Test func durationsMayBeNumbersOrStrings() throws {
        let c = try #require(loadYAML("collector:\n  daemon:\n    interval: 30\n    timeout: \"1.5\"\n    info_interval: 2m\n").value)
        #expect(c.collectors[DaemonCollector.config].interval == .seconds(30))
        #expect(c.collectors[DaemonCollector.config].timeout == .milliseconds(1500))
        #expect(c.collectors[DaemonCollector.config].infoInterval == .seconds(120))
    }

    @Test func scalarTextIsTakenVerbatimNotAsYAMLTyped() throws {
        // YAML would read 1.40 as the float 1.4; the API version must stay "1.40".
        #expect(loadYAML("docker:\n  api_version: 1.40\n").value?.docker.apiVersion == "1.40")
        #expect(loadYAML("docker:\n  api_version: \"\"\n").value?.docker.apiVersion == "")
    }

    @Test func malformedYAMLNamesFileAndLine() {
        let e = loadYAML("web:\n  listen_address: \":1\"\n  telemetry_path: [/m\nlog:\n  level: info\n").error
        #expect(e?.key == "config.file")
        #expect(e?.source.hasPrefix("config.yaml:") == true)
        #expect(e?.reason.hasPrefix("invalid YAML:") == true)
        let tab = loadYAML("web:\n\tlisten_address: :1\n").error
        #expect(tab?.source == "config.yaml:2")
    }

    @Test func duplicateKeysAreRejected() {
        let e = loadYAML("log:\n  level: info\n  level: debug\n").error
        #expect(e?.key == "level")
        #expect(e?.reason.contains("duplicate") == true)
    }

    @Test func dottedKeysMustBeNested() {
        let e = loadYAML("web.listen_address: \":1\"\n").error
        #expect(e?.key == "web.listen_address")
        #expect(e?.reason == "unknown key: write dotted keys as nested mappings (web: {listen_address: ...})")
    }

    @Test func unreadableFileNamesPathAndReason() {
        #expect(
            loadError(["--config.file", "/nope.yaml"])
                == ConfigError(
                    key: "config.file", source: "flag --config.file", reason: "cannot read /nope.yaml: No such file or directory"))
        #expect(loadError(env: ["DOCKER_WATCHDOG_CONFIG_FILE": "/nope.yaml"])?.source == "env DOCKER_WATCHDOG_CONFIG_FILE")
    }

    @Test func productionReaderReportsTheOSReason() {
        #expect(throws: ConfigLoader.FileReadError(path: "/nonexistent/x.yaml", reason: "No such file or directory")) {
            try ConfigLoader.readFile("/nonexistent/x.yaml")
        }
        #expect(throws: ConfigLoader.FileReadError(path: "/", reason: "Is a directory")) {
            try ConfigLoader.readFile("/")
        }
    }

    @Test func aliasesAndAnchorsWork() throws {
        let yaml = "collector:\n  disk:\n    interval: &i 20s\n  process:\n    interval: *i\n"
        let c = try #require(loadYAML(yaml).value)
        #expect(c.collectors[ProcessCollector.config].interval == .seconds(20))
    }

    @Test func fullFileSetsEveryKind() throws {
        let yaml = """
            docker:
              host: tcp://127.0.0.1:2375
              connect_timeout: 500ms
            web:
              listen_address: "[::1]:9000"
              max_connections: 100
            collector:
              disk:
                path: /var/lib/docker
            log:
              level: WARNING
            """
        let c = try #require(loadYAML(yaml).value)
        #expect(c.docker.host == .tcp(host: "127.0.0.1", port: 2375))
        #expect(c.docker.connectTimeout == .milliseconds(500))
        #expect(c.web.listenAddress == ListenAddress(host: "::1", port: 9000))
        #expect(c.web.maxConnections == 100)
        #expect(c.collectors[DiskCollector.config].path == "/var/lib/docker")
        #expect(c.log.level == .warning)
    }
}

@Suite struct CrossChecks {
    @Test func connectTimeoutAboveRequestTimeoutBlamesTheKeySetMostSpecifically() {
        let connect = loadError(["--docker.connect-timeout=20s"])
        #expect(connect?.key == "docker.connect_timeout")
        #expect(connect?.source == "flag --docker.connect-timeout")

        let request = loadError(env: ["DOCKER_WATCHDOG_DOCKER_REQUEST_TIMEOUT": "1s"])
        #expect(request?.key == "docker.request_timeout")
        #expect(request?.source == "env DOCKER_WATCHDOG_DOCKER_REQUEST_TIMEOUT")
        #expect(request?.reason.contains("2s, default") == true)
    }

    @Test func loweringBothIsFine() throws {
        let c = try config(["--docker.request-timeout=1s", "--docker.connect-timeout=1s"])
        #expect(c?.docker.requestTimeout == .seconds(1))
    }

    @Test func timeoutsLongerThanIntervalsAreAllowed() throws {
        // Collectors are single-flight; an overrun delays the next run, nothing piles up.
        let c = try config(["--collector.daemon.timeout=30s", "--collector.system-df.timeout=10m"])
        #expect(c?.collectors[DaemonCollector.config].timeout == .seconds(30))
        #expect(c?.collectors[SystemDFCollector.config].timeout == .seconds(600))
    }
}

@Suite struct ErrorDescription {
    @Test func formatNamesKeySourceAndReason() {
        let e = ConfigError(key: "web.listen_address", source: "config.yaml:12", reason: "expected host:port, got \"abc\"")
        #expect(e.description == "invalid configuration: web.listen_address (config.yaml:12): expected host:port, got \"abc\"")
    }
}

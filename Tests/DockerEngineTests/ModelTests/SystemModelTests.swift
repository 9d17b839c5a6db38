import DockerEngine
import Foundation
import Testing

@Suite("GET /version, GET /info, API versions, dates")
struct SystemModelTests {
    @Test func version2010() throws {
        let v = try DockerVersion.decode(try fixture("version_dockerd-20.10_api-1.41"))
        #expect(v.version == "20.10.24+dfsg1")
        #expect(v.apiVersion == "1.41")
        #expect(v.minAPIVersion == "1.12")
        #expect(v.api == APIVersion(major: 1, minor: 41))
        #expect(v.minAPI == APIVersion(major: 1, minor: 12))
        #expect(v.os == "linux" && v.arch == "amd64")
        #expect(v.gitCommit == "5d6db84")
        #expect(v.kernelVersion?.isEmpty == false)
        #expect(v.platformName == "")
        #expect(v.components.map(\.name) == ["Engine", "containerd", "runc", "docker-init"])
        #expect(v.components[1].version == "1.6.20~ds1")
    }

    @Test func version29() throws {
        let v = try DockerVersion.decode(try fixture("version_dockerd-29_api-1.52"))
        #expect(v.api == .v1_52)
        #expect(v.minAPI == .v1_44)
        #expect(v.platformName == "Docker Engine - Community")
        #expect(v.experimental == nil)
    }

    @Test func minimalVersion() throws {
        // A Docker-compatible engine sending only the two essentials.
        let v = try DockerVersion.decode(Data(#"{"Version":"5.0.0","ApiVersion":"1.41"}"#.utf8))
        #expect(v.minAPIVersion == nil && v.os == nil && v.kernelVersion == nil && v.gitCommit == nil)
        #expect(v.components.isEmpty)
    }

    @Test func versionErrorsNameTheField() {
        #expect {
            _ = try DockerVersion.decode(Data(#"{"Version":"29.0.0"}"#.utf8))
        } throws: { error in
            (error as? ModelDecodingError)?.path == "ApiVersion" && "\(error)".contains("GET /version")
        }
        #expect {
            _ = try DockerVersion.decode(Data(#"{"Version":"29.0.0","ApiVersion":1.52}"#.utf8))
        } throws: { error in
            (error as? ModelDecodingError)?.path == "ApiVersion"
        }
    }

    @Test func info2010() throws {
        let i = try DockerInfo.decode(try fixture("info_dockerd-20.10_api-1.41"))
        #expect(i.id == "UB3J:XP7N:DMGZ:2RMI:4U5P:JADO:NXUI:YDD2:JJBC:H5K6:MWJH:Y3QW")
        #expect(i.serverVersion == "20.10.24+dfsg1")
        #expect(i.driver == "overlay2")
        #expect(i.driverStatus.first == ["Backing Filesystem", "extfs"])
        #expect(i.dockerRootDir == "/tmp/dwfix/root")
        #expect(i.liveRestoreEnabled == false)
        #expect(i.containers == 5 && i.containersRunning == 1 && i.containersPaused == 1 && i.containersStopped == 3)
        #expect(i.images == 5)
        #expect(i.cgroupVersion == "1")
        #expect(i.warnings == [])  // null
        #expect(i.systemTime != nil)
        #expect(i.ncpu == 2)
        #expect(i.name == "vm")
    }

    @Test func info29() throws {
        let i = try DockerInfo.decode(try fixture("info_dockerd-29_api-1.52"))
        #expect(i.id == "8b5c1f3e-2a44-4d7e-9a51-0c1d2e3f4a5b")
        #expect(i.driver == "overlayfs")
        #expect(i.liveRestoreEnabled == true)
        #expect(i.containers == 14 && i.containersRunning == 9 && i.containersPaused == 1 && i.containersStopped == 4)
        #expect(i.memTotal == 67_108_864_000)
        #expect(i.cgroupDriver == "systemd" && i.cgroupVersion == "2")
        #expect(i.warnings.count == 2)
        // "2026-11-22T02:03:04.123456789+01:00"
        #expect(close(i.systemTime, utc(2026, 11, 22, 1, 3, 4, nanos: 123_456_789)))
    }

    @Test func infoErrorsNameTheField() {
        #expect {
            _ = try DockerInfo.decode(Data(#"{"DockerRootDir": [1, 2]}"#.utf8))
        } throws: { error in
            (error as? ModelDecodingError)?.path == "DockerRootDir"
        }
        #expect {
            _ = try DockerInfo.decode(Data(#"{"DriverStatus": [["a", 1]]}"#.utf8))
        } throws: { error in
            (error as? ModelDecodingError)?.path == "DriverStatus[0][1]"
        }
    }

    // MARK: APIVersion

    @Test func apiVersionParsingAndOrder() {
        #expect(APIVersion("1.41") == APIVersion(major: 1, minor: 41))
        #expect(APIVersion("v1.52")?.description == "1.52")
        #expect(APIVersion(" 1.9 ") == APIVersion(major: 1, minor: 9))
        for bad in ["", "1", "1.", ".41", "1.41.0", "1.x", "-1.2", "1.-2", "one.two", "1.4a", "1.٤"] {
            #expect(APIVersion(bad) == nil, "\(bad)")
        }
        #expect(APIVersion("1.9")! < APIVersion("1.41")!)  // numeric, not lexical
        #expect(APIVersion("1.52")! > APIVersion("1.41")!)
        #expect(APIVersion("2.0")! > APIVersion("1.99")!)
        #expect(min(APIVersion("1.99")!, .v1_52) == .v1_52)
        #expect("\(APIVersion.v1_41)" == "1.41")
    }

    // MARK: dates

    @Test(arguments: [
        ("2026-11-22T01:02:03.123456789Z", utc(2026, 11, 22, 1, 2, 3, nanos: 123_456_789)),
        ("2026-11-22T01:02:03Z", utc(2026, 11, 22, 1, 2, 3)),
        ("2026-11-22T01:02:03.5z", utc(2026, 11, 22, 1, 2, 3, nanos: 500_000_000)),
        ("2026-11-22T01:02:03.000000000+00:00", utc(2026, 11, 22, 1, 2, 3)),
        ("2021-03-04T10:00:00+01:00", utc(2021, 3, 4, 9, 0, 0)),
        ("2021-03-04T10:00:00-05:30", utc(2021, 3, 4, 15, 30, 0)),
        ("2024-02-29T23:59:59.9999999999Z", utc(2024, 2, 29, 23, 59, 59, nanos: 999_999_999)),  // > 9 digits
        ("1970-01-01T00:00:00Z", Date(timeIntervalSince1970: 0)),
        ("1969-12-31T23:59:59Z", Date(timeIntervalSince1970: -1)),
        ("2016-12-31T23:59:60Z", utc(2016, 12, 31, 23, 59, 59)),  // leap second, clamped
    ])
    func datesParse(text: String, expected: Date) throws {
        let parsed = try #require(DockerDate.parse(text))
        #expect(abs(parsed.timeIntervalSince(expected)) < 1e-6, "\(text)")
    }

    @Test(arguments: [
        "0001-01-01T00:00:00Z",  // Go's zero time: "never"
        "", "garbage", "2026-11-22", "2026-11-22T01:02:03", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T01:60:00Z", "2026-11-22T01:02:03.Z",
        "2026-11-22T01:02:03+0100", "2026-11-22T01:02:03Z trailing", "２０２６-11-22T01:02:03Z", "2026-11-22T01:02:03.12a4Z",
    ])
    func badOrZeroDatesAreNil(text: String) {
        #expect(DockerDate.parse(text) == nil, "\(text)")
    }

    @Test func buildCacheRecordSpellings() throws {
        let decoder = JSONDecoder()
        let modern = try decoder.decode(
            BuildCacheRecord.self,
            from: Data(
                #"""
                {"ID":"a"," Parents":["p1","p2"],"Type":"regular","Description":"d","InUse":true,"Shared":false,
                 "Size":10,"CreatedAt":"0001-01-01T00:00:00Z","LastUsedAt":null,"UsageCount":7}
                """#.utf8))
        #expect(
            modern
                == BuildCacheRecord(
                    id: "a", type: "regular", description: "d", inUse: true, shared: false,
                    size: 10, createdAt: nil, lastUsedAt: nil, usageCount: 7, parents: ["p1", "p2"]))
        let plain = try decoder.decode(BuildCacheRecord.self, from: Data(#"{"ID":"b","Parents":["q"],"Size":1}"#.utf8))
        #expect(plain.parents == ["q"])
        let old = try decoder.decode(BuildCacheRecord.self, from: Data(#"{"ID":"c","Parent":"r","Size":1}"#.utf8))
        #expect(old.parents == ["r"])
        let root = try decoder.decode(BuildCacheRecord.self, from: Data(#"{"ID":"d","Parent":"","Size":1}"#.utf8))
        #expect(root.parents == [])
        let badDate = try decoder.decode(BuildCacheRecord.self, from: Data(#"{"ID":"e","CreatedAt":"yesterday"}"#.utf8))
        #expect(badDate.createdAt == nil)  // unparsable timestamps are dropped, not fatal
    }
}

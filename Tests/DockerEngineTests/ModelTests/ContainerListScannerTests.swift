@testable import DockerEngine
import FakeDockerEngine
import Foundation
import Testing

/// The purpose-built list scanner against Foundation's `JSONDecoder` (the reference), on a list
/// captured from Debian's dockerd 20.10 and on the benchmark's synthetic host, plus its reuse
/// cache and its errors.
@Suite struct ContainerListScannerTests {
    /// Captured with `curl --unix-socket … /v1.41/containers/json?all=1` from a private 20.10
    /// daemon: paused, exited (3), created, running without health, unhealthy and healthy
    /// containers; a label value with a quote, a backslash, a tab, é and ☃ (Go escapes some of
    /// them as \u sequences).
    static let captured = "containers_dockerd-20.10_api-1.41"

    func decode(_ bytes: [UInt8]) throws -> [ContainerSummary] {
        var cache = ContainerListCache()
        return try ContainerListScanner.decode(bytes, cache: &cache)
    }

    @Test func capturedListMatchesJSONDecoder() throws {
        let data = try fixture(Self.captured)
        let scanned = try decode(Array(data))
        let reference = try ContainerSummary.decodeListWithJSONDecoder(data)
        #expect(scanned == reference)
        #expect(scanned.count == 6)
        let byName = Dictionary(uniqueKeysWithValues: scanned.map { ($0.name, $0) })
        #expect(byName["web-1"]?.health == "healthy")
        #expect(byName["db-1"]?.health == "unhealthy")
        #expect(byName["plain"]?.health == "none")
        #expect(byName["paused-1"]?.state == "paused")
        #expect(byName["paused-1"]?.health == "none")
        #expect(byName["exited-1"]?.state == "exited")
        #expect(byName["created-only"]?.state == "created")
        #expect(byName["web-1"]?.labels["note"] == "quote \" backslash \\ tab\t é ☃")
        #expect(byName["web-1"]?.labels["com.docker.compose.project"] == "shop")
        #expect(byName["web-1"]?.imageID.hasPrefix("sha256:") == true)
        #expect((byName["web-1"]?.created ?? 0) > 1_700_000_000)
    }

    @Test func syntheticHostListMatchesJSONDecoder() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("scanner-\(getpid()).sock").path
        let engine = try SyntheticDockerEngine(socketPath: socket, containers: 300)
        defer { engine.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(10), pinnedVersion: APIVersion("1.41"))
        let body = try client.get("/containers/json", query: [("all", "1")], endpointName: "containers_list")
        let scanned = try decode(body)
        #expect(scanned.count == 300)
        #expect(scanned == (try ContainerSummary.decodeListWithJSONDecoder(Data(body))))
        #expect(Set(scanned.map(\.health)).isSuperset(of: ["healthy", "none"]))
    }

    /// Through the client: the transport compares the list with the last one as it arrives, so
    /// the same list again is recognised without a copy or a scan, and a changed one is scanned.
    /// A decode with the same cache outside the client makes the kept bytes stale: not trusted.
    @Test func theClientRecognisesARepeatedListByComparingIt() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("scanner-repeat-\(getpid()).sock").path
        let engine = try SyntheticDockerEngine(socketPath: socket, containers: 50)
        defer { engine.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(10), pinnedVersion: APIVersion("1.41"))
        var cache = ContainerListCache()
        let first = try client.listContainers(reusing: &cache)
        #expect(!cache.lastDelta.repeatsPrevious)
        let second = try client.listContainers(reusing: &cache)
        #expect(second == first)
        #expect(cache.lastDelta.repeatsPrevious && cache.reusedLastTime == 50)
        engine.churn(creates: 1, removes: 0, flaps: 2, restarts: 0)
        let third = try client.listContainers(reusing: &cache)
        #expect(third.count == 51)
        #expect(!cache.lastDelta.repeatsPrevious)
        let reference = try ContainerSummary.decodeListWithJSONDecoder(Data(try client.get("/containers/json", query: [("all", "1")], endpointName: "t")))
        #expect(third == reference)

        // Someone decodes another list with the same cache: the next answer, equal to the bytes
        // the client kept, must be decoded, not taken for the other list.
        _ = try ContainerListScanner.decode(Array("[]".utf8), cache: &cache)
        let fourth = try client.listContainers(reusing: &cache)
        #expect(fourth == reference)
        #expect(!cache.lastDelta.repeatsPrevious)
    }

    /// A cache that does not keep the answer's bytes holds none after a list, and still
    /// recognises a repeated list (entry by entry) and decodes a changed one like the reference.
    @Test func aCacheWithoutTheAnswerBytesGivesTheSameLists() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("scanner-nobytes-\(getpid()).sock").path
        let engine = try SyntheticDockerEngine(socketPath: socket, containers: 50)
        defer { engine.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(10), pinnedVersion: APIVersion("1.41"))
        var kept = ContainerListCache(), dropped = ContainerListCache(keepsAnswerBytes: false)
        #expect(try client.listContainers(reusing: &dropped) == (try client.listContainers(reusing: &kept)))
        #expect(dropped.takeReceiveBuffer().bytes.isEmpty)
        #expect(!kept.takeReceiveBuffer().bytes.isEmpty)
        let first = try client.listContainers(reusing: &dropped)
        #expect(dropped.lastDelta.repeatsPrevious && dropped.reusedLastTime == 50)
        engine.churn(creates: 1, removes: 0, flaps: 2, restarts: 0)
        let changed = try client.listContainers(reusing: &dropped)
        #expect(changed.count == 51 && changed != first && !dropped.lastDelta.repeatsPrevious)
        let reference = try ContainerSummary.decodeListWithJSONDecoder(Data(try client.get("/containers/json", query: [("all", "1")], endpointName: "t")))
        #expect(changed == reference)
        #expect(dropped.takeReceiveBuffer().bytes.isEmpty)
    }

    @Test func unchangedEntriesAreReusedAndChangedOnesDecoded() throws {
        let data = try fixture(Self.captured)
        var cache = ContainerListCache()
        let first = try ContainerListScanner.decode(Array(data), cache: &cache)
        #expect(cache.reusedLastTime == 0)
        #expect(cache.count == 6)
        let second = try ContainerListScanner.decode(Array(data), cache: &cache)
        #expect(second == first)
        #expect(cache.reusedLastTime == 6)

        // One container turns unhealthy: its bytes change, so only it is decoded again.
        var text = String(decoding: data, as: UTF8.self)
        let range = try #require(text.range(of: "(healthy)"))
        text.replaceSubrange(range, with: "(unhealthy)")
        let third = try ContainerListScanner.decode(Array(text.utf8), cache: &cache)
        #expect(cache.reusedLastTime == 5)
        #expect(third.first { $0.name == "web-1" }?.health == "unhealthy")
        #expect(third == (try ContainerSummary.decodeListWithJSONDecoder(Data(text.utf8))))

        // A container vanishes: the cache forgets it.
        _ = try ContainerListScanner.decode(Array("[]".utf8), cache: &cache)
        #expect(cache.count == 0)
    }

    @Test func wrongTypesNameTheEntryAndField() {
        func error(_ json: String) -> ModelDecodingError? {
            do {
                _ = try decode(Array(json.utf8))
                return nil
            } catch let e as ModelDecodingError {
                return e
            } catch {
                return nil
            }
        }
        #expect(error(#"[{"Id":"a"},{"Id":"b","Names":"x"}]"#)?.path == "[1].Names")
        #expect(error(#"[{"Id":"a","Labels":{"k":1}}]"#)?.path == "[0].Labels.k")
        #expect(error(#"[{"Names":["/a"]}]"#)?.path == "[0].Id")
        #expect(error(#"[{"Names":["/a"]}]"#)?.reason == "required field missing")
        #expect(error(#"[{"Id":"a","Created":1.5}]"#)?.path == "[0].Created")
        #expect(error(#"[{"Id":"a","Names":["/a",2]}]"#)?.path == "[0].Names[1]")
        #expect(error(#"{"message":"no"}"#)?.path == "")
        #expect(error("") != nil)
        #expect(error(#"[{"Id":"a"}] x"#) != nil)
        #expect(error(#"[{"Id":"a","Other":{"x":[1,2}}]"#) != nil)
        // What JSONDecoder accepts for these fields, the scanner accepts too.
        #expect((try? decode(Array(#"[{"Id":"a","Created":1e3,"Names":null,"Labels":null}]"#.utf8)))?.first?.created == 1000)
    }

    /// With label keys, an entry keeps only those labels and is otherwise what the full decode
    /// gives; the skipped values are still checked, so every input (prefixes and mutations of a
    /// real list) fails or succeeds exactly as without keys, with the same error.
    @Test func keptLabelKeysDropTheOtherLabelsButCheckThemAsBefore() throws {
        let keys: Set<String> = ["com.docker.compose.project", "note", "absent"]
        func both(_ bytes: [UInt8]) -> (Result<[ContainerSummary], ModelDecodingError>, Result<[ContainerSummary], ModelDecodingError>) {
            var all = ContainerListCache(), kept = ContainerListCache(labelKeys: keys)
            return (
                Result { () throws(ModelDecodingError) in try ContainerListScanner.decode(bytes, cache: &all) },
                Result { () throws(ModelDecodingError) in try ContainerListScanner.decode(bytes, cache: &kept) }
            )
        }
        func agree(_ bytes: [UInt8]) -> Bool {
            switch both(bytes) {
            case (.success(let all), .success(let kept)):
                let expected = all.map { entry -> ContainerSummary in
                    var entry = entry
                    entry.labels = entry.labels.filter { keys.contains($0.key) }
                    return entry
                }
                return kept == expected
            case (.failure(let a), .failure(let b)): return a == b
            default: return false
            }
        }
        let data = Array(try fixture(Self.captured))
        let kept = try #require(try? both(data).1.get())
        let web = try #require(kept.first { $0.name == "web-1" })
        #expect(web.labels == ["com.docker.compose.project": "shop", "note": "quote \" backslash \\ tab\t é ☃"])
        #expect(kept.contains { $0.labels.isEmpty })
        #expect(agree(data))
        for length in stride(from: 0, to: data.count, by: 7) { #expect(agree(Array(data[..<length]))) }
        // Bad strings and values among the skipped labels fail as they did.
        for json in [
            #"[{"Id":"a","Labels":{"k":1}}]"#, #"[{"Id":"a","Labels":{"k":"\q"}}]"#, #"[{"Id":"a","Labels":{"k":"\u12"}}]"#,
            "[{\"Id\":\"a\",\"Labels\":{\"k\":\"a\u{01}b\"}}]", #"[{"Id":"a","Labels":{"k":"open}}]"#,
            #"[{"Id":"a","Labels":{"k":"\ud800\u00e9 \/\b\n","note":"x"}}]"#,
        ] {
            #expect(agree(Array(json.utf8)), "\(json)")
        }
        #expect((try? both(Array(#"[{"Id":"a","Labels":{"k":1}}]"#.utf8)).1.get()) == nil)
        var seed: UInt64 = 0x1AB3
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        let alphabet = Array(#"{}[]",:\"0-9eE.ntfu \#u{00}é"#.utf8)
        for _ in 0..<400 {
            var mutated = data
            for _ in 0..<(1 + next() % 3) { mutated[next() % mutated.count] = alphabet[next() % alphabet.count] }
            #expect(agree(mutated))
        }
    }

    /// Every prefix of a real list and a few hundred seeded byte mutations: the scanner never
    /// crashes, and whenever the reference decoder accepts the input, both agree.
    @Test func truncatedAndMutatedInputsFailCleanlyOrAgreeWithTheReference() throws {
        let data = Array(try fixture(Self.captured))
        for length in stride(from: 0, to: data.count, by: 7) {
            #expect(throws: ModelDecodingError.self) { try decode(Array(data[..<length])) }
        }
        var seed: UInt64 = 0x5EED
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        let alphabet = Array(#"{}[]",:\"0-9eE.ntfu \#u{00}é"#.utf8)
        var agreed = 0
        for _ in 0..<400 {
            var mutated = data
            for _ in 0..<(1 + next() % 3) { mutated[next() % mutated.count] = alphabet[next() % alphabet.count] }
            let scanned = try? decode(mutated)
            if let reference = try? ContainerSummary.decodeListWithJSONDecoder(Data(mutated)) {
                #expect(scanned == reference)
                agreed += 1
            }
        }
        #expect(agreed > 0)
    }

    /// Values many containers repeat are held once: equal images, image IDs, status texts and
    /// label sets of different entries share their storage (what keeps a thousand containers of a
    /// few stacks from holding a thousand copies), and decoding still equals the reference.
    @Test func repeatedValuesAreSharedBetweenEntries() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("scanner-intern-\(getpid()).sock").path
        let engine = try SyntheticDockerEngine(socketPath: socket, containers: 300)
        defer { engine.stop() }
        let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(10), pinnedVersion: APIVersion("1.41"))
        let body = try client.get("/containers/json", query: [("all", "1")], endpointName: "t")
        var cache = ContainerListCache(labelKeys: ["com.docker.compose.project", "com.docker.compose.service"])
        let list = try ContainerListScanner.decode(body, cache: &cache)

        func storage(_ s: String) -> UnsafeRawPointer? {
            var copy = s
            return copy.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        func storage(_ d: [String: String]) -> UInt { unsafeBitCast(d, to: UInt.self) }
        var checked = (image: 0, imageID: 0, status: 0, labels: 0)
        var firstOf: [String: ContainerSummary] = [:], firstLabels: [[String: String]: ContainerSummary] = [:]
        for c in list {
            for (value, kind) in [(c.image, "image"), (c.imageID, "imageID"), (c.status, "status")] where value.utf8.count > 15 {
                if let earlier = firstOf[kind + "\u{0}" + value] {
                    let other = kind == "image" ? earlier.image : kind == "imageID" ? earlier.imageID : earlier.status
                    #expect(storage(other) == storage(value), "\(kind) \(value) is held twice")
                    switch kind {
                    case "image": checked.image += 1
                    case "imageID": checked.imageID += 1
                    default: checked.status += 1
                    }
                } else {
                    firstOf[kind + "\u{0}" + value] = c
                }
            }
            if !c.labels.isEmpty {
                if let earlier = firstLabels[c.labels] {
                    #expect(storage(earlier.labels) == storage(c.labels), "labels \(c.labels) are held twice")
                    checked.labels += 1
                } else {
                    firstLabels[c.labels] = c
                }
            }
        }
        #expect(checked.image > 100 && checked.imageID > 100 && checked.status > 10, "\(checked)")

        // Replicas of one compose service carry the same labels (the synthetic host has one
        // container per service): one dictionary for all three.
        let entry = { (n: Int) in
            #"{"Id":"\#(String(repeating: String(n), count: 64))","Names":["/shop-web-\#(n)"],"Image":"shop/web:1","#
                + #""Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"web","com.docker.compose.container-number":"\#(n)"},"#
                + #""State":"running","Status":"Up 2 hours"}"#
        }
        var replicas = ContainerListCache(labelKeys: ["com.docker.compose.project", "com.docker.compose.service"])
        let three = try ContainerListScanner.decode(Array(("[" + (1...3).map(entry).joined(separator: ",") + "]").utf8), cache: &replicas)
        #expect(three.count == 3 && three[0].labels == ["com.docker.compose.project": "shop", "com.docker.compose.service": "web"])
        #expect(storage(three[0].labels) == storage(three[1].labels) && storage(three[1].labels) == storage(three[2].labels))
        let reference = try ContainerSummary.decodeListWithJSONDecoder(Data(body)).map { entry -> ContainerSummary in
            var e = entry
            e.labels = e.labels.filter { ["com.docker.compose.project", "com.docker.compose.service"].contains($0.key) }
            return e
        }
        #expect(list == reference)
    }
}

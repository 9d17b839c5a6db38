import CurlTransport
import DockerEngine
import FakeDockerEngine
import Foundation
import Testing

/// The scanner's reuse of the previous list (entries checked against the previous entry in the
/// same place by hash, then by a table of all previous entries) against a decode from scratch,
/// over long random edit sequences, and what it reports as unchanged.
@Suite("Container list: reuse of the previous answer")
struct ContainerListDeltaTests {
    /// A small deterministic generator, so a failure names a reproducible step.
    struct Generator {
        var seed: UInt64
        mutating func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33) % bound
        }
    }

    /// One list entry as Docker writes it, with nesting the scanner must skip and a Status whose
    /// minute count changes without changing the entry's length.
    static func entry(_ serial: Int, minutes: Int, health: String, state: String = "running") -> String {
        let id = String(repeating: String(format: "%08x", serial &* 2_654_435_761 & 0xFFFF_FFFF), count: 8)
        return #"{"Id":"\#(id)","Names":["/app-\#(serial)"],"Image":"nginx:1.\#(serial % 7)","ImageID":"sha256:\#(id)","#
            + #""Command":"nginx -g 'daemon off;'","Created":\#(1_700_000_000 + serial),"Ports":[{"PrivatePort":80,"Type":"tcp"}],"#
            + #""Labels":{"com.docker.compose.project":"p\#(serial % 5)","note":"a \"quoted\" \\ value"},"State":"\#(state)","#
            + #""Status":"Up \#(minutes) minutes (\#(health))","HostConfig":{"NetworkMode":"none"},"#
            + #""NetworkSettings":{"Networks":{"none":{"IPAMConfig":null,"Links":null,"Aliases":null}}},"Mounts":[]}"#
    }

    static func commonPrefix(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    }

    struct Host {
        var entries: [(serial: Int, minutes: Int, health: String, state: String)] = []
        var separator = ","
        var text: [String] { entries.map { ContainerListDeltaTests.entry($0.serial, minutes: $0.minutes, health: $0.health, state: $0.state) } }
        var body: [UInt8] { Array(("[" + text.joined(separator: separator) + "]\n").utf8) }
    }

    @Test func randomEditsDecodeLikeAFreshDecodeAndReportUnchangedEntriesExactly() throws {
        var random = Generator(seed: 0xD0C4E7)
        var host = Host()
        for serial in 0..<40 { host.entries.append((serial, 5, "healthy", "running")) }
        var nextSerial = 40
        var cache = ContainerListCache()
        var previousText: Set<String> = []
        var previousOrder: [String]?
        var previousBody: [UInt8] = []
        var previousIdentity: UInt64?
        var previousDecoded: [ContainerSummary] = []
        var reusedSomething = false
        for step in 0..<300 {
            // 0-3 edits per step; some steps change nothing at all.
            var moved = false
            for _ in 0..<random.next(4) where !host.entries.isEmpty {
                let k = random.next(host.entries.count)
                switch random.next(7) {
                case 0: host.entries[k].minutes = (host.entries[k].minutes + 1) % 10  // same length
                case 1: host.entries[k].health = host.entries[k].health == "healthy" ? "unhealthy" : "healthy"
                case 2: host.entries[k].state = host.entries[k].state == "running" ? "exited" : "running"
                case 3:
                    host.entries.insert((nextSerial, 0, "starting", "running"), at: k)
                    nextSerial += 1
                case 4: host.entries.remove(at: k)
                case 5:
                    let other = random.next(host.entries.count)
                    moved = moved || other != k
                    host.entries.swapAt(k, other)
                default: host.separator = host.separator == "," ? ", " : ","
                }
            }
            let body = host.body
            // Half the steps say what the client's comparison would have found (the same bytes
            // as the last list): a repeated list then skips the scan, and must decode the same.
            let repeats = step % 2 == 0 && body == previousBody
            // Some steps say how far the bytes equal the last list's, as the client's comparison
            // does: entries inside that prefix are taken over unread.
            let prefix = step % 3 == 1 ? Self.commonPrefix(body, previousBody) : 0
            let decoded = try ContainerListScanner.decode(body, cache: &cache, repeatsPreviousBytes: repeats, equalPrefixLength: prefix)
            previousBody = body
            var empty = ContainerListCache()
            let reference = try ContainerListScanner.decode(body, cache: &empty)
            #expect(decoded == reference, "step \(step)")
            #expect(decoded == (try ContainerSummary.decodeListWithJSONDecoder(Data(body))), "step \(step)")

            let delta = cache.lastDelta
            let expected = host.text.map { previousText.contains($0) }
            // Taken over means byte for byte a previous entry; entries moved may be decoded
            // afresh instead, but when nothing moved every repeated entry is taken over.
            #expect(zip(delta.unchanged, expected).allSatisfy { !$0 || $1 }, "step \(step): an entry taken over that changed")
            if !moved { #expect(delta.unchanged == expected, "step \(step): unchanged flags") }
            // Dropped: the previous entries not taken over, exactly.
            var remaining = previousDecoded
            for (n, summary) in decoded.enumerated() where delta.unchanged[n] {
                if let at = remaining.firstIndex(of: summary) { remaining.remove(at: at) }
            }
            #expect(delta.dropped.count == remaining.count && Set(delta.dropped.map(\.id)) == Set(remaining.map(\.id)), "step \(step): dropped")
            previousDecoded = decoded
            #expect(delta.previous == previousIdentity, "step \(step): the delta names the list before it")
            #expect(delta.repeatsPrevious == (host.text == previousOrder), "step \(step): repeats the previous list")
            #expect(delta.current != 0 && delta.current != previousIdentity)
            #expect(cache.reusedLastTime == delta.unchanged.filter { $0 }.count, "step \(step)")
            reusedSomething = reusedSomething || cache.reusedLastTime > 0
            previousText = Set(host.text)
            previousOrder = host.text
            previousIdentity = delta.current
        }
        #expect(reusedSomething)
    }

    /// The transport's comparing receive (what lets the client skip a repeated list): an equal
    /// answer is reported unchanged; a different, shorter or longer one ends up in the buffer
    /// whole and is not. Bodies of 300 KB arrive in many pieces, so differences fall inside and
    /// across pieces.
    @Test func comparingReceiveFindsEveryDifferenceAndLeavesTheNewAnswerInTheBuffer() throws {
        let fake = try FakeDockerEngine()
        defer { fake.stop() }
        let session = CurlSession(endpoint: .unixSocket(path: fake.socketPath))
        var random = Generator(seed: 99)
        let base = String((0..<300_000).map { _ in Character(UnicodeScalar(UInt8(97 + random.next(26)))) })
        func fetch(_ body: String, previous: [UInt8]) throws -> (body: [UInt8], unchanged: Bool) {
            let (got, unchanged, prefix) = try fetchWithPrefix(body, previous: previous)
            #expect(prefix == Self.commonPrefix(got, previous), "the equal prefix reported is where the first difference is")
            return (got, unchanged)
        }
        func fetchWithPrefix(_ body: String, previous: [UInt8]) throws -> (body: [UInt8], unchanged: Bool, prefix: Int) {
            fake.set("/list", .raw(status: 200, body: body, contentType: "application/json", headers: []))
            var request = TransportRequest(target: "/list", connectTimeout: .seconds(2), totalTimeout: .seconds(10))
            request.compareWithPrevious = true
            request.receiveBufferSize = 16 << 10
            var buffer = previous
            let response = try session.perform(request, receivingInto: &buffer)
            return (response.body, response.bodyUnchanged, response.equalPrefixLength)
        }
        let first = try fetch(base, previous: [])
        #expect(first.body == Array(base.utf8) && !first.unchanged)
        let same = try fetch(base, previous: first.body)
        #expect(same.body == first.body && same.unchanged)
        for _ in 0..<20 {
            var changed = Array(base.utf8)
            changed[random.next(changed.count)] = UInt8(ascii: "#")
            let text = String(decoding: changed, as: UTF8.self)
            let got = try fetch(text, previous: first.body)
            #expect(got.body == changed && !got.unchanged)
        }
        let shorter = try fetch(String(base.dropLast(1000)), previous: first.body)
        #expect(shorter.body == Array(base.utf8.dropLast(1000)) && !shorter.unchanged)
        let longer = try fetch(base + "tail", previous: first.body)
        #expect(longer.body == Array((base + "tail").utf8) && !longer.unchanged)
        let empty = try fetch("", previous: [])
        #expect(empty.body.isEmpty && empty.unchanged)  // "equal" to an empty previous: callers pass one only after a decode
    }

    /// The shapes a host's list changes by, and how much of the previous list each takes over
    /// (what a round on a changing host costs depends on it): creates at the front (Docker lists
    /// newest first), a block of removals, the last entry moved into a removed one's place (the
    /// synthetic host does that), and a prefix the transport found equal. Each decodes like a
    /// fresh decode, and `dropped` is exactly what was not taken over.
    @Test func commonEditsTakeOverEverythingThatRepeats() throws {
        var host = Host()
        for serial in 0..<50 { host.entries.append((serial, 5, "healthy", "running")) }
        var cache = ContainerListCache()
        var body = host.body
        _ = try ContainerListScanner.decode(body, cache: &cache)
        func step(_ name: String, taken: Int, dropped: Int, prefix: Bool = false) throws {
            let previous = body
            body = host.body
            let decoded = try ContainerListScanner.decode(
                body, cache: &cache, equalPrefixLength: prefix ? Self.commonPrefix(body, previous) : 0)
            var empty = ContainerListCache()
            #expect(decoded == (try ContainerListScanner.decode(body, cache: &empty)), "\(name): decodes like a fresh decode")
            #expect(cache.reusedLastTime == taken, "\(name): entries taken over")
            #expect(cache.lastDelta.dropped.count == dropped, "\(name): entries dropped")
        }
        host.entries.insert((100, 0, "starting", "running"), at: 0)
        host.entries.insert((101, 0, "starting", "running"), at: 0)
        try step("two created", taken: 50, dropped: 0)
        host.entries.removeSubrange(10..<22)
        try step("twelve removed in a row", taken: 40, dropped: 12)
        let last = host.entries.removeLast()
        host.entries[7] = last
        try step("the last moved into a removed one's place", taken: 38, dropped: 2)
        host.entries[30].health = "unhealthy"
        try step("one changed, after an equal prefix", taken: 38, dropped: 1, prefix: true)
        host.entries.swapAt(3, 35)
        try step("two swapped", taken: 37, dropped: 2)
    }

    /// `ContainerSummary.positions(of:in:)` reads the list's references without touching the
    /// entries: it must find exactly the entries with those storages, in order.
    @Test func positionsOfStoragesAreFoundByIdentity() throws {
        var host = Host()
        for serial in 0..<30 { host.entries.append((serial, 5, "healthy", "running")) }
        var cache = ContainerListCache()
        let list = try ContainerListScanner.decode(host.body, cache: &cache)
        for picks in [[4], [0, 29], [3, 9, 12, 15, 18, 21, 24, 27, 28, 1]] {  // the last: more than 8, a set
            let wanted = Set(picks.map { list[$0].storageIdentity })
            #expect(ContainerSummary.positions(of: wanted, in: list) == picks.sorted())
        }
        // An equal value with its own storage is another entry.
        var empty = ContainerListCache()
        let again = try ContainerListScanner.decode(host.body, cache: &empty)
        #expect(ContainerSummary.positions(of: [again[4].storageIdentity], in: list).isEmpty)
        #expect(ContainerSummary.positions(of: [], in: list).isEmpty)
    }

    @Test func aRepeatedAnswerIsTheLastListAgainWithoutAScan() throws {
        var cache = ContainerListCache()
        var host = Host()
        host.entries = [(1, 1, "healthy", "running"), (2, 1, "healthy", "running")]
        let first = try ContainerListScanner.decode(host.body, cache: &cache)
        let again = try ContainerListScanner.decode(host.body, cache: &cache, repeatsPreviousBytes: true)
        #expect(again == first)
        #expect(cache.lastDelta.repeatsPrevious && cache.lastDelta.unchanged == [true, true])
    }

    /// A warm cache never lets a broken answer through: every mutation of a list decoded just
    /// before either fails as it does with an empty cache or decodes to the same result.
    @Test func mutationsAfterAWarmCacheFailOrAgreeWithAColdDecode() throws {
        var host = Host()
        for serial in 0..<12 { host.entries.append((serial, 3, "healthy", "running")) }
        let original = host.body
        var random = Generator(seed: 0xBAD5EED)
        let alphabet = Array(#"{}[]",:\"0-9eE.ntfu "#.utf8)
        var failed = 0, agreed = 0
        for _ in 0..<600 {
            var cache = ContainerListCache()
            _ = try ContainerListScanner.decode(original, cache: &cache)
            var mutated = original
            for _ in 0..<(1 + random.next(3)) { mutated[random.next(mutated.count)] = alphabet[random.next(alphabet.count)] }
            if random.next(4) == 0 { mutated.removeSubrange(random.next(mutated.count)..<mutated.count) }
            var empty = ContainerListCache()
            let warm = try? ContainerListScanner.decode(mutated, cache: &cache)
            let cold = try? ContainerListScanner.decode(mutated, cache: &empty)
            #expect(warm == cold)
            if cold == nil { failed += 1 } else { agreed += 1 }
        }
        #expect(failed > 0 && agreed > 0)
    }

    @Test func theFirstDecodeHasNoPreviousAndAnEmptyListReusesNothing() throws {
        var cache = ContainerListCache()
        _ = try ContainerListScanner.decode(Array("[]".utf8), cache: &cache)
        #expect(cache.lastDelta.previous == nil)
        #expect(cache.lastDelta.unchanged.isEmpty)
        var host = Host()
        host.entries = [(1, 1, "healthy", "running"), (2, 1, "healthy", "running")]
        _ = try ContainerListScanner.decode(host.body, cache: &cache)
        #expect(cache.lastDelta.unchanged == [false, false])
        #expect(cache.lastDelta.previous != nil)
        _ = try ContainerListScanner.decode(host.body, cache: &cache)
        #expect(cache.lastDelta.unchanged == [true, true])
    }
}

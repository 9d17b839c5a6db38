import CurlTransport
import DockerEngine
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
        var previousIdentity: UInt64?
        var reusedSomething = false
        for step in 0..<300 {
            // 0-3 edits per step; some steps change nothing at all.
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
                case 5: host.entries.swapAt(k, random.next(host.entries.count))
                default: host.separator = host.separator == "," ? ", " : ","
                }
            }
            let body = host.body
            // Half the steps pass the digest the transport would have taken (fed in random
            // pieces): a repeated list then skips the scan, and must still decode the same.
            let digest: UInt64? = step % 2 == 0 ? Self.digest(body, pieces: 1 + random.next(5), random: &random) : nil
            let decoded = try ContainerListScanner.decode(body, cache: &cache, digest: digest)
            var empty = ContainerListCache()
            let reference = try ContainerListScanner.decode(body, cache: &empty)
            #expect(decoded == reference, "step \(step)")
            #expect(decoded == (try ContainerSummary.decodeListWithJSONDecoder(Data(body))), "step \(step)")

            let delta = cache.lastDelta
            let expected = host.text.map { previousText.contains($0) }
            #expect(delta.unchanged == expected, "step \(step): unchanged flags")
            #expect(delta.previous == previousIdentity, "step \(step): the delta names the list before it")
            #expect(delta.repeatsPrevious == (host.text == previousOrder), "step \(step): repeats the previous list")
            #expect(delta.current != 0 && delta.current != previousIdentity)
            #expect(cache.reusedLastTime == expected.filter { $0 }.count, "step \(step)")
            reusedSomething = reusedSomething || cache.reusedLastTime > 0
            previousText = Set(host.text)
            previousOrder = host.text
            previousIdentity = delta.current
        }
        #expect(reusedSomething)
    }

    static func digest(_ bytes: [UInt8], pieces: Int, random: inout Generator) -> UInt64 {
        var digest = BodyDigest()
        var start = 0
        for k in 0..<pieces {
            let end = k == pieces - 1 ? bytes.count : min(bytes.count, start + random.next(max(1, bytes.count / pieces * 2)))
            bytes[start..<end].withUnsafeBytes { digest.update($0) }
            start = end
        }
        return digest.value
    }

    @Test func theDigestIgnoresHowTheBodyWasSplitAndSeesEveryByte() {
        var random = Generator(seed: 42)
        var host = Host()
        for serial in 0..<20 { host.entries.append((serial, 2, "healthy", "running")) }
        let body = host.body
        let whole = Self.digest(body, pieces: 1, random: &random)
        for pieces in 2..<40 { #expect(Self.digest(body, pieces: pieces, random: &random) == whole, "\(pieces) pieces") }
        var seen: Set<UInt64> = [whole]
        for _ in 0..<2000 {
            var changed = body
            let at = random.next(changed.count)
            changed[at] = changed[at] &+ UInt8(1 + random.next(255))
            let d = Self.digest(changed, pieces: 1 + random.next(4), random: &random)
            #expect(d != whole, "a changed byte at \(at) left the digest unchanged")
            seen.insert(d)
        }
        #expect(seen.count > 1900)
        // Same bytes shifted by one (a length change) and the empty body.
        #expect(Self.digest(Array(body.dropLast()), pieces: 1, random: &random) != whole)
        #expect(Self.digest([], pieces: 1, random: &random) != whole)
    }

    @Test func aRepeatedAnswerWithTheSameDigestIsNotScannedButADifferentLengthIs() throws {
        var cache = ContainerListCache()
        var host = Host()
        host.entries = [(1, 1, "healthy", "running"), (2, 1, "healthy", "running")]
        let first = try ContainerListScanner.decode(host.body, cache: &cache, digest: 7)
        let again = try ContainerListScanner.decode(host.body, cache: &cache, digest: 7)
        #expect(again == first)
        #expect(cache.lastDelta.repeatsPrevious && cache.lastDelta.unchanged == [true, true])
        // A digest that matches but a length that does not: decoded, and a broken answer fails.
        #expect(throws: ModelDecodingError.self) { try ContainerListScanner.decode(Array(host.body.dropLast(3)), cache: &cache, digest: 7) }
        // After a failure the digest is forgotten: the same digest with the right bytes is scanned.
        host.entries[0].health = "unhealthy"
        let changed = try ContainerListScanner.decode(host.body, cache: &cache, digest: 7)
        #expect(changed.first?.health == "unhealthy")
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

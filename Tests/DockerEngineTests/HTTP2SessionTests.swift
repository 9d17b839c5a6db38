import Foundation
import HTTP2Session
import Testing

/// The nghttp2 session against a scripted peer: the server's frames written by hand (frame header:
/// 3-byte length, type, flags, 4-byte stream id; header blocks in HPACK).
@Suite("HTTP/2 session (scripted peer)")
struct HTTP2SessionTests {
    /// Plays the server: answers the client's first bytes with `answer`, then says nothing more
    /// (a timeout at the deadline) or closes (`closeAfter`).
    final class ScriptedPeer: HTTP2ByteStream {
        var answer: [UInt8]
        var closeAfter: Bool
        var sent: [UInt8] = []
        var receives = 0

        init(answer: [UInt8], closeAfter: Bool = false) {
            self.answer = answer
            self.closeAfter = closeAfter
        }

        func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) throws(HTTP2Error) { sent += bytes }

        func receive(upTo limit: Int, before deadline: ContinuousClock.Instant) throws(HTTP2Error) -> [UInt8] {
            receives += 1
            if !answer.isEmpty {
                let piece = Array(answer.prefix(limit))
                answer.removeFirst(piece.count)
                return piece
            }
            if closeAfter { return [] }
            let left = deadline - ContinuousClock.now
            if left > .zero { Thread.sleep(forTimeInterval: Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18) }
            throw .timedOut("scripted silence")
        }
    }

    static func frame(_ type: UInt8, flags: UInt8, stream: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0, UInt8(payload.count >> 8), UInt8(payload.count & 0xff), type, flags, 0, 0, 0, stream] + payload
    }
    static let settings = frame(4, flags: 0, stream: 0, [])
    static let settingsAck = frame(4, flags: 1, stream: 0, [])
    /// HEADERS, END_HEADERS: `:status: 200` (HPACK static index 8).
    static let status200 = frame(1, flags: 4, stream: 1, [0x88])
    /// HEADERS, END_STREAM | END_HEADERS: `grpc-status: 0` as a literal without indexing.
    static let trailers = frame(1, flags: 5, stream: 1, [0x00, 11] + Array("grpc-status".utf8) + [1] + Array("0".utf8))
    static func data(_ bytes: [UInt8], end: Bool = false) -> [UInt8] { frame(0, flags: end ? 1 : 0, stream: 1, bytes) }

    static let request = HTTP2Request(authority: "docker", path: "/svc/Method", headers: [("te", "trailers")], body: [0, 0, 0, 0, 0])

    func limits(_ seconds: Double = 2) -> HTTP2Limits {
        HTTP2Limits(deadline: .now + .milliseconds(Int(seconds * 1000)), idleTimeout: .milliseconds(Int(seconds * 1000)))
    }

    @Test func aWholeExchange() throws {
        let peer = ScriptedPeer(answer: Self.settings + Self.settingsAck + Self.status200 + Self.data([1, 2, 3]) + Self.data([4]) + Self.trailers)
        var body: [UInt8] = []
        let response = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: limits()) { piece in
            body += piece
            return true
        }
        #expect(response.status == 200)
        #expect(response.trailers["grpc-status"] == "0")
        #expect(!response.stoppedByConsumer)
        #expect(body == [1, 2, 3, 4])
        // The client's first bytes are the connection preface, then its SETTINGS frame.
        #expect(peer.sent.starts(with: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)))
        #expect(peer.sent[24 + 3] == 4)
    }

    @Test func aSilentPeerTimesOutAtTheDeadline() {
        let peer = ScriptedPeer(answer: Self.settings + Self.status200)
        let start = ContinuousClock.now
        #expect(throws: HTTP2Error.self) {
            _ = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: limits(0.3)) { _ in true }
        }
        let took = ContinuousClock.now - start
        #expect(took < .seconds(2), "took \(took)")
    }

    @Test func aPeerClosingEarlyIsAConnectionError() {
        let peer = ScriptedPeer(answer: Self.settings + Self.status200 + Self.data([1]), closeAfter: true)
        #expect(throws: HTTP2Error.connection("the peer closed the connection before the response ended")) {
            _ = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: limits()) { _ in true }
        }
    }

    @Test func aConsumerThatStopsResetsTheStream() throws {
        let peer = ScriptedPeer(answer: Self.settings + Self.status200 + Self.data([1, 2]) + Self.data([3]))
        let response = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: limits()) { _ in false }
        #expect(response.stoppedByConsumer)
        // A RST_STREAM frame (type 3) for stream 1 with CANCEL (8) was sent.
        let rst: [UInt8] = [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8]
        #expect(peer.sent.indices.contains { peer.sent[$0...].starts(with: rst) })
    }

    @Test func garbageFromThePeerIsAProtocolError() {
        let peer = ScriptedPeer(answer: [UInt8](repeating: 0xff, count: 64), closeAfter: true)
        #expect(throws: HTTP2Error.self) {
            _ = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: limits()) { _ in true }
        }
    }

    @Test func oversizedHeadersAreRefused() {
        let big = [UInt8](repeating: 0x61, count: 100)
        let headers = Self.frame(1, flags: 4, stream: 1, [0x88, 0x00, 3] + Array("x-a".utf8) + [100] + big)
        let peer = ScriptedPeer(answer: Self.settings + headers + Self.trailers)
        let tight = HTTP2Limits(deadline: .now + .seconds(2), idleTimeout: .seconds(2), maxHeaderBytes: 50)
        #expect(throws: HTTP2Error.tooLarge("response headers over 50 bytes")) {
            _ = try HTTP2ClientSession.exchange(over: peer, request: Self.request, limits: tight) { _ in true }
        }
    }
}

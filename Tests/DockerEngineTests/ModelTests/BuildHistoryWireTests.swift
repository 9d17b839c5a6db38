@testable import DockerEngine
import Testing

/// The hand-written protobuf reader and writer, and the history messages, on byte vectors made by
/// hand from the wire format (key = field number << 3 | wire type).
@Suite("BuildKit build history: protobuf wire format")
struct BuildHistoryWireTests {
    @Test func varintsOfOneToTenBytes() throws {
        var reader = ProtobufReader([0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
        #expect(try reader.varint() == 1)
        #expect(try reader.varint() == 300)
        #expect(try reader.varint() == UInt64.max)
        #expect(reader.isAtEnd)
    }

    @Test func brokenVarintsThrow() {
        var truncated = ProtobufReader([0x80, 0x80])
        #expect(throws: ProtobufError.self) { try truncated.varint() }
        var tooLong = ProtobufReader([UInt8](repeating: 0xff, count: 11) + [0x01])
        #expect(throws: ProtobufError.self) { try tooLong.varint() }
        var overflow = ProtobufReader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
        #expect(throws: ProtobufError.self) { try overflow.varint() }
    }

    @Test func writerEncodesTheRequest() {
        // EarlyExit (3) true; ActiveOnly (1) false is the default and not written.
        #expect(BuildHistoryWire.request(earlyExit: true) == [0x18, 0x01])
        var writer = ProtobufWriter()
        writer.string(2, "ab")
        writer.int32(5, -1)
        #expect(writer.bytes == [0x12, 0x02, 0x61, 0x62, 0x28] + [UInt8](repeating: 0xff, count: 9) + [0x01])
    }

    /// A record with every field the watchdog reads, plus unknown fields of each wire type.
    static let record: [UInt8] = {
        var r: [UInt8] = []
        r += [0x0a, 0x03] + Array("abc".utf8)  // 1 Ref
        r += [0x12, 0x0d] + Array("dockerfile.v0".utf8)  // 2 Frontend
        // 3 FrontendAttrs entry {target: build}
        let entry: [UInt8] = [0x0a, 0x06] + Array("target".utf8) + [0x12, 0x05] + Array("build".utf8)
        r += [0x1a, UInt8(entry.count)] + entry
        // 3 another entry, not the target
        let other: [UInt8] = [0x0a, 0x01, 0x78, 0x12, 0x01, 0x79]
        r += [0x1a, UInt8(other.count)] + other
        // 6 CreatedAt {seconds 1000, nanos 500_000_000}
        let created: [UInt8] = [0x08, 0xe8, 0x07, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]
        r += [0x32, UInt8(created.count)] + created
        // 7 CompletedAt {seconds 1012}
        r += [0x3a, 0x03, 0x08, 0xf4, 0x07]
        r += [0x61] + [UInt8](repeating: 0, count: 8)  // 12 fixed64 (unknown here)
        r += [0x65, 1, 2, 3, 4]  // 12 fixed32
        r += [0x6b, 0x08, 0x01, 0x6c]  // 13 group { 1: 1 } end 13
        r += [0x78, 0x02]  // 15 numCachedSteps 2
        r += [0x80, 0x01, 0x05]  // 16 numTotalSteps 5
        r += [0x88, 0x01, 0x04]  // 17 numCompletedSteps 4
        r += [0x98, 0x01, 0x07]  // 19 numWarnings (skipped)
        return r
    }()

    @Test func decodesARecordAndSkipsUnknownFields() throws {
        var record = try BuildHistoryWire.record(Self.record[...])
        #expect(record.ref == "abc")
        #expect(record.frontend == "dockerfile.v0")
        #expect(record.target == "build")
        #expect(record.createdAt == 1000.5)
        #expect(record.completedAt == 1012)
        #expect(record.duration == 11.5)
        #expect(record.cachedSteps == 2 && record.totalSteps == 5 && record.completedSteps == 4)
        #expect(record.executedSteps == 2)
        #expect(record.result == .success)
        record.errorCode = 1
        #expect(record.result == .canceled)
        record.errorCode = 2
        #expect(record.result == .failure)
    }

    @Test func decodesAnEventWithAnError() throws {
        // Status {code 2, message "boom"} as field 5 of the record.
        let status: [UInt8] = [0x08, 0x02, 0x12, 0x04] + Array("boom".utf8)
        let record: [UInt8] = [0x0a, 0x01, 0x72, 0x2a, UInt8(status.count)] + status
        let event: [UInt8] = [0x08, 0x01, 0x12, UInt8(record.count)] + record
        let decoded = try BuildHistoryWire.event(event[...])
        #expect(decoded.kind == .complete)
        #expect(decoded.record?.ref == "r")
        #expect(decoded.record?.errorCode == 2)
        #expect(decoded.record?.errorMessage == "boom")
        #expect(decoded.record?.result == .failure)
    }

    @Test func malformedMessagesThrowAndNeverHang() {
        let broken: [[UInt8]] = [
            [0x0a, 0x05, 0x61],  // string longer than the message
            [0x0f],  // wire type 7
            [0x07],  // wire type 7, field 0
            [0x00, 0x01],  // field number 0
            [0x6b, 0x08, 0x01],  // group never closed
            [0x6c],  // end of group without a start
            [0x6b, 0x74],  // group 13 closed as 14
            [0x61, 0x00],  // fixed64 cut short
            [0x65, 0x00],  // fixed32 cut short
            [UInt8](repeating: 0x6b, count: 40) + [UInt8](repeating: 0x6c, count: 40),  // groups too deep
            [0x12, 0x02, 0x0a, 0x09],  // record whose ref is longer than the record
        ]
        for bytes in broken {
            #expect(throws: ProtobufError.self, "\(bytes)") { _ = try BuildHistoryWire.event(bytes[...]) }
        }
        // Nested groups within the limit are skipped.
        let nested = [UInt8](repeating: 0x6b, count: 5) + [UInt8](repeating: 0x6c, count: 5)
        #expect(throws: Never.self) { _ = try BuildHistoryWire.event(nested[...]) }
    }

    @Test func everyPrefixOfARecordDecodesOrThrows() {
        // Cut the record everywhere: each prefix either is a valid shorter record or throws.
        var thrown = 0
        for end in 0..<Self.record.count {
            do { _ = try BuildHistoryWire.record(Self.record[..<end]) } catch { thrown += 1 }
        }
        #expect(thrown > Self.record.count / 2)
    }

    @Test func grpcMessagesSplitAcrossPieces() throws {
        var reader = GRPCMessageReader(maxMessageBytes: 16)
        let framed = GRPCMessageReader.frame([1, 2, 3]) + GRPCMessageReader.frame([]) + GRPCMessageReader.frame([9])
        #expect(framed.prefix(5) == [0, 0, 0, 0, 3])
        var messages: [[UInt8]] = []
        for byte in framed { messages += try reader.append([byte]) }
        #expect(messages == [[1, 2, 3], [], [9]])
        #expect(reader.pendingBytes == 0)
        #expect(throws: GRPCMessageReader.Failure.tooLarge(17)) { _ = try reader.append([0, 0, 0, 0, 17]) }
        var compressed = GRPCMessageReader(maxMessageBytes: 16)
        #expect(throws: GRPCMessageReader.Failure.compressed) { _ = try compressed.append([1, 0, 0, 0, 1, 0]) }
    }
}

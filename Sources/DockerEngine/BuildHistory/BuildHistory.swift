/// How a build ended, from its record's error (`google.rpc.Status`).
public enum BuildResult: String, Sendable, Equatable, CaseIterable, Comparable {
    case success
    case failure
    /// gRPC code 1 (CANCELLED): the client went away or the build was cancelled.
    case canceled

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One finished build from BuildKit's build history (`moby.buildkit.v1.BuildHistoryRecord`), the
/// fields the watchdog uses. Field numbers are those of BuildKit's
/// `api/services/control/control.proto`.
public struct BuildRecord: Sendable, Equatable {
    /// The build's ref (field 1), unique per build.
    public var ref: String = ""
    /// The frontend (2), e.g. `dockerfile.v0`.
    public var frontend: String = ""
    /// The Dockerfile target (the frontend attribute `target`, map field 3), if one was asked for.
    public var target: String?
    /// The error's gRPC code and message (field 5); code nil: the build succeeded.
    public var errorCode: Int32?
    public var errorMessage: String = ""
    /// Seconds since the epoch (fields 6 and 7, `google.protobuf.Timestamp`).
    public var createdAt: Double?
    public var completedAt: Double?
    /// Steps (vertices) taken from the cache, all steps, and steps that completed (15, 16, 17).
    public var cachedSteps = 0
    public var totalSteps = 0
    public var completedSteps = 0

    public init() {}

    public var result: BuildResult {
        guard let code = errorCode, code != 0 else { return .success }
        return code == 1 ? .canceled : .failure
    }

    /// Completed steps that ran rather than came from the cache.
    public var executedSteps: Int { max(0, completedSteps - cachedSteps) }

    /// Seconds from creation to completion, when both are known and in order.
    public var duration: Double? {
        guard let start = createdAt, let end = completedAt, end >= start else { return nil }
        return end - start
    }
}

/// One message of the `ListenBuildHistory` stream (`BuildHistoryEvent`).
public struct BuildHistoryEvent: Sendable, Equatable {
    public enum Kind: Int64, Sendable {
        case started = 0
        case complete = 1
        case deleted = 2
    }
    /// Field 1; an unknown value is kept as nil.
    public var kind: Kind?
    /// Field 2.
    public var record: BuildRecord?

    /// Decodes one message of the stream from its protobuf bytes (for the fuzz target; the client
    /// decodes inside ``DockerClient/buildHistory(timeout:maxRecords:maxMessageBytes:)``).
    public static func decode(_ bytes: [UInt8]) throws(ProtobufError) -> BuildHistoryEvent {
        try BuildHistoryWire.event(bytes[...])
    }
}

/// What `ListenBuildHistory` answered.
public enum BuildHistoryAnswer: Sendable, Equatable {
    /// The completed builds the engine keeps (``DockerClient/buildHistory(timeout:maxRecords:)``).
    /// `truncated`: there were more than the limit asked for; the rest were not read.
    case records([BuildRecord], truncated: Bool)
    /// The engine has no build history to give: no `/grpc` endpoint (404, Podman), or a BuildKit
    /// without `ListenBuildHistory` (gRPC UNIMPLEMENTED, Docker 20.10). The reason says which.
    case unavailable(String)
}

/// Decoding of the history messages from their wire bytes.
enum BuildHistoryWire {
    /// The request `BuildHistoryRequest{ActiveOnly=1, Ref=2, EarlyExit=3}`: all stored records,
    /// then the end of the stream.
    static func request(earlyExit: Bool = true) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.bool(1, false)
        writer.bool(3, earlyExit)
        return writer.bytes
    }

    static func event(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> BuildHistoryEvent {
        var reader = ProtobufReader(bytes)
        var event = BuildHistoryEvent()
        while let field = try reader.nextField() {
            switch (field.number, field.type) {
            case (1, .varint): event.kind = BuildHistoryEvent.Kind(rawValue: try reader.int64())
            case (2, .lengthDelimited): event.record = try record(try reader.lengthDelimited())
            default: try reader.skip(field.type, number: field.number)
            }
        }
        return event
    }

    static func record(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> BuildRecord {
        var reader = ProtobufReader(bytes)
        var record = BuildRecord()
        while let field = try reader.nextField() {
            switch (field.number, field.type) {
            case (1, .lengthDelimited): record.ref = try reader.string()
            case (2, .lengthDelimited): record.frontend = try reader.string()
            case (3, .lengthDelimited):
                let (key, value) = try mapEntry(try reader.lengthDelimited())
                if key == "target" { record.target = value }
            case (5, .lengthDelimited):
                let (code, message) = try status(try reader.lengthDelimited())
                record.errorCode = code
                record.errorMessage = message
            case (6, .lengthDelimited): record.createdAt = try timestamp(try reader.lengthDelimited())
            case (7, .lengthDelimited): record.completedAt = try timestamp(try reader.lengthDelimited())
            case (15, .varint): record.cachedSteps = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try reader.int64()))
            case (16, .varint): record.totalSteps = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try reader.int64()))
            case (17, .varint): record.completedSteps = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try reader.int64()))
            default: try reader.skip(field.type, number: field.number)
            }
        }
        return record
    }

    /// `google.protobuf.Timestamp{seconds=1 int64, nanos=2 int32}` as seconds since the epoch.
    static func timestamp(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> Double {
        var reader = ProtobufReader(bytes)
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        while let field = try reader.nextField() {
            switch (field.number, field.type) {
            case (1, .varint): seconds = try reader.int64()
            case (2, .varint): nanos = Int64(Int32(truncatingIfNeeded: try reader.int64()))
            default: try reader.skip(field.type, number: field.number)
            }
        }
        return Double(seconds) + Double(nanos) / 1e9
    }

    /// `google.rpc.Status{code=1 int32, message=2 string, details=3}`.
    static func status(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> (Int32, String) {
        var reader = ProtobufReader(bytes)
        var code: Int32 = 0
        var message = ""
        while let field = try reader.nextField() {
            switch (field.number, field.type) {
            case (1, .varint): code = Int32(truncatingIfNeeded: try reader.int64())
            case (2, .lengthDelimited): message = String(try reader.string().prefix(512))
            default: try reader.skip(field.type, number: field.number)
            }
        }
        return (code, message)
    }

    /// A map<string, string> entry: key 1, value 2.
    static func mapEntry(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> (String, String) {
        var reader = ProtobufReader(bytes)
        var key = ""
        var value = ""
        while let field = try reader.nextField() {
            switch (field.number, field.type) {
            case (1, .lengthDelimited): key = try reader.string()
            case (2, .lengthDelimited): value = try reader.string()
            default: try reader.skip(field.type, number: field.number)
            }
        }
        return (key, value)
    }
}

/// Splits a gRPC response body into its messages: each is a flag byte (1: compressed), a 4-byte
/// big-endian length, and that many bytes. Pieces of the body arrive in any sizes.
struct GRPCMessageReader {
    enum Failure: Error, Equatable {
        case tooLarge(Int)
        case compressed
    }

    let maxMessageBytes: Int
    private var buffer: [UInt8] = []

    init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    /// Bytes received but not yet a whole message.
    var pendingBytes: Int { buffer.count }

    /// Adds a piece of the body and returns the messages it completes.
    mutating func append(_ piece: [UInt8]) throws(Failure) -> [[UInt8]] {
        buffer += piece
        var messages: [[UInt8]] = []
        var start = 0
        while buffer.count - start >= 5 {
            // We never offer grpc-accept-encoding, so a compressed message is the server's error.
            guard buffer[start] == 0 else { throw .compressed }
            let length =
                Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
            guard length <= maxMessageBytes else { throw .tooLarge(length) }
            guard buffer.count - start - 5 >= length else { break }
            messages.append(Array(buffer[(start + 5)..<(start + 5 + length)]))
            start += 5 + length
        }
        if start > 0 { buffer.removeFirst(start) }
        return messages
    }

    /// Frames one request message (uncompressed).
    static func frame(_ message: [UInt8]) -> [UInt8] {
        let n = message.count
        return [0, UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            + message
    }
}

/// The protocol-buffers wire format, as far as BuildKit's build history needs it: a reader of
/// fields (varints, length-delimited bytes, skipping everything else) and a writer of the few
/// field kinds the request has.
///
/// Hand-written rather than generated: the watchdog reads four small messages (a history event,
/// its record, `google.rpc.Status`, `google.protobuf.Timestamp`) and writes one with two fields.
/// The format is short to state (a varint key: field number and wire type, then a varint, 4 or 8
/// bytes, or a varint length and that many bytes) and a C library (libprotobuf-c) would need
/// generated code from BuildKit's .proto files and their imports for the same few fields. Unknown
/// fields, groups included, are skipped, so newer BuildKit versions that add fields still decode.
///
/// Malformed input throws ``ProtobufError``; every read checks the bounds first and every loop
/// advances, so no input crashes or spins (FuzzCorpusTests and the unit tests feed broken bytes).
public enum ProtobufError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let s): return "protobuf truncated: \(s)"
        case .malformed(let s): return "protobuf malformed: \(s)"
        }
    }
}

/// The wire types of the format (3 and 4 are the deprecated group delimiters).
enum ProtobufWireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Reads the fields of one message from a slice of bytes.
struct ProtobufReader {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int
    /// Nested groups skipped at most this deep; deeper input is refused, not recursed into.
    static let maxGroupDepth = 32

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.offset = bytes.startIndex
    }

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    var isAtEnd: Bool { offset >= bytes.endIndex }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws(ProtobufError) -> (number: UInt64, type: ProtobufWireType)? {
        if isAtEnd { return nil }
        let key = try varint()
        guard let type = ProtobufWireType(rawValue: UInt8(key & 7)) else {
            throw .malformed("wire type \(key & 7) at byte \(offset - bytes.startIndex)")
        }
        let number = key >> 3
        guard number > 0 else { throw .malformed("field number 0") }
        return (number, type)
    }

    /// A base-128 varint of at most 10 bytes.
    mutating func varint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.endIndex else { throw .truncated("varint") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw .malformed("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformed("varint longer than 10 bytes") }
        }
    }

    /// The bytes of a length-delimited field (strings, bytes, embedded messages).
    mutating func lengthDelimited() throws(ProtobufError) -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.endIndex - offset) else { throw .truncated("field of \(length) bytes") }
        let start = offset
        offset += Int(length)
        return bytes[start..<offset]
    }

    mutating func string() throws(ProtobufError) -> String {
        String(decoding: try lengthDelimited(), as: UTF8.self)
    }

    /// A field of type int32/int64/enum/bool read from its varint (negative int32 values are
    /// sign-extended to 10 bytes on the wire, hence the truncating conversion).
    mutating func int64() throws(ProtobufError) -> Int64 { Int64(bitPattern: try varint()) }

    /// Skips a field's value of the given wire type (`number` matches the end of a group).
    mutating func skip(_ type: ProtobufWireType, number: UInt64) throws(ProtobufError) {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try lengthDelimited()
        case .endGroup: throw .malformed("end of group \(number) without a start")
        case .startGroup:
            // Iterative: a stack of open group numbers, bounded in depth.
            var open: [UInt64] = [number]
            while let field = try nextField() {
                switch field.type {
                case .startGroup:
                    guard open.count < Self.maxGroupDepth else { throw .malformed("groups nested deeper than \(Self.maxGroupDepth)") }
                    open.append(field.number)
                case .endGroup:
                    guard open.last == field.number else { throw .malformed("end of group \(field.number) inside group \(open.last!)") }
                    open.removeLast()
                    if open.isEmpty { return }
                default:
                    try skip(field.type, number: field.number)
                }
            }
            throw .truncated("group \(number) not closed")
        }
    }

    private mutating func advance(_ count: Int) throws(ProtobufError) {
        guard bytes.endIndex - offset >= count else { throw .truncated("fixed field of \(count) bytes") }
        offset += count
    }
}

/// Writes the fields of one message.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ number: UInt64, _ type: ProtobufWireType) { varint(number << 3 | UInt64(type.rawValue)) }

    /// A bool field; false is the default and, as in proto3, not written.
    mutating func bool(_ number: UInt64, _ value: Bool) {
        guard value else { return }
        key(number, .varint)
        varint(1)
    }

    /// A string field; the empty string is the default and not written.
    mutating func string(_ number: UInt64, _ value: String) {
        guard !value.isEmpty else { return }
        key(number, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        bytes += value.utf8
    }

    /// An int32 field; zero is the default and not written.
    mutating func int32(_ number: UInt64, _ value: Int32) {
        guard value != 0 else { return }
        key(number, .varint)
        varint(UInt64(bitPattern: Int64(value)))
    }
}

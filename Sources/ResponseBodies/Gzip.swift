import CZlibShims

/// gzip compression (zlib) for response bodies.
public enum Gzip {
    /// Compresses `bytes`; nil only when zlib fails, which callers treat as "send uncompressed".
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var output: UnsafeMutablePointer<UInt8>? = nil
        var outputLength = 0
        let rc = bytes.withUnsafeBufferPointer { buffer in
            cwd_gzip(buffer.baseAddress, buffer.count, level, &output, &outputLength)
        }
        guard rc == 0, let output else { return nil }
        defer { cwd_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: outputLength))
    }
}

extension Gzip {
    /// A piece of a gzip body compressed on its own, so that a body made of pieces only has to
    /// compress the pieces that changed (the `/metrics` body is one piece per metric family).
    public struct Piece: Sendable {
        /// Raw deflate data ending byte-aligned and not final.
        public var deflated: [UInt8]
        /// CRC-32 and length of the uncompressed bytes, combined into the member's trailer.
        public var crc: UInt32
        public var length: Int
    }

    /// Compresses `bytes` as a piece; nil when zlib fails.
    public static func piece(_ bytes: [UInt8], level: Int32 = 6) -> Piece? {
        var output: UnsafeMutablePointer<UInt8>? = nil
        var outputLength = 0
        var crc: UInt32 = 0
        let rc = bytes.withUnsafeBufferPointer { buffer in
            cwd_deflate_piece(buffer.baseAddress, buffer.count, level, &output, &outputLength, &crc)
        }
        guard rc == 0, let output else { return nil }
        defer { cwd_free(output) }
        return Piece(deflated: Array(UnsafeBufferPointer(start: output, count: outputLength)), crc: crc, length: bytes.count)
    }

    /// The gzip member header that goes before the pieces. Header, the pieces' deflate data in
    /// order and ``memberTrailer(_:)`` sent back to back are one gzip member (RFC 1952) that any
    /// reader inflates to the concatenated input (this is how pigz compresses in parallel).
    public static let memberHeader: [UInt8] = [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF]

    /// What goes after the pieces: an empty final block, the CRC-32 of all pieces' input and
    /// its length.
    public static func memberTrailer(_ pieces: [Piece]) -> [UInt8] {
        var crc: UInt32 = 0
        var length = 0
        for piece in pieces {
            crc = cwd_crc32_combine(crc, piece.crc, piece.length)
            length &+= piece.length
        }
        var out: [UInt8] = [0x03, 0x00]  // a final fixed-Huffman block with no data
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        let size = UInt32(truncatingIfNeeded: length)  // ISIZE is the length modulo 2^32
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        return out
    }
}

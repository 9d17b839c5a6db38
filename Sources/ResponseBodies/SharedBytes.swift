/// Bytes that many responses send without copying them: the rendered lines of a `/metrics`
/// body, which are kept anyway (`HTTPBody.segments`).
///
/// Why: libmicrohttpd copies a `.bytes` body for every response (`MHD_RESPMEM_MUST_COPY`); at
/// 1,000 containers that is 750 KB allocated, copied and freed per scrape. These are handed to
/// libmicrohttpd as they are and kept alive until the last response using them is destroyed.
public final class SharedBytes: Sendable {
    nonisolated(unsafe) package let pointer: UnsafeMutableRawPointer
    public let count: Int
    /// The array whose storage `pointer` points into (nil for an empty one).
    private let borrowed: [UInt8]?

    /// Wraps `bytes` without copying them: the array is held (never mutated) for the lifetime of
    /// this object, so its contiguous native storage, whose address `withUnsafeBytes` gives,
    /// neither moves nor goes away while libmicrohttpd may read it.
    public init(borrowing bytes: [UInt8]) {
        var base: UnsafeMutableRawPointer?
        bytes.withUnsafeBytes { raw in base = raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } }
        if let base, !bytes.isEmpty {
            borrowed = bytes
            pointer = base
            count = bytes.count
        } else {
            borrowed = nil
            pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
            count = 0
        }
    }

    deinit {
        if borrowed == nil { pointer.deallocate() }
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: pointer, count: count)) }

    /// The bytes of `segments` joined (for tests and tools; the server sends segments as they are).
    public static func joined(_ segments: [SharedBytes]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(segments.reduce(0) { $0 + $1.count })
        for segment in segments { out.append(contentsOf: UnsafeRawBufferPointer(start: segment.pointer, count: segment.count)) }
        return out
    }
}

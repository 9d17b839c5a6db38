import CWatchdogShims

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

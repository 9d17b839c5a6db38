import CHTTPServerShims
import FoundationEssentials

/// bcrypt password hashes, checked with libcrypt's `crypt_r` (libxcrypt: `$2y$`, `$2b$`, `$2a$`).
///
/// The policy around it (which user, the dummy hash for unknown users, caching) lives with the
/// caller; this is only the unsafe part.
public enum BCrypt {
    /// True if `password` matches `hash`. A hash libcrypt cannot use counts as a mismatch; the
    /// configuration checks the hash syntax before any request arrives.
    public static func verify(password: String, hash: String) -> Bool {
        cwd_crypt_check(password, hash) == 1
    }

    /// A fresh `$2b$` hash of `password` at `cost` (4...31), with a random salt; nil on failure.
    public static func hash(password: String, cost: Int) -> String? {
        var out = [CChar](repeating: 0, count: 128)
        guard (4...31).contains(cost), cwd_bcrypt_hash(password, Int32(cost), &out, out.count) == 0 else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The cost (log2 of the rounds) written in a bcrypt hash, e.g. 10 for `$2y$10$...`.
    public static func cost(of hash: String) -> Int? {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, ["2a", "2b", "2y"].contains(parts[1]), parts[2].count == 2 else { return nil }
        return Int(parts[2])
    }
}

/// HMAC-SHA-256 under a key made at random when the value is created, for cache keys that must not
/// hold (or let anyone recompute from memory) a password.
public struct KeyedDigest: Sendable {
    private let key: [UInt8]

    public init() {
        var key = [UInt8](repeating: 0, count: 32)
        if cwd_random_bytes(&key, key.count) != 0 {
            // GnuTLS' generator does not fail on Linux; should it, fall back to the system's.
            key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        }
        self.key = key
    }

    /// 32 bytes.
    public func digest(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = cwd_hmac_sha256(key, key.count, data, data.count, &out)
        return out
    }
}

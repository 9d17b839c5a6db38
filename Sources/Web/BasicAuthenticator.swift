import FoundationEssentials
import TextFormatting
import MicroHTTPServer
import Locking

/// Basic-auth policy for the HTTP endpoint: bcrypt hashes from the web config file, checked so that
/// neither timing nor answers reveal which users exist, with verified credentials cached.
///
/// - An unknown user is checked against a dummy hash of the same cost as the configured ones (the
///   highest, if they differ), so "no such user" costs as much as "wrong password".
/// - Only successful checks are cached: one entry per configured user, holding an HMAC (under a key
///   made at random at start) of `user:password` and the hash it was verified against. A scrape every
///   second then costs one HMAC instead of one bcrypt. A wrong password is never cached, so every wrong
///   guess pays the full bcrypt cost. Cached digests are compared in constant time.
/// - `replaceUsers` (the reload path) empties the cache, so a removed user or a changed hash takes
///   effect at once.
public final class BasicAuthenticator: Sendable {
    /// The realm sent in `WWW-Authenticate`.
    public static let realm = "docker-watchdog"

    private struct State {
        var users: [String: String]
        var dummyHash: String
        /// user → (digest of "user:password", hash it was verified against).
        var cache: [String: (digest: [UInt8], hash: String)] = [:]
    }

    private let state: Mutex<State>
    private let keyedDigest = KeyedDigest()
    private let verify: @Sendable (_ password: String, _ hash: String) -> Bool

    /// - Parameters:
    ///   - users: user name → bcrypt hash (already syntax-checked by `WebConfig`).
    ///   - verify: the bcrypt check; injected by tests to count calls.
    public init(users: [String: String], verify: @escaping @Sendable (String, String) -> Bool = BCrypt.verify) {
        self.verify = verify
        state = Mutex(State(users: users, dummyHash: Self.dummyHash(for: users, previous: nil)))
    }

    /// True when at least one user is configured, i.e. requests need credentials.
    public var isEnabled: Bool { state.withLock { !$0.users.isEmpty } }

    /// The configured user names, sorted.
    public var userNames: [String] { state.withLock { $0.users.keys.sorted() } }

    /// Swaps in a new set of users (after re-reading the web config file) and forgets every cached
    /// credential.
    public func replaceUsers(_ users: [String: String]) {
        let previous = state.withLock { $0.dummyHash }
        let dummy = Self.dummyHash(for: users, previous: previous)
        state.withLock {
            $0.users = users
            $0.dummyHash = dummy
            $0.cache = [:]
        }
    }

    /// Checks an `Authorization` header value. False for a missing or malformed header, an unknown
    /// user or a wrong password.
    public func authorize(header: String?) -> Bool {
        guard let (user, password, raw) = Self.parseBasic(header) else { return false }
        let digest = keyedDigest.digest(raw)
        let (hash, cached, dummy) = state.withLock { ($0.users[user], $0.cache[user], $0.dummyHash) }
        if let hash, let cached, cached.hash == hash, Self.constantTimeEqual(cached.digest, digest) {
            return true
        }
        // The same work whether or not the user exists: one bcrypt at the configured cost.
        let matches = verify(password, hash ?? dummy)
        guard let hash, matches else { return false }
        state.withLock {
            if $0.users[user] == hash { $0.cache[user] = (digest, hash) }
        }
        return true
    }

    /// The 401 answer; the same for every kind of failure.
    public static func challenge() -> HTTPResponse {
        HTTPResponse(
            status: 401,
            headers: [("WWW-Authenticate", "Basic realm=\"\(realm)\""), ("Content-Type", "text/plain; charset=utf-8")],
            body: .bytes(Array("unauthorized\n".utf8)))
    }

    /// `Basic base64(user:password)` → (user, password, the decoded bytes). The scheme is
    /// case-insensitive (RFC 7617); the password may contain ":".
    static func parseBasic(_ header: String?) -> (user: String, password: String, raw: [UInt8])? {
        guard let header else { return nil }
        let trimmed = header.trimmingWhitespace()
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        let encoded = trimmed.dropFirst(6).trimmingWhitespace()
        guard let data = Data(base64Encoded: String(encoded)) else { return nil }
        let raw = Array(data)
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")),
            let user = String(validating: raw[..<colon], as: UTF8.self),
            let password = String(validating: raw[(colon + 1)...], as: UTF8.self)
        else { return nil }
        return (user, password, raw)
    }

    /// Compares without an early exit, so the time taken does not depend on where the first difference is.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// A hash of a random password at the highest cost among `users` (10 when there are none); reuses
    /// `previous` when its cost is already right, since making one costs a bcrypt.
    private static func dummyHash(for users: [String: String], previous: String?) -> String {
        let cost = users.values.compactMap(BCrypt.cost(of:)).max() ?? 10
        if let previous, BCrypt.cost(of: previous) == cost { return previous }
        let password = (0..<24).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        // BCrypt.hash fails only if libcrypt cannot do bcrypt at all; then no hash verifies either.
        return BCrypt.hash(password: password, cost: cost) ?? "$2b$\(cost < 10 ? "0" : "")\(cost)$" + String(repeating: ".", count: 53)
    }
}

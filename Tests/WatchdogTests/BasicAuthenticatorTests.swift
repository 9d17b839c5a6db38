import Foundation
import MicroHTTPServer
import Locking
import Testing
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import ResponseBodies

/// The basic-auth policy: which checks pay a bcrypt, what is cached, and the 401.
@Suite struct BasicAuthenticatorTests {
    /// A verifier that records every (password, hash) it is asked about, so a test can tell a cache
    /// hit (no call) from a full check (one call).
    final class CountingVerifier: Sendable {
        let calls = Mutex<[(password: String, hash: String)]>([])
        /// Password "right" matches any hash.
        var verify: @Sendable (String, String) -> Bool {
            { password, hash in
                self.calls.withLock { $0.append((password, hash)) }
                return password == "right"
            }
        }
        var count: Int { calls.withLock { $0.count } }
        var hashes: [String] { calls.withLock { $0.map(\.hash) } }
    }

    static let aliceHash = "$2y$10$" + String(repeating: "a", count: 53)
    static let bobHash = "$2y$10$" + String(repeating: "b", count: 53)

    func header(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func rightPasswordIsVerifiedOnceThenServedFromTheCache() {
        let counter = CountingVerifier()
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash], verify: counter.verify)
        #expect(auth.authorize(header: header("alice", "right")))
        #expect(counter.count == 1)
        for _ in 0..<5 { #expect(auth.authorize(header: header("alice", "right"))) }
        #expect(counter.count == 1, "cached credentials must not pay bcrypt again")
    }

    @Test func wrongPasswordIsNeverCached() {
        let counter = CountingVerifier()
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash], verify: counter.verify)
        #expect(auth.authorize(header: header("alice", "right")))  // a cache entry exists for alice...
        for i in 1...3 {
            #expect(!auth.authorize(header: header("alice", "wrong")))  // ...but a wrong password still pays bcrypt
            #expect(counter.count == 1 + i)
        }
        #expect(counter.hashes.dropFirst().allSatisfy { $0 == Self.aliceHash })
    }

    @Test func unknownUserPaysABcryptAgainstADummyHashOfTheSameCost() {
        let counter = CountingVerifier()
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash], verify: counter.verify)
        // Even the password that would match any hash must not let an unknown user in.
        #expect(!auth.authorize(header: header("mallory", "right")))
        #expect(!auth.authorize(header: header("mallory", "wrong")))
        #expect(counter.count == 2)
        let dummy = counter.hashes[0]
        #expect(dummy != Self.aliceHash)
        #expect(BCrypt.cost(of: dummy) == 10)
        #expect(counter.hashes[1] == dummy)
    }

    @Test func dummyHashFollowsTheHighestConfiguredCost() {
        let counter = CountingVerifier()
        let cost12 = "$2b$12$" + String(repeating: "c", count: 53)
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash, "carol": cost12], verify: counter.verify)
        _ = auth.authorize(header: header("nobody", "x"))
        #expect(BCrypt.cost(of: counter.hashes[0]) == 12)
    }

    @Test func malformedHeadersAreRejectedWithoutCrashing() {
        let counter = CountingVerifier()
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash], verify: counter.verify)
        for bad in [
            nil, "", "Basic", "Basic ", "Bearer abc", "Basic !!!!", "Basic " + Data("no-colon".utf8).base64EncodedString(),
            "Basic " + Data([0xff, 0x3a, 0x41]).base64EncodedString(),
        ] {
            #expect(!auth.authorize(header: bad), "\(bad ?? "nil")")
        }
        // Scheme is case-insensitive and the password may contain ":".
        #expect(BasicAuthenticator.parseBasic("bAsIc " + Data("alice:pa:ss".utf8).base64EncodedString())?.password == "pa:ss")
    }

    @Test func replacingUsersDropsTheCacheAndRemovedUsers() {
        let counter = CountingVerifier()
        let auth = BasicAuthenticator(users: ["alice": Self.aliceHash], verify: counter.verify)
        #expect(auth.authorize(header: header("alice", "right")))
        auth.replaceUsers(["bob": Self.bobHash])
        #expect(auth.userNames == ["bob"])
        #expect(!auth.authorize(header: header("alice", "right")), "a removed user must be refused at once")
        #expect(auth.authorize(header: header("bob", "right")))
        auth.replaceUsers([:])
        #expect(!auth.isEnabled)
    }

    @Test func realBcryptRoundTripAndCostOfTheDummy() throws {
        // libcrypt: a hash made here verifies, a wrong password and a $2y$ spelling behave as expected.
        let hash = try #require(BCrypt.hash(password: "s3cret", cost: 4))
        #expect(hash.hasPrefix("$2b$04$") && hash.count == 60)
        #expect(BCrypt.verify(password: "s3cret", hash: hash))
        #expect(!BCrypt.verify(password: "s3cret!", hash: hash))
        #expect(BCrypt.verify(password: "s3cret", hash: "$2y$" + hash.dropFirst(4)))
        #expect(!BCrypt.verify(password: "s3cret", hash: "not a hash"))
        let auth = BasicAuthenticator(users: ["alice": hash])
        #expect(auth.authorize(header: header("alice", "s3cret")))
        #expect(!auth.authorize(header: header("alice", "nope")))
        #expect(!auth.authorize(header: header("bob", "s3cret")))
    }

    @Test func challengeNamesTheRealm() {
        let r = BasicAuthenticator.challenge()
        #expect(r.status == 401)
        #expect(r.headers.contains { $0.0 == "WWW-Authenticate" && $0.1 == "Basic realm=\"docker-watchdog\"" })
    }

    @Test func constantTimeEqual() {
        #expect(BasicAuthenticator.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!BasicAuthenticator.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!BasicAuthenticator.constantTimeEqual([1, 2, 3], [1, 2]))
    }

    @Test func keyedDigestDependsOnTheProcessKey() {
        let a = KeyedDigest(), b = KeyedDigest()
        #expect(a.digest(Array("alice:pw".utf8)) == a.digest(Array("alice:pw".utf8)))
        #expect(a.digest(Array("alice:pw".utf8)) != a.digest(Array("alice:pX".utf8)))
        #expect(a.digest(Array("alice:pw".utf8)) != b.digest(Array("alice:pw".utf8)))
        #expect(a.digest([]).count == 32)
    }
}

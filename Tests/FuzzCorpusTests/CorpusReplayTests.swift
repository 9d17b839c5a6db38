import Foundation
import Testing
@testable import FuzzTargets

/// Every input kept in `fuzz/corpus/` (seeds, and the crashing inputs fuzzing found, named
/// `crash-*`) replayed through its target on every test run, without libFuzzer: a regression of a
/// fixed crash fails here even when the fuzz check is not run.
@Suite("Fuzz corpus replay")
struct CorpusReplayTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    static func inputs(_ name: String) throws -> [(String, [UInt8])] {
        let directory = corpusRoot.appendingPathComponent(name)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.filter { !$0.hasPrefix(".") }.map {
            ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0))))
        }
    }

    func replay<T: FuzzTarget>(_ target: T.Type) throws {
        let inputs = try Self.inputs(T.name)
        #expect(inputs.count >= 5, "the \(T.name) corpus is missing")
        for (name, bytes) in inputs {
            do {
                try T.run(bytes)
            } catch {
                Issue.record("\(T.name)/\(name): \(error)")
            }
        }
    }

    @Test func dockerJSON() throws { try replay(DockerJSONFuzz.self) }
    @Test func config() throws { try replay(ConfigFuzz.self) }
    @Test func http() throws { try replay(HTTPFuzz.self) }

    /// The properties themselves must be able to fail: a broken router answer is caught.
    @Test func httpPropertyRejectsAWritableEndpoint() throws {
        let post = HTTPFuzz.parseRequest(Array("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(post?.method == "POST")
        #expect(post?.path == "/metrics")
        #expect(throws: PropertyViolation.self) {
            try HTTPFuzz.check(.text(200, "ok"), for: post!)
        }
    }
}

import DockerEngine
import Foundation
import Testing
@testable import Containers

/// The tracker fed real answers of each engine (list, inspects, events from one workload):
/// health follows the inspects, and nothing the engine did not do is counted.
@Suite("Container tracker on engine captures")
struct EngineCaptureTrackerTests {
    static let engines = ["docker-28.5.2-overlay2", "docker-28.5.2-containerd-store", "podman-4.3.1", "podman-5.8.6"]
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DockerEngineTests/Fixtures/engines")

    static func data(_ engine: String, _ file: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(engine).appendingPathComponent("engine-\(file)"))
    }

    static func inspects(_ engine: String) throws -> [ContainerInspect] {
        let array = try #require(JSONSerialization.jsonObject(with: data(engine, "inspect.json")) as? [Any])
        return try array.map { try ContainerInspect.decode(JSONSerialization.data(withJSONObject: $0)) }
    }

    static func rawEvents(_ engine: String) throws -> [[String: Any]] {
        try String(decoding: data(engine, "events.jsonl"), as: UTF8.self).split(separator: "\n")
            .map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test(arguments: engines)
    func listsAndInspectsInventNoTransition(_ engine: String) throws {
        let tracker = ContainerTracker(historySize: 100)
        let list = try ContainerSummary.decodeList(Self.data(engine, "containers.json"))
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        tracker.applyList(list, now: t0)
        for inspect in try Self.inspects(engine) { tracker.applyInspect(inspect, now: t0) }
        // Resyncs that show the same state, as every full list does.
        for step in 1...3 {
            tracker.applyList(list, now: t0 + Double(step * 60))
            for inspect in try Self.inspects(engine) { tracker.applyInspect(inspect, now: t0 + Double(step * 60)) }
        }
        #expect(tracker.history.isEmpty, "\(engine): \(tracker.history.map { "\($0.container) -> \($0.to)" })")
        #expect(tracker.counters.healthTransitions.isEmpty)
        let health = Dictionary(uniqueKeysWithValues: tracker.containers.map { ($0.name, $0.health) })
        #expect(health["wd-healthy"] == "healthy")
        #expect(health["wd-unhealthy"] == "unhealthy")
        #expect(health["wd-plain"] == "none")  // Podman 4.3's empty status reads as none
        #expect(health["wd-exited"] == "none")
    }

    /// Deaths and restarts are the engine's own events: a die per death, a start after a die per
    /// restart, whatever the engine calls them.
    @Test(arguments: engines)
    func eventsCountWhatTheEngineDid(_ engine: String) throws {
        let raw = try Self.rawEvents(engine)
        var expectedDeaths = 0
        var expectedRestarts = 0
        var died = Set<String>()
        for e in raw {
            let action = e["Action"] as? String ?? ""
            let id = (e["Actor"] as? [String: Any])?["ID"] as? String ?? ""
            if action == "die" || action == "died" {
                expectedDeaths += 1
                died.insert(id)
            } else if action == "start", died.contains(id) {
                expectedRestarts += 1
            }
        }
        let tracker = ContainerTracker(historySize: 100)
        for line in String(decoding: try Self.data(engine, "events.jsonl"), as: UTF8.self).split(separator: "\n") {
            let event = try DockerEvent.decode(Data(line.utf8))
            guard EventStreamerActions.wanted(event) else { continue }
            tracker.applyEvent(event)
        }
        #expect(tracker.counters.deaths.values.reduce(0, +) == UInt64(expectedDeaths))
        #expect(tracker.counters.restarts == UInt64(expectedRestarts))
        // The two removed containers are forgotten.
        #expect(tracker.containers.count == raw.compactMap { ($0["Actor"] as? [String: Any])?["ID"] as? String }.uniqued().count - 2)
        // Podman's health_status events say nothing; no transition may be made of them.
        if engine.hasPrefix("podman") {
            #expect(!tracker.history.contains { $0.to == "none" })
        }
    }
}

/// What the events filter lets through (the daemon filters; captures were taken unfiltered).
enum EventStreamerActions {
    static func wanted(_ event: DockerEvent) -> Bool {
        EventStreamer.actions.contains(event.action.split(separator: ":").first.map(String.init) ?? event.action)
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

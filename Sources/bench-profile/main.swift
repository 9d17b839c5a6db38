// bench-profile: where a containers sampling round spends its time, in-process, for the benchmark
// report (scripts/bench.sh). For each N it starts a synthetic engine (SyntheticDockerEngine) on a
// private unix socket and times, median of --iterations runs each:
//
//   fetch     GET /containers/json?all=1 through the watchdog's DockerClient (libcurl), bytes only
//   decode    the list scanner on those bytes with an empty cache (every entry decoded)
//   decode_reuse  the same with the previous list's cache (unchanged entries reused, as in a resync)
//   decode_jsondecoder  Foundation's JSONDecoder on the same bytes (what the scanner replaced)
//   apply     ContainerTracker.applyList on a tracker that already knows every container (a resync)
//   round     ContainerCollector.collect() with a resync due every round and at most 1 inspect:
//             fetch + decode + apply + building the families (what the harness measures from outside)
//   render    ExpositionRenderer.render of the round's families (text) and Gzip.compress of that
//
//   bench-profile [--containers 0,100,1000,10000] [--iterations 7] [--rounds-only 1] [--churn 1]
// Prints one JSON object per N on standard output. `--rounds-only 1` times only the rounds (for
// `perf record`, so the profile shows nothing else); `--churn 1` changes the host before each.
import DockerEngine
import Exposition
import FakeDockerEngine
import Foundation
import Logging
import MicroHTTPServer
import Watchdog
import Collectors
import Containers
import Sampling
import ResponseBodies

var counts = [0, 100, 1000, 10000]
var iterations = 7
var roundsOnly = false
var churnBetweenRounds = false
var args = CommandLine.arguments.dropFirst()
while let flag = args.first {
    args = args.dropFirst()
    guard let value = args.first else { break }
    args = args.dropFirst()
    switch flag {
    case "--containers": counts = value.split(separator: ",").compactMap { Int($0) }
    case "--iterations": iterations = max(1, Int(value) ?? 7)
    case "--rounds-only": roundsOnly = value == "1"
    case "--churn": churnBetweenRounds = value == "1"
    default:
        FileHandle.standardError.write(Data("bench-profile: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let clock = ContinuousClock()
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[s.count / 2]
}
func time(_ body: () throws -> Void) rethrows -> Double {
    let start = clock.now
    try body()
    return ms(clock.now - start)
}

for n in counts {
    let socket = FileManager.default.temporaryDirectory.appendingPathComponent("bench-profile-\(getpid())-\(n).sock").path
    let engine = try SyntheticDockerEngine(socketPath: socket, containers: n)
    defer { engine.stop() }
    let client = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(60), pinnedVersion: APIVersion("1.41"))
    let warmer = DockerClient(endpoint: .unixSocket(path: socket), requestTimeout: .seconds(60), pinnedVersion: APIVersion("1.41"))
    var fetch: [Double] = [], decode: [Double] = [], apply: [Double] = [], round: [Double] = []
    var decodeReuse: [Double] = [], decodeJSON: [Double] = []
    var listCache = ContainerListCache()
    var render: [Double] = [], gzip: [Double] = []
    var bytes = 0, renderedBytes = 0, gzippedBytes = 0
    let tracker = ContainerTracker(historySize: 500)
    let collector = ContainerCollector(
        client: client, tracker: tracker, streamer: nil,
        settings: .init(interval: .seconds(15), resyncInterval: .zero, inspectTimeout: .seconds(2), maxInspectsPerRound: 1, maxSeries: 2000))
    _ = collector.collect()  // warm up: the tracker knows every container from here on
    if roundsOnly {
        let rounds = (0..<iterations).map { _ in
            // With --churn 1 the list changes before every round (a container created and one
            // removed, five health flaps, a restart), so the round cannot take the repeated-list path.
            if churnBetweenRounds {
                engine.churn(creates: 1, removes: 1, flaps: 5, restarts: 1)
                // The engine renders its new list on the first request: not the round's cost.
                _ = try? warmer.get("/containers/json", query: [("all", "1")], endpointName: "warm")
            }
            return time { _ = collector.collect() }
        }
        print("{\"containers\":\(n),\"round_ms\":\(String(format: "%.3f", median(rounds)))}")
        continue
    }
    for _ in 0..<iterations {
        var body: [UInt8] = []
        fetch.append(try time { body = try client.get("/containers/json", query: [("all", "1")], endpointName: "containers_list") })
        bytes = body.count
        var list: [ContainerSummary] = []
        decode.append(
            try time {
                var empty = ContainerListCache()
                list = try ContainerListScanner.decode(body, cache: &empty)
            })
        _ = try ContainerListScanner.decode(body, cache: &listCache)
        decodeReuse.append(try time { _ = try ContainerListScanner.decode(body, cache: &listCache) })
        decodeJSON.append(try time { _ = try ContainerSummary.decodeListWithJSONDecoder(Data(body)) })
        apply.append(time { tracker.applyList(list) })
        var result = CollectionResult(families: [])
        round.append(time { result = collector.collect() })
        var text: [UInt8] = []
        render.append(time { text = ExpositionRenderer.render(result.families, format: .text) })
        renderedBytes = text.count
        gzip.append(time { gzippedBytes = Gzip.compress(text)?.count ?? 0 })
    }
    let figures: [(String, Double)] = [
        ("fetch_ms", median(fetch)), ("decode_ms", median(decode)), ("decode_reuse_ms", median(decodeReuse)),
        ("decode_jsondecoder_ms", median(decodeJSON)), ("apply_ms", median(apply)),
        ("round_ms", median(round)), ("render_text_ms", median(render)), ("gzip_ms", median(gzip)),
    ]
    let fields = figures.map { "\"\($0.0)\":\(String(format: "%.3f", $0.1))" }.joined(separator: ",")
    print("{\"containers\":\(n),\"list_bytes\":\(bytes),\"rendered_bytes\":\(renderedBytes),\"gzipped_bytes\":\(gzippedBytes),\(fields)}")
    fflush(nil)
}

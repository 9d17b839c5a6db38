// fake-docker-engine: benchmark servers built on the project's own HTTP server.
//
//   fake-docker-engine engine --socket PATH --containers N [--seed S] [--api-version 1.41] [--root-dir DIR] [--log-files 1]
//                             [--churn-interval SECONDS --churn-creates C --churn-removes R
//                              --churn-flaps F --churn-restarts K]
//       A synthetic Docker Engine with N containers on a unix socket (see SyntheticDockerEngine):
//       /_ping, /version, /info, /system/df, /containers/json, /containers/{id}/json, /events
//       (stays open), and the /_bench/ control routes. With --churn-interval it runs one churn
//       step per interval (containers created and removed, health flapping, restarts).
//
//   fake-docker-engine static --listen HOST:PORT --dir DIR
//       Serves every file DIR/NAME at /NAME from memory, with the response headers listed one per
//       line in DIR/NAME.headers, on the same server and options as the watchdog's /metrics
//       (libmicrohttpd, pool of 2 threads, same connection limits): the floor for a scrape.
//
// Both print `listen=ADDRESS` on standard error once ready, and stop on SIGTERM or SIGINT.
import FakeDockerEngine
import Foundation
import MicroHTTPServer

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fake-docker-engine: \(message)\n".utf8))
    exit(2)
}

func options(_ args: ArraySlice<String>) -> [String: String] {
    var result: [String: String] = [:]
    var i = args.startIndex
    while i < args.endIndex {
        let key = args[i]
        guard key.hasPrefix("--"), i + 1 < args.endIndex else { fail("bad argument '\(key)'") }
        result[String(key.dropFirst(2))] = args[i + 1]
        i += 2
    }
    return result
}

func stopSignals() -> sigset_t {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    return signals
}
var blocked = stopSignals()
pthread_sigmask(SIG_BLOCK, &blocked, nil)
signal(SIGPIPE, SIG_IGN)

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: fake-docker-engine engine|static OPTIONS (see the source header)") }
let opts = options(arguments.dropFirst(2))

func waitForStop() {
    var signals = stopSignals()
    var received: Int32 = 0
    sigwait(&signals, &received)
}

switch arguments[1] {
case "engine":
    guard let socket = opts["socket"] else { fail("--socket is required") }
    guard let n = Int(opts["containers"] ?? "0"), n >= 0 else { fail("--containers wants a count") }
    let seed = UInt64(opts["seed"] ?? "1") ?? 1
    unlink(socket)
    let engine: SyntheticDockerEngine
    do {
        engine = try SyntheticDockerEngine(
            socketPath: socket, containers: n, seed: seed, apiVersion: opts["api-version"] ?? "1.41",
            rootDir: opts["root-dir"] ?? "/tmp", logFiles: opts["log-files"] == "1")
    } catch {
        fail("cannot start: \(error)")
    }
    var churnThread: Thread?
    if let interval = Double(opts["churn-interval"] ?? ""), interval > 0 {
        func n(_ key: String) -> Int { Int(opts[key] ?? "") ?? 0 }
        let (creates, removes, flaps, restarts) = (n("churn-creates"), n("churn-removes"), n("churn-flaps"), n("churn-restarts"))
        let thread = Thread { [engine] in
            var next = Date().addingTimeInterval(interval)
            while true {
                Thread.sleep(until: next)
                next = next.addingTimeInterval(interval)
                engine.churn(creates: creates, removes: removes, flaps: flaps, restarts: restarts)
            }
        }
        thread.name = "churn"
        thread.start()
        churnThread = thread
    }
    FileHandle.standardError.write(Data("fake-docker-engine: containers=\(n) listen=unix://\(socket)\n".utf8))
    waitForStop()
    _ = churnThread
    engine.stop()

case "static":
    guard let listen = opts["listen"], let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
        fail("--listen HOST:PORT is required")
    }
    let host = String(listen[..<colon])
    guard let dir = opts["dir"] else { fail("--dir is required") }
    var routes: [String: HTTPResponse] = [:]
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    for file in files where !file.hasSuffix(".headers") {
        guard let body = FileManager.default.contents(atPath: "\(dir)/\(file)") else { continue }
        var headers: [(String, String)] = []
        if let text = try? String(contentsOfFile: "\(dir)/\(file).headers", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let c = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<c]), line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        routes["/" + file] = HTTPResponse(status: 200, headers: headers, body: .bytes(Array(body)))
    }
    let table = routes
    let server: HTTPServer
    do {
        server = try HTTPServer(
            listen: .tcp(host: host, port: port),
            options: HTTPServerOptions(
                threading: .pool(threads: 2), maxConnections: 64, maxConnectionsPerIP: 16, connectionTimeoutSeconds: 10,
                maxRequestBodyBytes: 64 << 10),
            handler: { request in table[request.path] ?? .text(404, "not found\n") })
    } catch {
        fail("cannot start: \(error)")
    }
    FileHandle.standardError.write(Data("fake-docker-engine: static routes=\(table.keys.sorted().joined(separator: ",")) listen=\(host):\(server.port ?? port)\n".utf8))
    waitForStop()
    server.stop()

default:
    fail("unknown mode '\(arguments[1])' (engine or static)")
}

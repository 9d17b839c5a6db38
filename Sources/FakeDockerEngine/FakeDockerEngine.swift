import Foundation
import MicroHTTPServer
import Locking

/// An in-process stand-in for the Docker Engine API on a unix socket, for the faults a real
/// daemon cannot be made to show on demand: slow or hung answers, 500s, malformed or truncated JSON.
///
/// Routes are keyed by the unversioned path (`/_ping`, `/info`, `/system/df`); requests to
/// `/v1.NN/...` are matched with the version stripped. Every request is recorded.
///
/// BuildKit's `POST /grpc` (the h2c upgrade) is never upgraded here: unrouted it answers 404, an
/// engine without BuildKit's control service (Podman); `set("/grpc", .hang)` is a BuildKit that
/// accepts the upgrade request and never answers.
public final class FakeDockerEngine: Sendable {
    /// What the fake does for one route.
    public indirect enum Behaviour: Sendable {
        /// 200 with a JSON body.
        case json(String)
        /// Any status, body and content type.
        case raw(status: Int, body: String, contentType: String, headers: [(String, String)])
        /// A Docker-style error: `{"message": ...}` with the status.
        case error(status: Int, message: String)
        /// Wait, then behave as `then`.
        case delay(Duration, then: Behaviour)
        /// Accept the request and never answer (until the engine stops or is `release`d).
        case hang
        /// Declare the full length of `body` but send only `keep` bytes, then drop the connection.
        case truncated(body: String, keep: Int)
        /// A sequence of behaviours, one per request; the last repeats.
        case sequence([Behaviour])
        /// A chunked stream (like `/events`): sends `lines` (a newline is appended to each), then
        /// drops the connection if `thenClose`, else stays open until the engine stops.
        case stream(lines: [String], thenClose: Bool)
        /// A stream whose first line has `bytes` bytes and no end (sent in pieces of `piece`
        /// bytes), then `lines`; then it stays open until released.
        case unterminated(bytes: Int, piece: Int, then: [String])
    }

    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
    }

    public let socketPath: String
    private let server: Mutex<HTTPServer?>
    private let routes: Mutex<[String: Behaviour]>
    private let log = Mutex<[RecordedRequest]>([])
    private let counters = Mutex<[String: Int]>([:])
    private let hangGate = HangGate()
    private let override = Mutex<Behaviour?>(nil)
    private let latency = Mutex<Duration>(.zero)

    /// Starts the fake on a fresh unix socket in a temporary directory.
    public init(apiVersion: String = "1.41", socketPath: String? = nil) throws {
        let path = socketPath ?? FakeDockerEngine.temporarySocketPath()
        self.socketPath = path
        self.routes = Mutex(FakeDockerEngine.defaultRoutes(apiVersion: apiVersion))
        self.server = Mutex(nil)
        let started = try HTTPServer(
            listen: .unixSocket(path: path),
            options: HTTPServerOptions(threading: .threadPerConnection, maxConnections: 256, maxConnectionsPerIP: 0, connectionTimeoutSeconds: 600),
            handler: { [weak self] request in
                guard let self else { return .text(503, "stopping") }
                return self.handle(request)
            })
        server.withLock { $0 = started }
    }

    /// `unix://` address for clients.
    public var dockerHost: String { "unix://\(socketPath)" }

    /// Replaces the behaviour of one route (unversioned path).
    public func set(_ path: String, _ behaviour: Behaviour) {
        routes.withLock { $0[path] = behaviour }
    }

    /// Answers every request with `behaviour` whatever its route (a daemon answering only 500s,
    /// say) until called again with nil, which restores the routes.
    public func overrideAll(_ behaviour: Behaviour?) {
        override.withLock { $0 = behaviour }
    }

    /// Delays every answer by `delay` before its route's behaviour (a slow daemon); `.zero` ends it.
    public func setLatency(_ delay: Duration) {
        latency.withLock { $0 = delay }
    }

    /// Every request so far, oldest first.
    public var requests: [RecordedRequest] { log.withLock { $0 } }

    /// Lets every hung request finish with a 503.
    public func releaseHungRequests() { hangGate.open() }

    /// Ends the requests hung or streams held open right now (a daemon cutting its connections);
    /// requests that arrive later hang or stay open again.
    public func releaseCurrentRequests() { hangGate.releaseCurrent() }

    /// Stops the server; hung requests are released first so the server threads can be joined.
    public func stop() {
        hangGate.open()
        let running = server.withLock { s -> HTTPServer? in
            let value = s
            s = nil
            return value
        }
        running?.stop()
    }

    deinit { stop() }

    // MARK: - Handling

    private func handle(_ request: HTTPRequest) -> HTTPResponse {
        let path = Self.unversioned(request.path)
        log.withLock { $0.append(RecordedRequest(method: request.method, path: path, query: request.query)) }
        let index = counters.withLock { c -> Int in
            defer { c[path, default: 0] += 1 }
            return c[path, default: 0]
        }
        let delay = latency.withLock { $0 }
        if delay > .zero {
            Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        }
        if let forced = override.withLock({ $0 }) { return respond(forced, index: index) }
        guard let behaviour = routes.withLock({ $0[path] }) else {
            return respond(.error(status: 404, message: "page not found"), index: index)
        }
        return respond(behaviour, index: index)
    }

    private func respond(_ behaviour: Behaviour, index: Int) -> HTTPResponse {
        switch behaviour {
        case .json(let body):
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("Api-Version", "1.41")], body: .bytes(Array(body.utf8)))
        case .raw(let status, let body, let contentType, let headers):
            return HTTPResponse(status: status, headers: [("Content-Type", contentType)] + headers, body: .bytes(Array(body.utf8)))
        case .error(let status, let message):
            let body = "{\"message\":\"\(message.replacingOccurrences(of: "\"", with: "\\\""))\"}\n"
            return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(Array(body.utf8)))
        case .delay(let duration, let then):
            Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            return respond(then, index: index)
        case .hang:
            hangGate.wait(upTo: 600)
            return .text(503, "released\n")
        case .truncated(let body, let keep):
            let bytes = Array(body.utf8)
            let prefix = Array(bytes.prefix(keep))
            let sent = Mutex(false)
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: .stream(
                    declaredLength: UInt64(bytes.count),
                    next: {
                        let first = sent.withLock { s -> Bool in
                            defer { s = true }; return !s
                        }
                        return first ? .data(prefix) : .abort
                    }))
        case .stream(let lines, let thenClose):
            let pending = Mutex(lines.map { Array(($0 + "\n").utf8) })
            let gate = hangGate
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: .stream(
                    declaredLength: nil,
                    next: {
                        if let next = pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return .data(next) }
                        if thenClose { return .abort }
                        gate.wait(upTo: 600)
                        return .end
                    }))
        case .unterminated(let bytes, let piece, let lines):
            let sent = Mutex(0)
            let filler = [UInt8](repeating: UInt8(ascii: "x"), count: max(1, piece))
            let pending = Mutex(lines.map { Array(("\n" + $0).utf8) } + [Array("\n".utf8)])
            let gate = hangGate
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "application/json")],
                body: .stream(
                    declaredLength: nil,
                    next: {
                        let chunk = sent.withLock { n -> [UInt8]? in
                            guard n < bytes else { return nil }
                            let count = min(filler.count, bytes - n)
                            n += count
                            return Array(filler.prefix(count))
                        }
                        if let chunk { return .data(chunk) }
                        if let next = pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return .data(next) }
                        gate.wait(upTo: 600)
                        return .end
                    }))
        case .sequence(let steps):
            guard !steps.isEmpty else { return .text(500, "empty sequence") }
            return respond(steps[min(index, steps.count - 1)], index: index)
        }
    }

    static func unversioned(_ path: String) -> String {
        guard path.hasPrefix("/v"), let slash = path.dropFirst(2).firstIndex(of: "/") else { return path }
        let version = path[path.index(path.startIndex, offsetBy: 2)..<slash]
        return version.allSatisfy({ $0.isNumber || $0 == "." }) && !version.isEmpty ? String(path[slash...]) : path
    }

    static func temporarySocketPath() -> String {
        let dir = FileManager.default.temporaryDirectory.path
        return "\(dir)/fake-docker-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
    }

    // MARK: - Default answers, shaped like a Debian 20.10 engine

    public static func defaultRoutes(apiVersion: String) -> [String: Behaviour] {
        [
            "/_ping": .raw(status: 200, body: "OK", contentType: "text/plain; charset=utf-8", headers: [("Api-Version", apiVersion)]),
            "/version": .json(
                """
                {"Platform":{"Name":""},"Version":"20.10.24+dfsg1","ApiVersion":"\(apiVersion)","MinAPIVersion":"1.12",\
                "GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0"}
                """),
            "/info": .json(
                """
                {"ID":"FAKE:ENGINE","Containers":3,"ContainersRunning":2,"ContainersPaused":0,"ContainersStopped":1,\
                "Images":2,"Driver":"overlay2","DockerRootDir":"/tmp","LiveRestoreEnabled":false,\
                "ServerVersion":"20.10.24+dfsg1","Name":"fakehost","OperatingSystem":"Debian GNU/Linux 12 (bookworm)"}
                """),
            "/system/df": .json(
                """
                {"LayersSize":1000,"Images":[],"Containers":[],"Volumes":[],"BuildCache":[]}
                """),
        ]
    }
}

/// Blocks hung requests until the fake is told to let them go.
private final class HangGate: Sendable {
    private let state = Mutex((opened: false, generation: 0))

    /// Lets every waiting and future request go.
    func open() { state.withLock { $0.opened = true } }

    /// Lets the requests waiting now go; later ones wait again.
    func releaseCurrent() { state.withLock { $0.generation += 1 } }

    func wait(upTo seconds: Double) {
        let generation = state.withLock { $0.generation }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if state.withLock({ $0.opened || $0.generation != generation }) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}

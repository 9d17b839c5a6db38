import Foundation
import MicroHTTPServer
import Locking

/// A synthetic Docker host of any size, for benchmarks: N containers with the JSON shapes a Debian
/// 20.10 engine sends (compose labels, health in the `Status` string, networks, mounts), served on a
/// unix socket with the routes the watchdog uses (`/_ping`, `/version`, `/info`, `/system/df`,
/// `/containers/json`, `/containers/{id}/json`, and an `/events` stream that stays open).
///
/// Unlike `FakeDockerEngine` (fixed answers per route, for faults), the host is stateful: `churn`
/// creates and removes containers, flaps health and restarts containers, and every change goes out
/// on the open event streams as the daemon would send it. Deterministic for a given seed.
///
/// Control routes under `/_bench/` (never used by the watchdog): `GET /_bench/mode?set=normal|hang|slow&delay_ms=N`
/// makes every Docker route answer normally, hang, or answer after a delay; `GET /_bench/stats` returns
/// request counts per endpoint as JSON; `GET /_bench/churn?creates=&removes=&flaps=&restarts=` runs one churn step.
public final class SyntheticDockerEngine: Sendable {
    public enum Mode: Sendable, Equatable {
        case normal
        case hang
        case slow(milliseconds: Int)
    }

    public let socketPath: String
    public let apiVersion: String
    private let state: Mutex<SyntheticHostState>
    private let mode = Mutex(Mode.normal)
    private let counts = Mutex<[String: Int]>([:])
    private let events = EventHub()
    private let server = Mutex<HTTPServer?>(nil)
    private let stopped = Mutex(false)
    private let rootDir: String
    /// Where inspect says the json-file logs are: under `rootDir` with `logFiles`, else a path
    /// that does not exist here.
    private let logRoot: String

    /// - Parameter logFiles: create each container's json-file log under `rootDir/containers`
    ///   (sparse files of 1-64 KiB by apparent size), so the logs collector measures real files.
    public init(
        socketPath: String, containers: Int, seed: UInt64 = 1, apiVersion: String = "1.41", rootDir: String = "/tmp", logFiles: Bool = false
    ) throws {
        self.socketPath = socketPath
        self.apiVersion = apiVersion
        self.rootDir = rootDir
        self.logRoot = logFiles ? rootDir : "/var/lib/docker"
        self.state = Mutex(SyntheticHostState(count: containers, seed: seed))
        if logFiles {
            let ids: [String] = state.withLock { s in s.containers.map { $0.id } }
            for (i, id) in ids.enumerated() {
                let dir = "\(rootDir)/containers/\(id)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let path = "\(dir)/\(id)-json.log"
                guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                    throw CocoaError(.fileWriteUnknown)
                }
                try handle.truncate(atOffset: UInt64(1024 * (1 + i % 64)))
                try handle.close()
            }
        }
        let started = try HTTPServer(
            listen: .unixSocket(path: socketPath),
            options: HTTPServerOptions(
                threading: .threadPerConnection, maxConnections: 1024, maxConnectionsPerIP: 0, connectionTimeoutSeconds: 3600),
            handler: { [weak self] request in
                guard let self else { return .text(503, "stopping") }
                return self.handle(request)
            })
        server.withLock { $0 = started }
    }

    public var dockerHost: String { "unix://\(socketPath)" }

    public var containerCount: Int { state.withLock { $0.containers.count } }

    /// Wakes hung requests when the mode changes or the engine stops (no polling: a benchmark
    /// must not pay for the fake's own busy threads).
    private let modeChanged = NSCondition()

    public func setMode(_ newMode: Mode) {
        modeChanged.lock()
        mode.withLock { $0 = newMode }
        modeChanged.broadcast()
        modeChanged.unlock()
    }

    private func waitWhileHung() {
        modeChanged.lock()
        defer { modeChanged.unlock() }
        while mode.withLock({ $0 }) == .hang && !stopped.withLock({ $0 }) {
            _ = modeChanged.wait(until: Date().addingTimeInterval(60))
        }
    }

    /// Requests served so far, by endpoint (`containers_list`, `container_inspect`, `ping`, …).
    public var requestCounts: [String: Int] { counts.withLock { $0 } }

    /// One churn step: removes and creates containers, flips health of some containers with a health
    /// check, and restarts some (die then start). Events go out on every open stream.
    public func churn(creates: Int, removes: Int, flaps: Int, restarts: Int) {
        let now = Date().timeIntervalSince1970
        let emitted = state.withLock { s in
            let emitted = s.churn(creates: creates, removes: removes, flaps: flaps, restarts: restarts, now: now)
            // The new list is rendered here, not by the first request after the step: whoever asks
            // first (the watchdog or the benchmark's curl) gets it at the same cost.
            _ = s.listBody()
            return emitted
        }
        events.publish(emitted)
    }

    public func stop() {
        modeChanged.lock()
        stopped.withLock { $0 = true }
        modeChanged.broadcast()
        modeChanged.unlock()
        events.close()
        let running = server.withLock { s -> HTTPServer? in
            defer { s = nil }
            return s
        }
        running?.stop()
    }

    deinit { stop() }

    // MARK: - Handling

    private func handle(_ request: HTTPRequest) -> HTTPResponse {
        let path = FakeDockerEngine.unversioned(request.path)
        if path.hasPrefix("/_bench/") { return control(path, request.query) }
        let endpoint = Self.endpointName(path)
        counts.withLock { $0[endpoint, default: 0] += 1 }
        switch mode.withLock({ $0 }) {
        case .normal: break
        case .slow(let ms): Thread.sleep(forTimeInterval: Double(ms) / 1000)
        case .hang:
            waitWhileHung()
            if stopped.withLock({ $0 }) { return .text(503, "stopping\n") }
        }
        switch endpoint {
        case "ping":
            return HTTPResponse(
                status: 200,
                headers: [
                    ("Content-Type", "text/plain; charset=utf-8"), ("Api-Version", apiVersion), ("Docker-Experimental", "false"),
                    ("Ostype", "linux"), ("Server", "Docker/20.10.24+dfsg1 (linux)"),
                ], body: .bytes(Array("OK".utf8)))
        case "version":
            return json(SyntheticJSON.version(apiVersion: apiVersion))
        case "info":
            let summary = state.withLock { $0.summary() }
            return json(SyntheticJSON.info(summary, rootDir: rootDir))
        case "system_df":
            let body = state.withLock { $0.systemDF() }
            return json(body)
        case "containers_list":
            let body = state.withLock { $0.listBody() }
            return HTTPResponse(status: 200, headers: jsonHeaders, body: .bytes(body))
        case "container_inspect":
            let id = String(path.dropFirst("/containers/".count).dropLast("/json".count))
            guard let body = state.withLock({ $0.inspect(id, logRoot: logRoot) }) else {
                return HTTPResponse(status: 404, headers: jsonHeaders, body: .bytes(Array("{\"message\":\"No such container: \(id)\"}\n".utf8)))
            }
            return json(body)
        case "events":
            return eventStream(since: request.query["since"].flatMap(Double.init))
        default:
            return HTTPResponse(status: 404, headers: jsonHeaders, body: .bytes(Array("{\"message\":\"page not found\"}\n".utf8)))
        }
    }

    private var jsonHeaders: [(String, String)] {
        [("Content-Type", "application/json"), ("Api-Version", apiVersion), ("Server", "Docker/20.10.24+dfsg1 (linux)")]
    }

    private func json(_ body: String) -> HTTPResponse {
        HTTPResponse(status: 200, headers: jsonHeaders, body: .bytes(Array(body.utf8)))
    }

    static func endpointName(_ path: String) -> String {
        switch path {
        case "/_ping": return "ping"
        case "/version": return "version"
        case "/info": return "info"
        case "/system/df": return "system_df"
        case "/containers/json": return "containers_list"
        case "/events": return "events"
        default:
            if path.hasPrefix("/containers/") && path.hasSuffix("/json") { return "container_inspect" }
            return "other"
        }
    }

    private func control(_ path: String, _ query: [String: String]) -> HTTPResponse {
        switch path {
        case "/_bench/mode":
            switch query["set"] ?? "" {
            case "normal": setMode(.normal)
            case "hang": setMode(.hang)
            case "slow": setMode(.slow(milliseconds: Int(query["delay_ms"] ?? "") ?? 1000))
            default: return .text(400, "set=normal|hang|slow\n")
            }
            return .text(200, "ok\n")
        case "/_bench/stats":
            let c = requestCounts
            let containers = containerCount
            let items = c.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
            return .text(200, "{\"containers\":\(containers),\"requests\":{\(items)}}\n", contentType: "application/json")
        case "/_bench/churn":
            func n(_ key: String) -> Int { Int(query[key] ?? "") ?? 0 }
            churn(creates: n("creates"), removes: n("removes"), flaps: n("flaps"), restarts: n("restarts"))
            return .text(200, "ok \(containerCount)\n")
        default:
            return .text(404, "unknown control route\n")
        }
    }

    private func eventStream(since: Double?) -> HTTPResponse {
        let subscription = events.subscribe(since: since)
        let hub = events
        return HTTPResponse(
            status: 200, headers: jsonHeaders,
            body: .stream(
                declaredLength: nil,
                next: {
                    while true {
                        switch subscription.next(timeout: 1.0) {
                        case .lines(let lines):
                            return .data(Array(lines.joined().utf8))
                        case .idle:
                            continue
                        case .closed:
                            hub.unsubscribe(subscription)
                            return .end
                        }
                    }
                }))
    }
}

// MARK: - State

/// One synthetic container.
struct SyntheticContainer {
    var serial: Int
    var id: String
    var name: String
    var image: String
    var imageID: String
    var project: String?
    var service: String?
    var number: Int
    /// running, exited, created, paused, restarting.
    var state: String
    var hasHealthcheck: Bool
    /// healthy, unhealthy, starting (only with a health check).
    var health: String
    var failingStreak: Int
    var exitCode: Int
    var created: Int64
    var startedAt: Int64
    var restartCount: Int
}

struct SyntheticHostState {
    var containers: [SyntheticContainer] = []
    var index: [String: Int] = [:]
    var rng: SplitMix64
    var nextSerial = 0
    var listCache: [UInt8]?
    let baseTime: Int64

    init(count: Int, seed: UInt64) {
        rng = SplitMix64(seed: seed)
        baseTime = 1_700_000_000
        containers.reserveCapacity(count)
        for _ in 0..<count { add(make()) }
    }

    mutating func add(_ c: SyntheticContainer) {
        index[c.id] = containers.count
        containers.append(c)
        listCache = nil
    }

    mutating func remove(at position: Int) {
        let removed = containers[position]
        index[removed.id] = nil
        let last = containers.count - 1
        if position != last {
            containers[position] = containers[last]
            index[containers[position].id] = position
        }
        containers.removeLast()
        listCache = nil
    }

    static let projects = [
        "shop", "billing", "auth", "search", "media", "analytics", "crm", "wiki", "chat", "mail", "ci", "monitoring",
        "gateway", "payments", "inventory", "reports", "booking", "cms", "forum", "tracker",
    ]
    static let services: [(name: String, image: String, command: String, health: Bool)] = [
        ("web", "nginx:1.25-alpine", "/docker-entrypoint.sh nginx -g 'daemon off;'", true),
        ("api", "registry.example.com/acme/api:2024.11.3", "node dist/server.js", true),
        ("worker", "registry.example.com/acme/worker:2024.11.3", "python -m worker --queue default", false),
        ("db", "postgres:16.4", "docker-entrypoint.sh postgres", true),
        ("redis", "redis:7.2-alpine", "docker-entrypoint.sh redis-server --appendonly yes", true),
        ("queue", "rabbitmq:3.13-management", "docker-entrypoint.sh rabbitmq-server", true),
        ("cron", "registry.example.com/acme/cron:2024.11.3", "/usr/local/bin/supercronic /etc/crontab", false),
        ("proxy", "traefik:v3.1", "/entrypoint.sh traefik", false),
    ]
    static let adjectives = ["admiring", "brave", "clever", "dazzling", "eager", "festive", "gifted", "happy", "jolly", "keen"]
    static let surnames = ["hopper", "lovelace", "turing", "curie", "knuth", "ritchie", "torvalds", "liskov", "hamilton", "wozniak"]

    /// An image's ID is the image's, not the container's: every container of one image has the
    /// same `ImageID`, as on a real host (derived from the name, so it stays stable).
    static func imageID(of image: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var words: [UInt64] = []
        for round in 0..<4 {
            for byte in image.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
            h = (h ^ UInt64(round)) &* 0x100_0000_01B3
            words.append(h)
        }
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 48, count: 64)
        for (w, word) in words.enumerated() {
            var x = word
            for i in stride(from: 15, through: 0, by: -1) {
                out[w * 16 + i] = digits[Int(x & 15)]
                x >>= 4
            }
        }
        return "sha256:" + String(decoding: out, as: UTF8.self)
    }

    mutating func hex64() -> String {
        var s = ""
        s.reserveCapacity(64)
        for _ in 0..<4 { s += hex16(rng.next()) }
        return s
    }

    func hex16(_ v: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 48, count: 16)
        var x = v
        for i in stride(from: 15, through: 0, by: -1) {
            out[i] = digits[Int(x & 15)]
            x >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func make() -> SyntheticContainer {
        let serial = nextSerial
        nextSerial += 1
        let id = hex64()
        // 85% belong to a compose project (8 containers per project), the rest are standalone.
        let standalone = rng.uniform() < 0.15
        let svc = Self.services[serial % Self.services.count]
        var project: String?
        var service: String?
        var name: String
        var number = 1
        var image = svc.image
        if standalone {
            name = "\(Self.adjectives[Int(rng.next() % 10)])_\(Self.surnames[Int(rng.next() % 10)])_\(serial)"
            image = ["busybox:1.36", "alpine:3.20", "debian:bookworm-slim"][serial % 3]
        } else {
            let p = serial / Self.services.count
            let proj = "\(Self.projects[p % Self.projects.count])\(p / Self.projects.count)"
            project = proj
            service = svc.name
            number = 1 + Int(rng.next() % 2)
            name = "\(proj)-\(svc.name)-\(number)-\(serial)"
        }
        let r = rng.uniform()
        let state: String
        switch r {
        case ..<0.85: state = "running"
        case ..<0.95: state = "exited"
        case ..<0.97: state = "created"
        case ..<0.98: state = "paused"
        default: state = "restarting"
        }
        let hasHealthcheck = !standalone && svc.health
        var health = "healthy"
        var streak = 0
        if hasHealthcheck && state == "running" {
            let h = rng.uniform()
            if h < 0.04 {
                health = "unhealthy"
                streak = 3 + Int(rng.next() % 20)
            } else if h < 0.08 {
                health = "starting"
            }
        }
        let created = baseTime - Int64(rng.next() % 3_000_000)
        let started = created + Int64(rng.next() % 100_000)
        return SyntheticContainer(
            serial: serial, id: id, name: name, image: image, imageID: Self.imageID(of: image), project: project, service: service,
            number: number, state: state, hasHealthcheck: hasHealthcheck, health: health, failingStreak: streak,
            exitCode: state == "exited" ? [0, 0, 1, 137, 143][serial % 5] : 0, created: created, startedAt: started,
            restartCount: Int(rng.next() % 4))
    }

    func summary() -> SyntheticSummary {
        var s = SyntheticSummary()
        s.total = containers.count
        for c in containers {
            switch c.state {
            case "running", "restarting": s.running += 1
            case "paused": s.paused += 1
            default: s.stopped += 1
            }
        }
        s.images = Set(containers.map(\.image)).count
        return s
    }

    mutating func listBody() -> [UInt8] {
        if let cached = listCache { return cached }
        var out = "["
        out.reserveCapacity(containers.count * 1800 + 2)
        for (i, c) in containers.enumerated() {
            if i > 0 { out += "," }
            out += SyntheticJSON.listEntry(c, now: baseTime + 200_000, sizes: false)
        }
        out += "]\n"
        let bytes = Array(out.utf8)
        listCache = bytes
        return bytes
    }

    func inspect(_ id: String, logRoot: String = "/var/lib/docker") -> String? {
        guard let position = index[id] else { return nil }
        return SyntheticJSON.inspect(containers[position], logRoot: logRoot)
    }

    func systemDF() -> String {
        var out = "{\"LayersSize\":\(Int64(containers.count) * 41_000_000 + 900_000_000),\"Images\":["
        var images: [String: Int] = [:]
        for c in containers { images[c.image, default: 0] += 1 }
        for (i, (image, users)) in images.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out += "," }
            let size = 30_000_000 + Int64(i) * 7_000_000
            out +=
                "{\"Containers\":\(users),\"Created\":\(baseTime - Int64(i) * 86400),\"Id\":\"sha256:\(hex16(UInt64(i) &* 0x9E3779B97F4A7C15))\(String(repeating: "0", count: 48))\","
                + "\"Labels\":null,\"ParentId\":\"\",\"RepoDigests\":[],\"RepoTags\":[\(SyntheticJSON.quote(image))],"
                + "\"SharedSize\":\(size / 3),\"Size\":\(size),\"VirtualSize\":\(size)}"
        }
        out += "],\"Containers\":["
        for (i, c) in containers.enumerated() {
            if i > 0 { out += "," }
            out += SyntheticJSON.listEntry(c, now: baseTime + 200_000, sizes: true)
        }
        out += "],\"Volumes\":["
        let projects = Set(containers.compactMap(\.project)).sorted()
        for (i, p) in projects.enumerated() {
            if i > 0 { out += "," }
            out +=
                "{\"CreatedAt\":\"2024-11-02T10:00:00Z\",\"Driver\":\"local\",\"Labels\":{\"com.docker.compose.project\":\(SyntheticJSON.quote(p)),"
                + "\"com.docker.compose.volume\":\"data\"},\"Mountpoint\":\"/var/lib/docker/volumes/\(p)_data/_data\",\"Name\":\"\(p)_data\","
                + "\"Options\":null,\"Scope\":\"local\",\"UsageData\":{\"RefCount\":1,\"Size\":\(10_000_000 + i * 1000)}}"
        }
        out += "],\"BuildCache\":[]}\n"
        return out
    }

    /// Applies one churn step and returns the event lines it produced.
    mutating func churn(creates: Int, removes: Int, flaps: Int, restarts: Int, now: Double) -> [(Double, String)] {
        var lines: [(Double, String)] = []
        var t = now
        func emit(_ c: SyntheticContainer, _ action: String, _ extra: [(String, String)] = []) {
            t += 0.000_001
            lines.append((t, SyntheticJSON.event(c, action: action, extra: extra, time: t)))
        }
        for _ in 0..<min(removes, containers.count) {
            let position = Int(rng.next() % UInt64(containers.count))
            let c = containers[position]
            if c.state == "running" { emit(c, "die", [("exitCode", "137")]) }
            emit(c, "destroy")
            remove(at: position)
        }
        for _ in 0..<creates {
            var c = make()
            c.state = "running"
            c.startedAt = Int64(now)
            c.created = Int64(now)
            if c.hasHealthcheck { c.health = "starting"; c.failingStreak = 0 }
            emit(c, "create")
            emit(c, "start")
            if c.hasHealthcheck { emit(c, "health_status: starting") }
            add(c)
        }
        // Flaps alternate: a healthy container turns unhealthy, then an unhealthy one recovers, so
        // the share of unhealthy containers stays where it was.
        for i in 0..<flaps {
            let from = i % 2 == 0 ? "healthy" : "unhealthy"
            let candidates = containers.indices.filter {
                containers[$0].hasHealthcheck && containers[$0].state == "running" && containers[$0].health == from
            }
            guard !candidates.isEmpty else { continue }
            let position = candidates[Int(rng.next() % UInt64(candidates.count))]
            var c = containers[position]
            c.health = from == "healthy" ? "unhealthy" : "healthy"
            c.failingStreak = c.health == "unhealthy" ? 3 : 0
            containers[position] = c
            emit(c, "health_status: \(c.health)")
        }
        let running = containers.indices.filter { containers[$0].state == "running" }
        if !running.isEmpty {
            for _ in 0..<restarts {
                let position = running[Int(rng.next() % UInt64(running.count))]
                var c = containers[position]
                emit(c, "die", [("exitCode", "1")])
                c.restartCount += 1
                c.startedAt = Int64(now)
                containers[position] = c
                emit(c, "start")
            }
        }
        listCache = nil
        return lines
    }
}

struct SyntheticSummary {
    var total = 0
    var running = 0
    var paused = 0
    var stopped = 0
    var images = 0
}

/// Deterministic 64-bit generator (SplitMix64): the synthetic host's, and tests' that must reproduce.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

// MARK: - JSON shapes

enum SyntheticJSON {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    static func labels(_ c: SyntheticContainer) -> [(String, String)] {
        var l: [(String, String)] = []
        if let p = c.project, let s = c.service {
            l += [
                ("com.docker.compose.config-hash", String(c.id.reversed())),
                ("com.docker.compose.container-number", "\(c.number)"),
                ("com.docker.compose.depends_on", s == "web" ? "api:service_started:false" : ""),
                ("com.docker.compose.image", c.imageID),
                ("com.docker.compose.oneoff", "False"),
                ("com.docker.compose.project", p),
                ("com.docker.compose.project.config_files", "/srv/\(p)/compose.yaml"),
                ("com.docker.compose.project.working_dir", "/srv/\(p)"),
                ("com.docker.compose.service", s),
                ("com.docker.compose.version", "2.29.7"),
            ]
        }
        if c.image.hasPrefix("nginx") { l.append(("maintainer", "NGINX Docker Maintainers <docker-maint@nginx.com>")) }
        if c.image.hasPrefix("registry.example.com") {
            l += [("org.opencontainers.image.source", "https://git.example.com/acme/app"), ("org.opencontainers.image.revision", String(c.imageID.suffix(40)))]
        }
        if c.serial % 7 == 0 { l.append(("autoheal", "true")) }
        return l.sorted { $0.0 < $1.0 }
    }

    static func labelsObject(_ c: SyntheticContainer) -> String {
        "{" + labels(c).map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",") + "}"
    }

    static func ago(_ seconds: Int64) -> String {
        switch seconds {
        case ..<60: return "\(max(1, seconds)) seconds"
        case ..<3600: return "\(seconds / 60) minutes"
        case ..<172_800: return "\(seconds / 3600) hours"
        default: return "\(seconds / 86400) days"
        }
    }

    static func status(_ c: SyntheticContainer, now: Int64) -> String {
        switch c.state {
        case "running":
            let up = "Up \(ago(now - c.startedAt))"
            guard c.hasHealthcheck else { return up }
            switch c.health {
            case "healthy": return up + " (healthy)"
            case "unhealthy": return up + " (unhealthy)"
            default: return up + " (health: starting)"
            }
        case "exited": return "Exited (\(c.exitCode)) \(ago(now - c.startedAt - 3600)) ago"
        case "paused": return "Up \(ago(now - c.startedAt)) (Paused)"
        case "restarting": return "Restarting (1) 4 seconds ago"
        default: return "Created"
        }
    }

    static func network(_ c: SyntheticContainer) -> String { c.project.map { "\($0)_default" } ?? "bridge" }

    static func listEntry(_ c: SyntheticContainer, now: Int64, sizes: Bool) -> String {
        let net = network(c)
        let ip = "172.\(18 + (c.serial / 65000) % 10).\((c.serial / 250) % 250).\(2 + c.serial % 250)"
        let running = c.state == "running" || c.state == "paused"
        let endpoint = running ? String(c.id.prefix(32)) + String(c.imageID.suffix(32)) : ""
        var out = "{\"Id\":\"\(c.id)\",\"Names\":[\(quote("/" + c.name))],\"Image\":\(quote(c.image)),\"ImageID\":\"\(c.imageID)\","
        out += "\"Command\":\(quote(command(c))),\"Created\":\(c.created),"
        out +=
            c.service == "web" && running
            ? "\"Ports\":[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":\(20000 + c.serial % 40000),\"Type\":\"tcp\"}],"
            : "\"Ports\":[],"
        if sizes { out += "\"SizeRw\":\(4096 * (1 + c.serial % 500)),\"SizeRootFs\":\(80_000_000 + c.serial % 1000)," }
        out += "\"Labels\":\(labelsObject(c)),\"State\":\"\(c.state)\",\"Status\":\(quote(status(c, now: now))),"
        out += "\"HostConfig\":{\"NetworkMode\":\"\(net)\"},\"NetworkSettings\":{\"Networks\":{\"\(net)\":{\"IPAMConfig\":null,"
        out += "\"Links\":null,\"Aliases\":null,\"NetworkID\":\"\(String(c.imageID.suffix(64)))\",\"EndpointID\":\"\(endpoint)\","
        out += "\"Gateway\":\"\(running ? "172.18.0.1" : "")\",\"IPAddress\":\"\(running ? ip : "")\",\"IPPrefixLen\":\(running ? 16 : 0),"
        out += "\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"\(running ? "02:42:ac:12:00:02" : "")\",\"DriverOpts\":null}}},"
        if let p = c.project, c.service == "db" || c.service == "redis" || c.service == "queue" {
            out += "\"Mounts\":[{\"Type\":\"volume\",\"Name\":\"\(p)_data\",\"Source\":\"/var/lib/docker/volumes/\(p)_data/_data\","
            out += "\"Destination\":\"/data\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"}]}"
        } else {
            out += "\"Mounts\":[]}"
        }
        return out
    }

    static func command(_ c: SyntheticContainer) -> String {
        if let s = c.service, let svc = SyntheticHostState.services.first(where: { $0.name == s }) { return svc.command }
        return "sh -c 'while true; do sleep 3600; done'"
    }

    static func iso(_ unix: Int64, nanos: Int = 123_456_789) -> String {
        let d = Date(timeIntervalSince1970: Double(unix))
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let p = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: d)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", p.year!, p.month!, p.day!, p.hour!, p.minute!, p.second!, nanos)
    }

    static func inspect(_ c: SyntheticContainer, logRoot: String = "/var/lib/docker") -> String {
        let running = c.state == "running" || c.state == "paused" || c.state == "restarting"
        var health = ""
        if c.hasHealthcheck {
            var log: [String] = []
            for i in 0..<5 {
                let failing = c.health == "unhealthy" && i >= 5 - min(5, c.failingStreak)
                let start = c.startedAt + 1000 + Int64(i) * 30
                log.append(
                    "{\"Start\":\"\(iso(start))\",\"End\":\"\(iso(start, nanos: 523_456_789))\",\"ExitCode\":\(failing ? 1 : 0),"
                        + "\"Output\":\(quote(failing ? "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Connection refused\n" : "ok\n"))}")
            }
            if c.health == "starting" { log = [] }
            health = ",\"Health\":{\"Status\":\"\(c.health)\",\"FailingStreak\":\(c.failingStreak),\"Log\":[\(log.joined(separator: ","))]}"
        }
        let finished = c.state == "exited" ? iso(c.startedAt + 3600) : "0001-01-01T00:00:00Z"
        let net = network(c)
        let env = "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TZ=UTC\",\"APP_ENV=production\",\"LOG_LEVEL=info\"]"
        let healthcheck =
            c.hasHealthcheck
            ? ",\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -fsS http://localhost:8080/healthz || exit 1\"],\"Interval\":30000000000,\"Timeout\":5000000000,\"Retries\":3}"
            : ""
        var out = "{\"Id\":\"\(c.id)\",\"Created\":\"\(iso(c.created))\",\"Path\":\"/docker-entrypoint.sh\",\"Args\":[\"start\"],"
        out += "\"State\":{\"Status\":\"\(c.state)\",\"Running\":\(running),\"Paused\":\(c.state == "paused"),\"Restarting\":\(c.state == "restarting"),"
        out += "\"OOMKilled\":false,\"Dead\":false,\"Pid\":\(running ? 10000 + c.serial : 0),\"ExitCode\":\(c.exitCode),\"Error\":\"\","
        out += "\"StartedAt\":\"\(iso(c.startedAt))\",\"FinishedAt\":\"\(finished)\"\(health)},"
        out += "\"Image\":\"\(c.imageID)\",\"ResolvConfPath\":\"/var/lib/docker/containers/\(c.id)/resolv.conf\","
        out += "\"HostnamePath\":\"/var/lib/docker/containers/\(c.id)/hostname\",\"HostsPath\":\"/var/lib/docker/containers/\(c.id)/hosts\","
        out += "\"LogPath\":\"\(logRoot)/containers/\(c.id)/\(c.id)-json.log\",\"Name\":\(quote("/" + c.name)),\"RestartCount\":\(c.restartCount),"
        out += "\"Driver\":\"overlay2\",\"Platform\":\"linux\",\"MountLabel\":\"\",\"ProcessLabel\":\"\",\"AppArmorProfile\":\"docker-default\","
        out += "\"ExecIDs\":null,\"HostConfig\":{\"Binds\":null,\"ContainerIDFile\":\"\",\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{}},"
        out += "\"NetworkMode\":\"\(net)\",\"PortBindings\":{},\"RestartPolicy\":{\"Name\":\"\(c.project == nil ? "no" : "unless-stopped")\",\"MaximumRetryCount\":0},"
        out += "\"AutoRemove\":false,\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"CapAdd\":null,\"CapDrop\":null,\"CgroupnsMode\":\"private\","
        out += "\"Dns\":null,\"DnsOptions\":null,\"DnsSearch\":null,\"ExtraHosts\":[],\"GroupAdd\":null,\"IpcMode\":\"private\",\"Cgroup\":\"\","
        out += "\"Links\":null,\"OomScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,"
        out += "\"SecurityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":67108864,\"Runtime\":\"runc\",\"Isolation\":\"\","
        out += "\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\","
        out += "\"Devices\":null,\"MemoryReservation\":0,\"MemorySwap\":0,\"OomKillDisable\":null,\"PidsLimit\":null,\"Ulimits\":null,"
        out += "\"MaskedPaths\":[\"/proc/asound\",\"/proc/acpi\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\","
        out += "\"/proc/timer_stats\",\"/proc/sched_debug\",\"/proc/scsi\",\"/sys/firmware\"],\"ReadonlyPaths\":[\"/proc/bus\",\"/proc/fs\","
        out += "\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]},\"GraphDriver\":{\"Data\":{"
        out += "\"LowerDir\":\"/var/lib/docker/overlay2/\(c.id)-init/diff:/var/lib/docker/overlay2/\(c.imageID.suffix(64))/diff\","
        out += "\"MergedDir\":\"/var/lib/docker/overlay2/\(c.id)/merged\",\"UpperDir\":\"/var/lib/docker/overlay2/\(c.id)/diff\","
        out += "\"WorkDir\":\"/var/lib/docker/overlay2/\(c.id)/work\"},\"Name\":\"overlay2\"},\"Mounts\":[],"
        out += "\"Config\":{\"Hostname\":\"\(c.id.prefix(12))\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":true,"
        out += "\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":\(env),"
        out += "\"Cmd\":[\(quote(command(c)))]\(healthcheck),\"Image\":\(quote(c.image)),\"Volumes\":null,\"WorkingDir\":\"/app\","
        out += "\"Entrypoint\":[\"/docker-entrypoint.sh\"],\"OnBuild\":null,\"Labels\":\(labelsObject(c)),\"StopSignal\":\"SIGTERM\"},"
        out += "\"NetworkSettings\":{\"Bridge\":\"\",\"SandboxID\":\"\(c.imageID.suffix(64))\",\"HairpinMode\":false,"
        out += "\"LinkLocalIPv6Address\":\"\",\"LinkLocalIPv6PrefixLen\":0,\"Ports\":{},\"SandboxKey\":\"/var/run/docker/netns/\(c.id.prefix(12))\","
        out += "\"SecondaryIPAddresses\":null,\"SecondaryIPv6Addresses\":null,\"EndpointID\":\"\",\"Gateway\":\"\",\"GlobalIPv6Address\":\"\","
        out += "\"GlobalIPv6PrefixLen\":0,\"IPAddress\":\"\",\"IPPrefixLen\":0,\"IPv6Gateway\":\"\",\"MacAddress\":\"\",\"Networks\":{\"\(net)\":"
        out += "{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":[\(quote(c.service ?? c.name)),\"\(c.id.prefix(12))\"],"
        out += "\"NetworkID\":\"\(c.imageID.suffix(64))\",\"EndpointID\":\"\",\"Gateway\":\"172.18.0.1\",\"IPAddress\":\"172.18.0.2\","
        out += "\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"02:42:ac:12:00:02\",\"DriverOpts\":null}}}}\n"
        return out
    }

    static func event(_ c: SyntheticContainer, action: String, extra: [(String, String)], time: Double) -> String {
        var attributes = labels(c) + extra + [("image", c.image), ("name", c.name)]
        attributes.sort { $0.0 < $1.0 }
        let attrs = attributes.map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",")
        let nanos = Int64(time * 1e9)
        return "{\"status\":\(quote(action)),\"id\":\"\(c.id)\",\"from\":\(quote(c.image)),\"Type\":\"container\",\"Action\":\(quote(action)),"
            + "\"Actor\":{\"ID\":\"\(c.id)\",\"Attributes\":{\(attrs)}},\"scope\":\"local\",\"time\":\(nanos / 1_000_000_000),\"timeNano\":\(nanos)}\n"
    }

    static func version(apiVersion: String) -> String {
        """
        {"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"\(apiVersion)",\
        "Arch":"amd64","BuildTime":"2024-05-05T17:51:04.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8",\
        "KernelVersion":"6.1.0","MinAPIVersion":"1.12","Os":"linux"}}],"Version":"20.10.24+dfsg1","ApiVersion":"\(apiVersion)",\
        "MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0",\
        "BuildTime":"2024-05-05T17:51:04.000000000+00:00"}

        """
    }

    static func info(_ s: SyntheticSummary, rootDir: String) -> String {
        """
        {"ID":"SYNT:HETI:CHOS:T000","Containers":\(s.total),"ContainersRunning":\(s.running),"ContainersPaused":\(s.paused),\
        "ContainersStopped":\(s.stopped),"Images":\(s.images),"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],\
        ["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]],"DockerRootDir":\(quote(rootDir)),\
        "LiveRestoreEnabled":false,"ServerVersion":"20.10.24+dfsg1","Name":"synthetic","OperatingSystem":"Debian GNU/Linux 12 (bookworm)",\
        "OSType":"linux","Architecture":"x86_64","NCPU":2,"MemTotal":25273303040,"KernelVersion":"6.1.0","CgroupDriver":"systemd",\
        "CgroupVersion":"2","LoggingDriver":"json-file","Labels":[],"ExperimentalBuild":false}

        """
    }
}

// MARK: - Events

/// Fans churn events out to the open `/events` streams, and keeps the last 256 for `since=` replays
/// (as dockerd does).
final class EventHub: Sendable {
    final class Subscription: Sendable {
        let condition = NSCondition()
        let queue = Mutex<[String]>([])
        let closed = Mutex(false)

        enum Next { case lines([String]), idle, closed }

        func push(_ lines: [String]) {
            condition.lock()
            queue.withLock { $0 += lines }
            condition.broadcast()
            condition.unlock()
        }

        func close() {
            condition.lock()
            closed.withLock { $0 = true }
            condition.broadcast()
            condition.unlock()
        }

        func next(timeout: Double) -> Next {
            condition.lock()
            defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let lines = queue.withLock { q -> [String] in
                    defer { q.removeAll() }; return q
                }
                if !lines.isEmpty { return .lines(lines) }
                if closed.withLock({ $0 }) { return .closed }
                if !condition.wait(until: deadline) { return .idle }
            }
        }
    }

    private let subscribers = Mutex<[ObjectIdentifier: Subscription]>([:])
    private let recent = Mutex<[(Double, String)]>([])
    private let isClosed = Mutex(false)

    func subscribe(since: Double?) -> Subscription {
        let s = Subscription()
        let replay = since.map { since in recent.withLock { $0.filter { $0.0 > since }.map(\.1) } } ?? []
        if !replay.isEmpty { s.queue.withLock { $0 = replay } }
        if isClosed.withLock({ $0 }) { s.close() }
        subscribers.withLock { $0[ObjectIdentifier(s)] = s }
        return s
    }

    func unsubscribe(_ s: Subscription) {
        subscribers.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(s)) }
    }

    func publish(_ lines: [(Double, String)]) {
        guard !lines.isEmpty else { return }
        recent.withLock { r in
            r += lines
            if r.count > 256 { r.removeFirst(r.count - 256) }
        }
        let text = lines.map(\.1)
        for s in subscribers.withLock({ Array($0.values) }) { s.push(text) }
    }

    func close() {
        isClosed.withLock { $0 = true }
        for s in subscribers.withLock({ Array($0.values) }) { s.close() }
    }
}

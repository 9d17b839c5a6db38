import Foundation
import Locking
import Testing
import WatchdogTestSupport

/// Hostile and broken clients against the real `docker-watchdog` binary over loopback (no Docker
/// needed: the Docker endpoint does not exist, `/metrics` is served regardless).
///
/// Clients come from different loopback addresses (127.0.0.2, ...) where the per-address limit
/// matters, as a real attacker and a real Prometheus would.
@Suite("HTTP abuse", .serialized)
struct HTTPAbuseTests {
    /// Web limits small enough to hit quickly: request timeout 2 s, 40 connections, 30 per address.
    static func watchdog(_ extra: [String] = []) throws -> WatchdogProcess {
        try WatchdogProcess(
            arguments: [
                "--docker.host", "unix:///nonexistent/docker-watchdog-abuse.sock",
                "--collector.containers.enabled=false", "--collector.build-cache.enabled=false",
                "--web.connection-timeout", "2s", "--web.max-connections", "40", "--web.max-connections-per-ip", "30",
            ] + extra)
    }

    /// One scrape from `source` with a raw connection; the status, or nil for none within `timeout`.
    static func scrape(_ port: Int, from source: String, timeout: Duration = .seconds(1)) -> (status: Int?, elapsed: Duration) {
        let start = ContinuousClock.now
        guard let c = try? RawConnection(port: port, from: source) else { return (nil, ContinuousClock.now - start) }
        defer { c.close() }
        c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let received = c.read(timeout: timeout, stop: isCompleteResponse)
        return (isCompleteResponse(received.bytes) ? received.status : nil, ContinuousClock.now - start)
    }

    static func rssKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// Slowloris: 25 clients trickle header bytes every 500 ms. Scrapes from another address keep
    /// getting their 200 within 1 s, and every slow connection is cut once the 2 s request
    /// deadline passes, although it was never idle (libmicrohttpd's own timeout would never fire).
    @Test func slowClientsDoNotStarveScrapesAndAreCut() throws {
        let wd = try Self.watchdog()
        defer { wd.stop() }
        let port = wd.port
        let slowCount = 25
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var closedAfter: [Duration?]
            init(_ n: Int) { closedAfter = Array(repeating: nil, count: n) }
        }
        let results = Results(slowCount)
        let group = DispatchGroup()
        for i in 0..<slowCount {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let start = ContinuousClock.now
                guard let c = try? RawConnection(port: port, from: "127.0.0.2") else { return }
                defer { c.close() }
                c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                while ContinuousClock.now - start < .seconds(8) {
                    if !c.send("a") || c.read(timeout: .milliseconds(500)).closed {
                        let elapsed = ContinuousClock.now - start
                        results.lock.withLock { results.closedAfter[i] = elapsed }
                        return
                    }
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        var slowScrapes: [String] = []
        for round in 0..<6 {
            let (status, elapsed) = Self.scrape(port, from: "127.0.0.3")
            if status != 200 || elapsed > .seconds(1) { slowScrapes.append("round \(round): \(status.map(String.init) ?? "none") after \(elapsed)") }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(slowScrapes.isEmpty, "scrapes during the slow-client attack: \(slowScrapes)")
        group.wait()
        let closed = results.lock.withLock { results.closedAfter }
        let notCut = closed.filter { $0 == nil }.count
        #expect(notCut == 0, "\(notCut) of \(slowCount) trickling connections were still open after 8 s")
        // Deadline 2 s, swept every 250 ms, plus the client's 500 ms read cadence and a loaded machine.
        let late = closed.compactMap { $0 }.filter { $0 > .seconds(5) }
        #expect(late.isEmpty, "cut too late: \(late)")
        #expect(Self.scrape(port, from: "127.0.0.2").status == 200, "the attacking address can scrape again afterwards")
    }

    /// A 100 KB header, and a 100 KB URL: a 4xx answer (431/414/413/400) or a closed connection,
    /// the server keeps serving, and 40 such requests do not grow its memory.
    @Test func oversizedHeaderAndURLAreRefusedWithoutMemoryGrowth() throws {
        let wd = try Self.watchdog()
        defer { wd.stop() }
        let bigHeader = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "h", count: 100_000) + "\r\n\r\n"
        let bigURL = "GET /" + String(repeating: "u", count: 100_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        func attempt(_ request: String) -> (status: Int?, closed: Bool) {
            guard let c = try? RawConnection(port: wd.port, from: "127.0.0.4") else { return (nil, true) }
            defer { c.close() }
            c.send(request)
            let r = c.read(timeout: .seconds(3), stop: isCompleteResponse)
            return (r.status, r.closed)
        }
        for request in [bigHeader, bigURL] {
            let (status, closed) = attempt(request)
            if let status {
                #expect((400..<500).contains(status), "oversized request answered \(status)")
            } else {
                #expect(closed, "oversized request neither answered nor closed within 3 s")
            }
        }
        #expect(Self.scrape(wd.port, from: "127.0.0.3").status == 200)
        // Warm up allocator caches, then 40 more of each must not add more than 16 MiB.
        for _ in 0..<5 { _ = attempt(bigHeader); _ = attempt(bigURL) }
        let before = Self.rssKiB(wd.pid)
        for _ in 0..<40 { _ = attempt(bigHeader); _ = attempt(bigURL) }
        let after = Self.rssKiB(wd.pid)
        #expect(before > 0 && after - before < 16 * 1024, "RSS grew from \(before) KiB to \(after) KiB")
        #expect(Self.scrape(wd.port, from: "127.0.0.3").status == 200)
    }

    /// More connections than `web.max_connections` (40) from several addresses: a new client is
    /// admitted by closing the connection that has waited longest for a request (issue 20: they
    /// used to hold every slot until the request deadline, and scrapes failed meanwhile), and the
    /// idle holders are all closed.
    @Test func connectionsBeyondTheLimitEvictTheLongestWaiting() throws {
        let wd = try Self.watchdog()
        defer { wd.stop() }
        var held: [RawConnection] = []
        for i in 0..<50 {
            // 10 per address, below the per-address limit of 30: only the total limit applies.
            if let c = try? RawConnection(port: wd.port, from: "127.0.1.\(i / 10 + 1)") { held.append(c) }
        }
        Thread.sleep(forTimeInterval: 0.2)
        let during = Self.scrape(wd.port, from: "127.0.0.3")
        #expect(during.status == 200 && during.elapsed < .seconds(1), "scrape while 50 idle connections are open: \(during)")
        // The oldest were evicted at once; the rest go at the request deadline (2 s).
        var closed = Set<Int>()
        let cutDeadline = ContinuousClock.now + .seconds(8)
        repeat {
            for (i, c) in held.enumerated() where !closed.contains(i) && c.read(timeout: .milliseconds(1)).closed { closed.insert(i) }
            if closed.count >= 50 { break }
            Thread.sleep(forTimeInterval: 0.2)
        } while ContinuousClock.now < cutDeadline
        #expect(closed.count >= 49, "only \(closed.count) of the 50 idle connections were closed by the server")
        held.forEach { $0.close() }
    }

    /// Issue 20: 300 idle and 300 trickling connections from 300 loopback addresses, then the same
    /// from the scraper's own address: every one of 30 scrapes is answered within 1 s (Prometheus
    /// gives up after 10 s; before, the answer took 19.7 s and 20 of 30 failed).
    @Test(arguments: ["many addresses", "the scraper's address"])
    func idleAndTricklingFloodsCannotStarveScrapes(_ mode: String) throws {
        let wd = try WatchdogProcess(arguments: [
            "--docker.host", "unix:///nonexistent/docker-watchdog-abuse.sock",
            "--collector.containers.enabled=false", "--collector.build-cache.enabled=false",
        ])
        defer { wd.stop() }
        let scraper = "127.0.0.1"
        func source(_ i: Int) -> String { mode == "many addresses" ? "127.0.\(2 + i / 250).\(1 + i % 250)" : scraper }
        var idle: [RawConnection] = []
        var trickling: [RawConnection] = []
        for i in 0..<300 {
            if let c = try? RawConnection(port: wd.port, from: source(i)) { idle.append(c) }
            if let c = try? RawConnection(port: wd.port, from: source(i)) {
                c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                trickling.append(c)
            }
        }
        defer {
            idle.forEach { $0.close() }
            trickling.forEach { $0.close() }
        }
        let stop = Mutex(false)
        let slow = trickling
        let trickler = Thread {
            while !stop.withLock({ $0 }) {
                for c in slow { _ = c.send("a") }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        trickler.start()
        defer { stop.withLock { $0 = true } }
        var failures: [String] = []
        for round in 0..<30 {
            let (status, elapsed) = Self.scrape(wd.port, from: scraper)
            if status != 200 || elapsed >= .seconds(1) {
                failures.append("scrape \(round): \(status.map(String.init) ?? "no answer") after \(elapsed)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(failures.isEmpty, "\(mode): \(failures)")
    }

    /// Anything but GET and HEAD is 405 with `Allow`, on every endpoint, and changes nothing.
    @Test func nonGetMethodsAre405AndChangeNothing() throws {
        let wd = try Self.watchdog(["--remediation.dry-run=true"])
        defer { wd.stop() }
        let actionsBefore = try wd.get("/api/v1/actions").body
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
            for path in ["/metrics", "/api/v1/actions", "/api/v1/plan", "/"] {
                let c = try RawConnection(port: wd.port)
                defer { c.close() }
                c.send("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                let r = c.read(timeout: .seconds(2), stop: isCompleteResponse)
                #expect(r.status == 405, "\(method) \(path) answered \(r.status.map(String.init) ?? "nothing")")
                #expect(r.text.lowercased().contains("allow: get, head"), "\(method) \(path) without Allow")
            }
        }
        #expect(try wd.get("/api/v1/actions").body == actionsBefore)
    }

    /// HTTP/1.0, pipelining and garbage.
    @Test func http10PipeliningAndGarbage() throws {
        let wd = try Self.watchdog()
        defer { wd.stop() }
        // HTTP/1.0 without keep-alive: answered, then closed by the server.
        do {
            let c = try RawConnection(port: wd.port)
            c.send("GET /healthz HTTP/1.0\r\n\r\n")
            let r = c.read(timeout: .seconds(2))
            #expect(r.status == 200)
            #expect(r.closed, "an HTTP/1.0 connection stayed open")
        }
        // Three pipelined requests in one write: three answers in order.
        do {
            let c = try RawConnection(port: wd.port)
            c.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let r = c.read(timeout: .seconds(3))
            let statuses = r.text.split(separator: "\n").filter { $0.hasPrefix("HTTP/1.1 ") }.map { $0.dropFirst(9).prefix(3) }
            #expect(statuses == ["200", "404", "200"], "pipelined answers: \(statuses)")
        }
        // Valid requests, whatever their HTTP version or pipelining, are no server errors.
        let validErrors = try wd.samples().first { $0.name == "docker_watchdog_http_server_errors_total" }?.value
        #expect(validErrors == 0)
        // Garbage (a TLS ClientHello, binary noise, a bare newline flood): 400 or closed, never a hang.
        let garbage: [[UInt8]] = [
            [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + Array(repeating: 0, count: 64),
            (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 7919) },
            Array(repeating: 0x0A, count: 10_000),
            Array("GET / HTTP/9.9\r\n\r\n".utf8),
            Array("GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n".utf8),
            Array("GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8),
        ]
        for bytes in garbage {
            let c = try RawConnection(port: wd.port)
            c.send(bytes)
            let r = c.read(timeout: .seconds(4), stop: isCompleteResponse)
            if let status = r.status {
                #expect((400..<600).contains(status), "garbage answered \(status)")
            } else {
                #expect(r.closed, "garbage neither answered nor closed within 4 s (\(bytes.prefix(16)))")
            }
            c.close()
        }
        #expect(try wd.get("/metrics").status == 200)
        #expect(wd.process.isRunning)
        // The server's complaints about the garbage are counted, and logged once (then at most
        // once per 10 s), through the watchdog's log instead of libmicrohttpd's own stderr lines.
        let errors = try wd.samples().first { $0.name == "docker_watchdog_http_server_errors_total" }?.value ?? 0
        #expect(errors >= Double(garbage.count) / 2 && errors > (validErrors ?? 0), "\(errors) server errors counted after the garbage")
        let logged = wd.log.split(separator: "\n").filter { $0.contains("http server could not serve a connection") }
        // (One line per 10 s at most: fewer lines than errors, however slow the machine.)
        #expect(!logged.isEmpty && Double(logged.count) < errors, "\(errors) errors, log: \(logged)")
    }
}

import DockerEngine
import Dispatch
import FoundationEssentials
import Logging
import Locking
import Sampling

/// Follows the daemon's container events on a dedicated thread and feeds them to the tracker.
///
/// One stream, filtered on the daemon's side to the events that change what we export (never the
/// `exec_*` noise of health probes). Before each (re)connect it re-synchronises from a full list and
/// then asks for events `since` the last one it saw, so nothing that happened while the stream was
/// down is lost: the list catches state, the replay catches deaths and OOM kills. Reconnects back
/// off exponentially up to 30 s.
public final class EventStreamer: Sendable {
    /// The events asked for. Docker's names and Podman's own for the same events ("died",
    /// "remove"): Podman 4.3 filters by its own names, so a filter on "die" and "destroy" alone
    /// would receive no deaths and no removals from it; Docker ignores names it does not send.
    public static let actions = [
        "create", "start", "restart", "die", "died", "oom", "destroy", "remove", "pause", "unpause", "rename",
        "health_status",
    ]

    public struct Status: Sendable, Equatable {
        /// The daemon answered the current `/events` request (status and headers).
        public var connected = false
        public var reconnects: UInt64 = 0
        public var undecodable: UInt64 = 0
        /// Requests the daemon accepted but did not answer within the headers deadline.
        public var hangs: UInt64 = 0
        /// Event lines longer than the line limit, dropped.
        public var oversizedLines: UInt64 = 0
        public var lastError: String?
    }

    private let client: DockerClient
    private let tracker: ContainerTracker
    private let logger: Logger
    private let control = StopSignal()
    private let status = Mutex(Status())
    private let lastEventTime = Mutex<Double?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private let maxBackoff: Duration
    /// The daemon must answer `/events` within this (docker.request_timeout).
    private let headersTimeout: Duration
    /// Longest event line kept; longer ones are dropped and counted.
    private let maxLineBytes: Int
    private let statusObserver = Mutex<(@Sendable () -> Void)?>(nil)

    public init(
        client: DockerClient, tracker: ContainerTracker, logger: Logger, maxBackoff: Duration = .seconds(30),
        headersTimeout: Duration? = nil, maxLineBytes: Int = 1 << 20
    ) {
        self.headersTimeout = headersTimeout ?? client.requestTimeout
        self.maxLineBytes = maxLineBytes
        self.client = client
        self.tracker = tracker
        self.logger = logger
        self.maxBackoff = maxBackoff
    }

    public var currentStatus: Status { status.withLock { $0 } }

    /// Calls `body` (on the streamer's thread) whenever the stream connects or breaks: the
    /// containers collector publishes `docker_watchdog_events_stream_up` with its rounds, and the
    /// service has it run a round at once instead of showing the change an interval late.
    public func observeConnection(_ body: @escaping @Sendable () -> Void) {
        statusObserver.withLock { $0 = body }
    }

    /// Sets `connected`, and tells the observer when it changed.
    private func setConnected(_ connected: Bool, _ update: (inout Status) -> Void = { _ in }) {
        let changed = status.withLock { s -> Bool in
            let was = s.connected
            s.connected = connected
            update(&s)
            return was != connected
        }
        if changed, let observer = statusObserver.withLock({ $0 }) { observer() }
    }

    public func start() {
        startThread(name: "docker-events") { [self] in
            self.loop()
            self.finished.signal()
        }
    }

    /// Ends the stream (within about a second, libcurl's progress tick) and the loop.
    public func stop(timeout: Duration = .seconds(3)) {
        control.stop()
        _ = finished.wait(timeout: .now() + seconds(timeout))
    }

    private func loop() {
        var backoff = Duration.milliseconds(250)
        var attempt: UInt64 = 0
        while !control.isStopped {
            let connectedAt = ContinuousClock.now
            do {
                // Resync first, then replay from the last event seen: see the type's comment.
                let since = lastEventTime.withLock { $0 } ?? Date().timeIntervalSince1970
                // Decoded with the tracker's label keys; the cache (and the answer's bytes it keeps)
                // goes before the stream is followed.
                do {
                    var cache = ContainerListCache(labelKeys: tracker.labelKeys)
                    tracker.applyList(try client.listContainers(reusing: &cache))
                }
                let isReconnect = attempt > 0
                attempt += 1
                var counted = false
                var loggedOversized = false
                try client.followContainerEvents(
                    actions: Self.actions, since: since, headersTimeout: headersTimeout, maxLineBytes: maxLineBytes,
                    shouldStop: { [control] in control.isStopped },
                    onConnected: { [self] in
                        // Up only once the daemon has answered, not when the request went out.
                        self.setConnected(true) { s in
                            s.lastError = nil
                            if isReconnect && !counted { s.reconnects += 1 }
                        }
                        counted = true
                    },
                    onEvent: { [self] event in
                        self.tracker.applyEvent(event)
                        self.lastEventTime.withLock { $0 = Double(event.timeNano) / 1e9 }
                    },
                    onUndecodable: { [self] line in
                        self.status.withLock { $0.undecodable += 1 }
                        self.logger.warning("undecodable event from docker", metadata: ["line": "\(line)"])
                    },
                    onOversized: { [self] bytes in
                        self.status.withLock { $0.oversizedLines += 1 }
                        // One log line per stream at most: a flood of them must not flood the log.
                        if !loggedOversized {
                            loggedOversized = true
                            self.logger.warning(
                                "docker event line too long; dropped", metadata: ["bytes": "\(bytes)", "limit": "\(self.maxLineBytes)"])
                        }
                    })
            } catch {
                let hung: Bool
                if case .timedOut = error { hung = true } else { hung = false }
                let logIt = status.withLock { s -> Bool in
                    let first = s.connected || s.lastError == nil
                    s.lastError = "\(error)"
                    if hung && !s.connected { s.hangs += 1 }
                    return first || hung
                }
                if logIt {
                    logger.warning(
                        hung ? "docker events stream did not answer; reconnecting" : "docker events stream broke; reconnecting",
                        metadata: ["error": "\(error)"])
                }
            }
            setConnected(false)
            if control.isStopped { break }
            // A stream that lived a while was healthy: start the backoff over.
            if ContinuousClock.now - connectedAt > .seconds(30) { backoff = .milliseconds(250) }
            control.wait(until: .now + backoff)
            backoff = min(backoff * 2, maxBackoff)
        }
    }
}

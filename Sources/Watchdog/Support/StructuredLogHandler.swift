import Dispatch
import FoundationEssentials
import TextFormatting
#if canImport(Glibc)
    import Glibc
#endif
import Logging
import Locking
import Sampling

/// A swift-log handler that writes one logfmt or JSON line per message to standard error.
///
/// Structured lines because the watchdog's logs are read by machines (journald, Loki) as often as by
/// people; details go in metadata with stable keys (`collector`, `error`, `endpoint`).
public struct StructuredLogHandler: LogHandler {
    public enum Format: Sendable { case logfmt, json }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: Format
    private let sink: LogSink

    public init(label: String, format: Format, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Self.timestamp()
        var fields: [(String, String)] = [("ts", time), ("level", "\(event.level)"), ("msg", "\(event.message)")]
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        sink.write(format == .json ? Self.json(fields) : Self.logfmt(fields))
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.isNewline }
            guard needsQuotes else { return "\(key)=\(value)" }
            var escaped = ""
            for character in value.unicodeScalars {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                default: escaped.unicodeScalars.append(character)
                }
            }
            return "\(key)=\"\(escaped)\""
        }.joined(separator: " ") + "\n"
    }

    static func json(_ fields: [(String, String)]) -> String {
        func quote(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out += "\\u" + hexPadded(scalar.value, width: 4)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        }
        return "{" + fields.map { "\(quote($0.0)):\(quote($0.1))" }.joined(separator: ",") + "}\n"
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var tm = tm()
        var seconds = tv.tv_sec
        gmtime_r(&seconds, &tm)
        return zeroPadded(tm.tm_year + 1900, width: 4) + "-" + zeroPadded(tm.tm_mon + 1, width: 2) + "-"
            + zeroPadded(tm.tm_mday, width: 2) + "T" + zeroPadded(tm.tm_hour, width: 2) + ":" + zeroPadded(tm.tm_min, width: 2)
            + ":" + zeroPadded(tm.tm_sec, width: 2) + "." + zeroPadded(tv.tv_usec / 1000, width: 3) + "Z"
    }
}

/// Where log lines go.
///
/// Lines are queued and written by one writer thread, so a stalled reader of standard error
/// (journald under load, a full pipe) can never stall a sampling loop or a remediation: past
/// `capacity` queued lines the oldest are dropped and the next line written says how many.
public final class LogSink: Sendable {
    private struct Queue {
        var lines: [String] = []
        var dropped = 0
        var started = false
    }

    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let write: @Sendable (String) -> Void
    private let capacity: Int

    public init(capacity: Int = 10_000, _ write: @escaping @Sendable (String) -> Void) {
        self.capacity = capacity
        self.write = write
    }

    public static let standardError = LogSink { writeStandardError($0) }

    func write(_ line: String) {
        let start = queue.withLock { q -> Bool in
            if q.lines.count >= capacity {
                q.lines.removeFirst()
                q.dropped += 1
            }
            q.lines.append(line)
            defer { q.started = true }
            return !q.started
        }
        if start {
            startThread(name: "log-writer") { [self] in self.drain() }
        }
        wake.signal()
    }

    /// Waits up to `timeout` for queued lines to be written (at exit).
    public func flush(timeout: Duration = .seconds(2)) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !queue.withLock({ $0.lines.isEmpty }) {
            sleepThread(for: .milliseconds(10))
        }
    }

    private func drain() {
        while true {
            wake.wait()
            while true {
                let (batch, dropped) = queue.withLock { q -> ([String], Int) in
                    defer { q.lines.removeAll(keepingCapacity: true); q.dropped = 0 }
                    return (q.lines, q.dropped)
                }
                if batch.isEmpty { break }
                if dropped > 0 { write("level=warning msg=\"log lines dropped: standard error is not being read\" dropped=\(dropped)\n") }
                for line in batch { write(line) }
            }
        }
    }
}

/// Writes `line` to file descriptor 2 whole (short writes retried), without stdio's buffer.
func writeStandardError(_ line: String) {
    var bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { raw in
            Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
        }
        if n <= 0 { break }
        offset += n
    }
}

import Exposition
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import TextFormatting
import Sampling

/// The watchdog's own footprint: CPU, memory, descriptors, threads, read from `/proc/self`.
///
/// Exported so a user can hold the watchdog to its promise of being cheap, and so a leak of
/// threads or descriptors (the failure that sank other exporters) shows up on a graph.
public final class ProcessCollector: Collector {
    public var name: String { Self.definition.name }
    public let interval: Duration
    public var maxRoundDuration: Duration { .seconds(5) }
    private let procRoot: String

    public init(interval: Duration, procRoot: String = "/proc/self") {
        self.interval = interval
        self.procRoot = procRoot
    }

    public struct Figures: Sendable, Equatable {
        public var cpuSeconds: Double
        public var residentBytes: Double
        public var virtualBytes: Double
        public var threads: Double
        public var startTimeSeconds: Double
        public var openFDs: Double
        public var maxFDs: Double?
    }

    public func collect() -> CollectionResult {
        do {
            let f = try read()
            var families = [
                MetricCatalog.processCPU.family(value: f.cpuSeconds),
                MetricCatalog.processRSS.family(value: f.residentBytes),
                MetricCatalog.processVirtual.family(value: f.virtualBytes),
                MetricCatalog.processOpenFDs.family(value: f.openFDs),
                MetricCatalog.processThreads.family(value: f.threads),
                MetricCatalog.processStart.family(value: f.startTimeSeconds),
            ]
            if let maxFDs = f.maxFDs { families.append(MetricCatalog.processMaxFDs.family(value: maxFDs)) }
            return CollectionResult(families: families)
        } catch {
            return CollectionResult(families: [], error: "\(error)")
        }
    }

    struct ProcError: Error, CustomStringConvertible { let description: String }

    public func read() throws -> Figures {
        let stat = try String(contentsOfFile: "\(procRoot)/stat", encoding: .utf8)
        // Fields after the parenthesised command name, which may itself contain spaces or ')'.
        guard let close = stat.lastIndex(of: ")") else { throw ProcError(description: "unexpected \(procRoot)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); utime is field 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24.
        func field(_ n: Int) throws -> Double {
            let i = n - 3
            guard i < fields.count, let v = Double(fields[i]) else { throw ProcError(description: "field \(n) of \(procRoot)/stat") }
            return v
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = Self.bootTime() ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "\(procRoot)/fd").count) ?? 0
        return Figures(
            cpuSeconds: (try field(14) + field(15)) / ticks,
            residentBytes: try field(24) * pageSize,
            virtualBytes: try field(23),
            threads: try field(20),
            startTimeSeconds: bootTime + (try field(22)) / ticks,
            openFDs: Double(fds),
            maxFDs: Self.maxOpenFiles(procRoot: procRoot))
    }

    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingWhitespace())
        }
        return nil
    }

    static func maxOpenFiles(procRoot: String) -> Double? {
        guard let text = try? String(contentsOfFile: "\(procRoot)/limits", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            // "Max open files  <soft> <hard> files"
            if parts.count >= 5 { return Double(parts[3]) }
        }
        return nil
    }
}

extension ProcessCollector {
    /// `collector.process.*`: the watchdog's own CPU, memory and descriptors.
    public static let definition = CollectorDefinition(
        name: "process", metrics: MetricCatalog.processMetrics, configKeys: configKeys,
        isEnabled: { $0.collectors[ProcessCollector.config].enabled },
        make: { context in ProcessCollector(interval: context.configuration.collectors[ProcessCollector.config].interval) })
}

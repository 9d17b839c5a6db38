import Exposition

/// A tiny render benchmark (no timing assertions anywhere; callers print the figures).
enum ExpositionBenchmark {
    public struct Figures: Sendable, CustomStringConvertible {
        public var samples: Int
        public var families: Int
        public var bytes: Int
        /// Best of the measured iterations.
        public var best: Duration
        public var median: Duration

        public var description: String {
            "\(samples) samples in \(families) families, \(bytes) bytes: best \(Self.ms(best)) ms, median \(Self.ms(median)) ms"
        }

        static func ms(_ d: Duration) -> String {
            let (s, attoseconds) = d.components
            let millis = Double(s) * 1000 + Double(attoseconds) / 1e15
            return String(Double(Int(millis * 100)) / 100)
        }
    }

    /// Families shaped like a busy host: per-container gauges with a few labels (one label value
    /// needing escaping now and then), a counter and a histogram.
    public static func syntheticFamilies(samples: Int) -> [MetricFamily] {
        let perContainerFamilies = 8
        let containers = max(1, (samples + perContainerFamilies) / (perContainerFamilies + 1))
        var families: [MetricFamily] = []
        for f in 0..<perContainerFamilies {
            var series: [([Label], Double)] = []
            series.reserveCapacity(containers)
            for c in 0..<containers {
                let name = c % 97 == 0 ? "svc-\(c) \"quoted\"" : "project_service_\(c)"
                series.append(
                    (
                        [
                            Label("name", name),
                            Label("compose_project", "project\(c % 13)"),
                            Label("compose_service", "service\(c % 29)"),
                        ], f % 2 == 0 ? Double(c * 4096) : Double(c) * 0.001
                    ))
            }
            families.append(.gauge("docker_watchdog_bench_metric_\(f)", help: "Synthetic metric \(f).", series))
        }
        var h = Histogram(upperBounds: Histogram.defaultDurationBounds)
        for i in 0..<1000 { h.observe(Double(i) / 100) }
        let histograms = max(1, (samples - families.reduce(0) { $0 + $1.samples.count } + 13) / 14)
        families.append(
            .histogram(
                "docker_watchdog_bench_duration_seconds", help: "Synthetic histogram.",
                (0..<histograms).map { ([Label("endpoint", "e\($0)")], h) }))
        return families
    }

    /// Renders `syntheticFamilies(samples:)` `iterations` times and reports the best and median time.
    public static func run(samples: Int = 100_000, iterations: Int = 10, format: ExpositionFormat = .text) -> Figures {
        let families = syntheticFamilies(samples: samples)
        let total = families.reduce(0) { $0 + $1.samples.count }
        var times: [Duration] = []
        var bytes = 0
        let clock = ContinuousClock()
        for _ in 0..<max(1, iterations) {
            let start = clock.now
            let out = ExpositionRenderer.render(families, format: format)
            times.append(clock.now - start)
            bytes = out.count
        }
        times.sort()
        return Figures(samples: total, families: families.count, bytes: bytes, best: times[0], median: times[times.count / 2])
    }
}

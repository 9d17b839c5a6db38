/// The metric model shared by every collector: families of samples, rendered by
/// ``ExpositionRenderer`` into Prometheus text 0.0.4 or OpenMetrics 1.0.0.

/// The type of a metric family.
public enum MetricType: Sendable, Hashable {
    case gauge
    case counter
    case histogram
    /// An OpenMetrics info metric (value 1, descriptive labels). Rendered as a gauge named
    /// `<name>_info` in the text format.
    case info

    /// The sample suffixes a family of this type may carry.
    public var allowedSuffixes: [String] {
        switch self {
        case .gauge: return [""]
        case .counter: return ["_total"]
        case .info: return ["_info"]
        case .histogram: return ["_bucket", "_sum", "_count"]
        }
    }
}

/// One label: a name and a value. Values may contain any text; the renderer escapes them.
public struct Label: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One sample of a family. The sample's metric name is the family name plus `suffix`.
public struct Sample: Sendable {
    /// `""` (gauge), `"_total"` (counter), `"_info"` (info), `"_bucket"`, `"_sum"`, `"_count"` (histogram).
    public var suffix: String
    public var labels: [Label]
    public var value: Double

    public init(suffix: String = "", labels: [Label] = [], value: Double) {
        self.suffix = suffix
        self.labels = labels
        self.value = value
    }
}

/// Values compare by bit pattern, so a NaN sample equals itself: equality here means "renders to
/// the same bytes", which is what the render cache asks.
extension Sample: Equatable {
    public static func == (a: Sample, b: Sample) -> Bool {
        a.value.bitPattern == b.value.bitPattern && a.suffix == b.suffix && a.labels == b.labels
    }
}

/// A metric family: one name, one help text, one type, any number of samples.
public struct MetricFamily: Sendable, Equatable {
    /// Base name: counters WITHOUT `_total`, info metrics WITHOUT `_info`.
    public var name: String
    public var help: String
    public var type: MetricType
    public var samples: [Sample]

    public init(name: String, help: String, type: MetricType, samples: [Sample]) {
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples
    }

    /// A gauge with one sample per label set.
    public static func gauge(_ name: String, help: String, _ series: [([Label], Double)]) -> MetricFamily {
        MetricFamily(
            name: name, help: help, type: .gauge,
            samples: series.map { Sample(suffix: "", labels: $0.0, value: $0.1) })
    }

    /// A gauge with a single sample.
    public static func gauge(_ name: String, help: String, value: Double, labels: [Label] = []) -> MetricFamily {
        MetricFamily(name: name, help: help, type: .gauge, samples: [Sample(suffix: "", labels: labels, value: value)])
    }

    /// A counter. `name` is given without `_total` (a trailing `_total` is stripped).
    public static func counter(_ name: String, help: String, _ series: [([Label], Double)]) -> MetricFamily {
        MetricFamily(
            name: stripSuffix(name, "_total"), help: help, type: .counter,
            samples: series.map { Sample(suffix: "_total", labels: $0.0, value: $0.1) })
    }

    /// A counter with a single sample. `name` is given without `_total`.
    public static func counter(_ name: String, help: String, value: Double, labels: [Label] = []) -> MetricFamily {
        counter(name, help: help, [(labels, value)])
    }

    /// An info metric: value 1, the labels describe the thing. `name` is given without `_info`
    /// (a trailing `_info` is stripped).
    public static func info(_ name: String, help: String, labels: [Label]) -> MetricFamily {
        MetricFamily(
            name: stripSuffix(name, "_info"), help: help, type: .info,
            samples: [Sample(suffix: "_info", labels: labels, value: 1)])
    }

    /// An info metric with several label sets (one sample each, value 1).
    public static func info(_ name: String, help: String, series: [[Label]]) -> MetricFamily {
        MetricFamily(
            name: stripSuffix(name, "_info"), help: help, type: .info,
            samples: series.map { Sample(suffix: "_info", labels: $0, value: 1) })
    }

    /// A histogram: per label set, cumulative `_bucket` samples (one per upper bound plus
    /// `le="+Inf"`, equal to the count), then `_sum` and `_count`.
    /// The label sets must not contain `le`.
    public static func histogram(_ name: String, help: String, _ series: [([Label], Histogram)]) -> MetricFamily {
        var samples: [Sample] = []
        samples.reserveCapacity(series.reduce(0) { $0 + $1.1.upperBounds.count + 3 })
        for (labels, h) in series {
            var cumulative: UInt64 = 0
            for (i, bound) in h.upperBounds.enumerated() {
                cumulative &+= h.counts[i]
                samples.append(
                    Sample(
                        suffix: "_bucket", labels: labels + [Label("le", FloatFormat.goG(bound))],
                        value: Double(cumulative)))
            }
            samples.append(Sample(suffix: "_bucket", labels: labels + [Label("le", "+Inf")], value: Double(h.count)))
            samples.append(Sample(suffix: "_sum", labels: labels, value: h.sum))
            samples.append(Sample(suffix: "_count", labels: labels, value: Double(h.count)))
        }
        return MetricFamily(name: name, help: help, type: .histogram, samples: samples)
    }

    private static func stripSuffix(_ name: String, _ suffix: String) -> String {
        if name.hasSuffix(suffix) && name.utf8.count > suffix.utf8.count {
            return String(name.dropLast(suffix.count))
        }
        return name
    }
}

/// A classic Prometheus histogram with fixed upper bounds.
///
/// `counts[i]` is the number of observations `v` with `upperBounds[i-1] < v <= upperBounds[i]`
/// (not cumulative); observations above the last bound only count towards `count` (the implicit
/// `+Inf` bucket). Rendering makes buckets cumulative, and the `+Inf` bucket equals `count`.
public struct Histogram: Sendable, Equatable {
    /// Sorted, distinct, finite upper bounds (`+Inf` is implicit).
    public let upperBounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double
    public private(set) var count: UInt64

    /// Bounds are sorted and de-duplicated; non-finite and NaN bounds are dropped (`+Inf` is always
    /// present implicitly).
    public init(upperBounds: [Double]) {
        var bounds = upperBounds.filter { $0.isFinite }
        bounds.sort()
        var distinct: [Double] = []
        distinct.reserveCapacity(bounds.count)
        for b in bounds where distinct.last != b { distinct.append(b) }
        self.upperBounds = distinct
        self.counts = Array(repeating: 0, count: distinct.count)
        self.sum = 0
        self.count = 0
    }

    /// Records one observation. NaN observations are ignored (they would poison `_sum` forever).
    public mutating func observe(_ v: Double) {
        guard !v.isNaN else { return }
        // First bound >= v (le semantics).
        var lo = 0
        var hi = upperBounds.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if upperBounds[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        if lo < counts.count { counts[lo] &+= 1 }
        count &+= 1
        sum += v
    }

    /// Cumulative bucket counts, one per upper bound (the `+Inf` bucket is `count`).
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return counts.map {
            running &+= $0; return running
        }
    }

    /// Common bucket layouts.
    public static let defaultDurationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// `count` bounds starting at `start`, each `factor` times the previous one.
    public static func exponentialBounds(start: Double, factor: Double, count: Int) -> [Double] {
        guard count > 0, start > 0, factor > 1 else { return [] }
        var out: [Double] = []
        out.reserveCapacity(count)
        var b = start
        for _ in 0..<count {
            out.append(b)
            b *= factor
        }
        return out
    }
}

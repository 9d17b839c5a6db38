#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Renders metric families into Prometheus text 0.0.4 or OpenMetrics 1.0.0.
///
/// Guarantees, whatever the input:
/// - families with the same name are merged (samples concatenated, help and type of the first);
/// - families are sorted by name, series by label set (labels in name order; a histogram's buckets
///   of one series together in `le` order, then `_sum`, then `_count`);
/// - one HELP and one TYPE per family, TYPE before the first sample;
/// - label values and HELP are escaped, so no value can start a new line;
/// - samples with an invalid metric or label name, a suffix that does not fit the family type, a
///   duplicate label name or (histograms) a missing/invalid `le` are dropped, never emitted broken;
/// - a series that appears twice in a family is emitted once (the first);
/// - a family whose rendered names would clash with an earlier family (say gauge `a_total` and
///   counter `a`) is dropped.
/// ``RenderResult`` counts everything dropped, with the first few reasons for a debug log.
public enum ExpositionRenderer {
    /// Renders `families` in `format`.
    public static func render(_ families: [MetricFamily], format: ExpositionFormat) -> [UInt8] {
        renderDetailed(families, format: format).bytes
    }

    /// Renders `families` in `format` and reports what was dropped.
    public static func renderDetailed(_ families: [MetricFamily], format: ExpositionFormat) -> RenderResult {
        var renderer = Writer(format: format)
        renderer.run(families)
        return renderer.result
    }

    /// Renders `families` as one fragment per family, in body order, reusing the bytes of every
    /// family that is equal to its previous render in `cache` (and refilling `cache`).
    ///
    /// Why: a scrape after a new sample used to render the whole body although most families had
    /// not changed (at 1,000 containers the per-container families are most of 750 KB and change
    /// rarely). The concatenated fragments are byte for byte what ``render(_:format:)`` returns
    /// for the same families; the same merging, validation and ordering rules apply.
    public static func renderFragments(
        _ families: [MetricFamily], format: ExpositionFormat, cache: inout RenderFragmentCache
    ) -> [RenderedFragment] {
        var renderer = Writer(format: format)
        return renderer.runFragments(families, cache: &cache)
    }
}

/// One family's rendered lines (or OpenMetrics' `# EOF`), from ``ExpositionRenderer/renderFragments(_:format:cache:)``.
public struct RenderedFragment: Sendable {
    /// The family name (`# EOF` for the OpenMetrics trailer); unique within one render.
    public var name: String
    /// The HELP and TYPE lines (their order and names differ between the formats).
    public var header: [UInt8]
    /// The sample lines, the same in both formats for gauges: kept apart from the header so the
    /// two formats can share them.
    public var samples: [UInt8]
    /// True when the bytes were taken from the cache rather than rendered now.
    public var reused: Bool

    /// Header and samples joined.
    public var bytes: [UInt8] { header + samples }
}

/// The families of the previous fragment render and their bytes, for one format.
public struct RenderFragmentCache: Sendable {
    struct Entry: Sendable {
        var parts: [MetricFamily]
        var header: [UInt8]
        var samples: [UInt8]
    }
    var entries: [String: Entry] = [:]
    public init() {}
    /// How many families the cache holds.
    public var count: Int { entries.count }

    /// The kept sample lines of family `name`, if any.
    public func samples(of name: String) -> [UInt8]? { entries[name]?.samples }

    /// Replaces the kept sample lines of `name` with `samples` when they are equal, so two caches
    /// (text and OpenMetrics, whose sample lines are the same for most families) can share one
    /// array. Returns whether it did.
    @discardableResult
    public mutating func share(_ samples: [UInt8], for name: String) -> Bool {
        guard let entry = entries[name], entry.samples == samples else { return false }
        entries[name]?.samples = samples
        return true
    }
}

/// The output of ``ExpositionRenderer/renderDetailed(_:format:)``.
public struct RenderResult: Sendable {
    /// The body, UTF-8.
    public var bytes: [UInt8]
    public var familiesRendered: Int = 0
    public var samplesRendered: Int = 0
    /// Samples dropped as invalid (bad names, suffix not allowed for the type, bad `le`, info
    /// value other than 1, or belonging to a dropped family).
    public var invalidSamples: Int = 0
    /// Samples dropped because the same series already appeared in the family.
    public var duplicateSamples: Int = 0
    /// Families dropped (invalid name, or rendered names clashing with an earlier family).
    public var droppedFamilies: Int = 0
    /// The first few reasons for dropping something (at most ``RenderResult/maxProblems``).
    public var problems: [String] = []

    public static let maxProblems = 20

    public var droppedSamples: Int { invalidSamples + duplicateSamples }
}

// MARK: - Name validation

enum NameRules {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ s: String) -> Bool {
        var it = s.utf8.makeIterator()
        guard let first = it.next(), isAlpha(first) || first == 0x5F || first == 0x3A else { return false }
        while let c = it.next() {
            guard isAlpha(c) || isDigit(c) || c == 0x5F || c == 0x3A else { return false }
        }
        return true
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved for Prometheus' internal use).
    @inline(__always)
    static func isValidLabelName(_ s: String) -> Bool {
        if let r = s.utf8.withContiguousStorageIfAvailable({ isValidLabelName(bytes: $0) }) { return r }
        return Array(s.utf8).withUnsafeBufferPointer { isValidLabelName(bytes: $0) }
    }

    @inline(__always)
    static func isValidLabelName(bytes b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = b.first, isAlpha(first) || first == 0x5F else { return false }
        if b.count > 1 && first == 0x5F && b[1] == 0x5F { return false }
        for c in b.dropFirst() {
            guard isAlpha(c) || isDigit(c) || c == 0x5F else { return false }
        }
        return true
    }

    @inline(__always) static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
}

// MARK: - Writer

private struct Entry {
    var start: Int  // label block in the arena
    var length: Int
    var suffixRank: Int
    var le: Double  // histogram buckets only
    var value: Double
    var order: Int  // input order, for stability (first duplicate wins)
    var key8: UInt64 = 0  // 8 bytes of the label block after the family's common prefix, big-endian
}

private struct Writer {
    let format: ExpositionFormat
    var out: [UInt8] = []
    /// Where the last family's sample lines start in `out` (after its HELP and TYPE lines).
    var samplesStart = 0
    var result = RenderResult(bytes: [])
    var arena: [UInt8] = []
    var entries: [Entry] = []
    var labelOrder: [Int] = []
    /// The label names of the previous sample and what was worked out for them: consecutive
    /// samples of a family nearly always share names and order, so validation and sorting of the
    /// names is done once per run of equal names.
    var lastNames: [String] = []
    var lastOrder: [Int] = []
    var lastLeIndex: Int = -1
    var lastIsBucket = false
    var lastIsHistogram = false
    var lastValid = false

    init(format: ExpositionFormat) {
        self.format = format
    }

    mutating func problem(_ message: @autoclosure () -> String) {
        if result.problems.count < RenderResult.maxProblems { result.problems.append(message()) }
    }

    mutating func ensureCapacity(_ additional: Int) {
        let needed = out.count + additional
        if needed > out.capacity { out.reserveCapacity(Swift.max(needed, out.capacity * 2)) }
    }

    mutating func run(_ families: [MetricFamily]) {
        let kept = plan(families)
        // Reserve close to the final size once: growing a multi-megabyte buffer by doubling
        // copies it several times.
        var estimate = 16
        for group in kept {
            for index in group {
                let family = families[index]
                estimate += family.help.utf8.count + 2 * family.name.utf8.count + 40
                let perSample = family.name.utf8.count + 32
                for sample in family.samples {
                    var size = perSample
                    for label in sample.labels { size += label.name.utf8.count + label.value.utf8.count + 4 }
                    estimate += size
                }
            }
        }
        out.reserveCapacity(estimate + estimate / 16)
        for group in kept { writeFamily(group.map { families[$0] }) }
        if format == .openMetrics { out.append(contentsOf: Array("# EOF\n".utf8)) }
        result.bytes = out
    }

    mutating func runFragments(_ families: [MetricFamily], cache: inout RenderFragmentCache) -> [RenderedFragment] {
        let kept = plan(families)
        var fragments: [RenderedFragment] = []
        fragments.reserveCapacity(kept.count + 1)
        var fresh: [String: RenderFragmentCache.Entry] = [:]
        fresh.reserveCapacity(kept.count)
        for group in kept {
            let parts = group.map { families[$0] }
            let name = parts[0].name
            if let entry = cache.entries[name], entry.parts == parts {
                fragments.append(RenderedFragment(name: name, header: entry.header, samples: entry.samples, reused: true))
                fresh[name] = entry
                continue
            }
            out.removeAll(keepingCapacity: true)
            writeFamily(parts)
            let header = Array(out[..<samplesStart]), samples = Array(out[samplesStart...])
            fragments.append(RenderedFragment(name: name, header: header, samples: samples, reused: false))
            fresh[name] = RenderFragmentCache.Entry(parts: parts, header: header, samples: samples)
        }
        if format == .openMetrics {
            fragments.append(RenderedFragment(name: "# EOF", header: Array("# EOF\n".utf8), samples: [], reused: true))
        }
        cache.entries = fresh
        return fragments
    }

    /// Steps shared by both renders: the groups of families to write, merged, validated, sorted.
    mutating func plan(_ families: [MetricFamily]) -> [[Int]] {
        // 1. Merge by name, in first-seen order.
        var groupIndex: [String: Int] = [:]
        var groups: [[Int]] = []
        for (i, family) in families.enumerated() {
            if let g = groupIndex[family.name] {
                groups[g].append(i)
            } else {
                groupIndex[family.name] = groups.count
                groups.append([i])
            }
        }

        // 2. Validate names and claims, in first-seen order.
        var claimed: Set<String> = []
        var kept: [[Int]] = []
        kept.reserveCapacity(groups.count)
        for group in groups {
            let head = families[group[0]]
            let sampleCount = group.reduce(0) { $0 + families[$1].samples.count }
            guard NameRules.isValidMetricName(head.name) else {
                result.droppedFamilies += 1
                result.invalidSamples += sampleCount
                problem("family \(debugQuoted(head.name)): invalid metric name; \(sampleCount) samples dropped")
                continue
            }
            let claims = Self.claims(name: head.name, type: head.type)
            if let clash = claims.first(where: { claimed.contains($0) }) {
                result.droppedFamilies += 1
                result.invalidSamples += sampleCount
                problem("family \(head.name): name \(clash) already used by another family; \(sampleCount) samples dropped")
                continue
            }
            claimed.formUnion(claims)
            kept.append(group)
        }

        // 3. Sort families by name (names are ASCII here, so String order is byte order).
        kept.sort { families[$0[0]].name < families[$1[0]].name }
        return kept
    }

    static func claims(name: String, type: MetricType) -> [String] {
        switch type {
        case .gauge: return [name]
        case .counter: return [name, name + "_total", name + "_created"]
        case .info: return [name, name + "_info"]
        case .histogram: return [name, name + "_bucket", name + "_sum", name + "_count", name + "_created"]
        }
    }

    mutating func writeFamily(_ parts: [MetricFamily]) {
        samplesStart = out.count  // a family that writes nothing has an empty header too
        let head = parts[0]
        let type = head.type
        let suffixes = type.allowedSuffixes
        let isHistogram = type == .histogram
        arena.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        lastValid = false
        var order = 0

        for part in parts {
            for sample in part.samples {
                defer { order += 1 }
                guard let rank = suffixes.firstIndex(of: sample.suffix) else {
                    result.invalidSamples += 1
                    problem("family \(head.name): suffix \(debugQuoted(sample.suffix)) not allowed for \(type)")
                    continue
                }
                if type == .info && sample.value != 1 {
                    result.invalidSamples += 1
                    problem("family \(head.name): info sample value must be 1, got \(sample.value)")
                    continue
                }
                let arenaMark = arena.count
                guard
                    let le = appendLabelBlock(
                        sample.labels, isBucket: isHistogram && rank == 0,
                        isHistogram: isHistogram, family: head.name)
                else {
                    arena.removeSubrange(arenaMark...)
                    result.invalidSamples += 1
                    continue
                }
                entries.append(
                    Entry(
                        start: arenaMark, length: arena.count - arenaMark, suffixRank: rank,
                        le: le, value: sample.value, order: order))
            }
        }

        // Sort series: label block bytes, then suffix, then le, then input order. Collectors often
        // emit in a stable order already: check before sorting.
        // To keep comparisons cheap, skip the prefix every label block shares (label names, usually)
        // and compare the next 8 bytes as one integer before falling back to memcmp.
        arena.withUnsafeBufferPointer { a in
            var common = entries.first?.length ?? 0
            if let first = entries.first, let base = a.baseAddress {
                for e in entries.dropFirst() where common > 0 {
                    let n = Swift.min(common, e.length)
                    var k = 0
                    // find the first differing byte (memcmp tells equality only)
                    if memcmp(base + first.start, base + e.start, n) == 0 {
                        k = n
                    } else {
                        while k < n && a[first.start + k] == a[e.start + k] { k += 1 }
                    }
                    common = k
                }
                for i in entries.indices {
                    var key: UInt64 = 0
                    let e = entries[i]
                    for j in 0..<8 {
                        key <<= 8
                        let p = common + j
                        if p < e.length { key |= UInt64(a[e.start + p]) }
                    }
                    entries[i].key8 = key
                }
            }
            let skip = common
            let less = { (x: Entry, y: Entry) -> Bool in
                if x.key8 != y.key8 { return x.key8 < y.key8 }
                let c = compareBytes(a, x.start + skip, x.length - skip, y.start + skip, y.length - skip)
                if c != 0 { return c < 0 }
                if x.suffixRank != y.suffixRank { return x.suffixRank < y.suffixRank }
                if x.le != y.le { return x.le < y.le }
                return x.order < y.order
            }
            var alreadySorted = true
            var i = 1
            while i < entries.count {
                if !less(entries[i - 1], entries[i]) {
                    alreadySorted = false
                    break
                }
                i += 1
            }
            if !alreadySorted { entries.sort(by: less) }
        }

        // Header.
        let headerName: String
        switch (format, type) {
        case (.text, .counter): headerName = head.name + "_total"
        case (.text, .info): headerName = head.name + "_info"
        default: headerName = head.name
        }
        let typeWord: String
        switch (format, type) {
        case (_, .gauge), (.text, .info): typeWord = "gauge"
        case (_, .counter): typeWord = "counter"
        case (_, .histogram): typeWord = "histogram"
        case (.openMetrics, .info): typeWord = "info"
        }
        ensureCapacity(headerName.utf8.count * 2 + head.help.utf8.count * 2 + 32)
        if format == .text { writeHelp(headerName, head.help) }
        out.append(contentsOf: [0x23, 0x20, 0x54, 0x59, 0x50, 0x45, 0x20])  // "# TYPE "
        out.append(contentsOf: headerName.utf8)
        out.append(0x20)
        out.append(contentsOf: typeWord.utf8)
        out.append(0x0A)
        if format == .openMetrics { writeHelp(headerName, head.help) }
        result.familiesRendered += 1

        // Samples.
        samplesStart = out.count
        let names: [[UInt8]] = suffixes.map { Array((head.name + $0).utf8) }
        let longestName = names.reduce(0) { Swift.max($0, $1.count) }
        ensureCapacity(arena.count + entries.count * (longestName + 40))
        var previous: Entry? = nil
        arena.withUnsafeBufferPointer { a in
            for e in entries {
                if let p = previous, p.suffixRank == e.suffixRank, p.le == e.le || (p.le.isNaN && e.le.isNaN),
                    compareBytes(a, p.start, p.length, e.start, e.length) == 0
                {
                    result.duplicateSamples += 1
                    if result.problems.count < RenderResult.maxProblems {
                        let block = String(decoding: UnsafeBufferPointer(rebasing: a[e.start..<(e.start + e.length)]), as: UTF8.self)
                        let name = String(decoding: names[e.suffixRank], as: UTF8.self)
                        result.problems.append("family \(head.name): duplicate series \(name){\(block)} dropped")
                    }
                    continue
                }
                previous = e
                out.append(contentsOf: names[e.suffixRank])
                let isBucket = isHistogram && e.suffixRank == 0
                if e.length > 0 || isBucket {
                    out.append(0x7B)  // {
                    if e.length > 0 {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: a[e.start..<(e.start + e.length)]))
                    }
                    if isBucket {
                        if e.length > 0 { out.append(0x2C) }
                        out.append(contentsOf: [0x6C, 0x65, 0x3D, 0x22])  // le="
                        let leText = format == .openMetrics ? FloatFormat.openMetricsCanonical(e.le) : FloatFormat.goG(e.le)
                        out.append(contentsOf: leText.utf8)
                        out.append(0x22)
                    }
                    out.append(0x7D)  // }
                }
                out.append(0x20)
                FloatFormat.appendValue(e.value, to: &out)
                out.append(0x0A)
                result.samplesRendered += 1
            }
        }
    }

    mutating func writeHelp(_ name: String, _ help: String) {
        guard !help.isEmpty else { return }
        out.append(contentsOf: [0x23, 0x20, 0x48, 0x45, 0x4C, 0x50, 0x20])  // "# HELP "
        out.append(contentsOf: name.utf8)
        out.append(0x20)
        let escapeQuote = format == .openMetrics
        for c in help.utf8 {
            switch c {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x20)  // no escape exists for CR; never end a line with it
            case 0x22 where escapeQuote: out.append(0x5C); out.append(0x22)
            default: out.append(c)
            }
        }
        out.append(0x0A)
    }

    /// Appends `name="value",...` (labels in name order, `le` excluded for buckets) to the arena.
    /// Returns the `le` value for buckets (0 otherwise), or nil when the sample is invalid.
    mutating func appendLabelBlock(_ labels: [Label], isBucket: Bool, isHistogram: Bool, family: String) -> Double? {
        let n = labels.count
        var reuse = lastValid && n == lastNames.count && isBucket == lastIsBucket && isHistogram == lastIsHistogram
        if reuse {
            for i in 0..<n where labels[i].name != lastNames[i] {
                reuse = false
                break
            }
        }
        if !reuse {
            lastValid = false
            guard analyseNames(labels, isBucket: isBucket, isHistogram: isHistogram, family: family) else {
                return nil
            }
            lastValid = true
        }
        let order = lastOrder
        let leIndex = lastLeIndex
        var le: Double = 0
        if leIndex >= 0 {
            let text = labels[leIndex].value
            guard let v = FloatFormat.parse(text), !v.isNaN else {
                problem("family \(family): invalid le label \(debugQuoted(text))")
                return nil
            }
            le = v
        }
        var first = true
        for i in order where i != leIndex {
            if !first { arena.append(0x2C) }
            first = false
            appendLabel(labels[i])
        }
        return le
    }

    /// Validates the label names of a sample and works out their order; the result is kept in
    /// `lastNames`/`lastOrder`/`lastLeIndex`. Returns false when the sample is invalid.
    mutating func analyseNames(_ labels: [Label], isBucket: Bool, isHistogram: Bool, family: String) -> Bool {
        let n = labels.count
        var leIndex = -1
        for (i, label) in labels.enumerated() {
            guard NameRules.isValidLabelName(label.name) else {
                problem("family \(family): invalid label name \(debugQuoted(label.name))")
                return false
            }
            if isHistogram && label.name == "le" {
                guard isBucket, leIndex < 0 else {
                    problem("family \(family): misplaced or repeated le label")
                    return false
                }
                leIndex = i
            }
        }
        if isBucket && leIndex < 0 {
            problem("family \(family): bucket without le label")
            return false
        }
        labelOrder.removeAll(keepingCapacity: true)
        labelOrder.append(contentsOf: 0..<n)
        if n > 1 {
            var sorted = true
            for i in 1..<n where !bytesLess(labels[i - 1].name, labels[i].name) {
                sorted = false
                break
            }
            if !sorted {
                labelOrder.sort { bytesLess(labels[$0].name, labels[$1].name) }
                var duplicate: String? = nil
                for i in 1..<n where labels[labelOrder[i - 1]].name == labels[labelOrder[i]].name {
                    duplicate = labels[labelOrder[i]].name
                    break
                }
                if let duplicate {
                    problem("family \(family): duplicate label name \(duplicate)")
                    return false
                }
            }
        }
        lastNames.removeAll(keepingCapacity: true)
        for label in labels { lastNames.append(label.name) }
        swap(&lastOrder, &labelOrder)
        lastLeIndex = leIndex
        lastIsBucket = isBucket
        lastIsHistogram = isHistogram
        return true
    }

    @inline(__always)
    mutating func appendLabel(_ label: Label) {
        arena.append(contentsOf: label.name.utf8)
        arena.append(0x3D)  // =
        arena.append(0x22)  // "
        appendEscapedValue(label.value)
        arena.append(0x22)
    }

    @inline(__always)
    mutating func appendEscapedValue(_ value: String) {
        let done: Bool? = value.utf8.withContiguousStorageIfAvailable { buf -> Bool in
            var clean = true
            for c in buf where c == 0x5C || c == 0x22 || c == 0x0A {
                clean = false
                break
            }
            if clean {
                arena.append(contentsOf: buf)
            } else {
                for c in buf { appendEscapedByte(c) }
            }
            return true
        }
        if done == nil {
            for c in value.utf8 { appendEscapedByte(c) }
        }
    }

    @inline(__always)
    mutating func appendEscapedByte(_ c: UInt8) {
        switch c {
        case 0x5C: arena.append(0x5C); arena.append(0x5C)
        case 0x22: arena.append(0x5C); arena.append(0x22)
        case 0x0A: arena.append(0x5C); arena.append(0x6E)
        default: arena.append(c)
        }
    }
}

@inline(__always)
private func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ s1: Int, _ l1: Int, _ s2: Int, _ l2: Int) -> Int {
    let n = Swift.min(l1, l2)
    if n > 0, let base = a.baseAddress {
        let c = memcmp(base + s1, base + s2, n)
        if c != 0 { return Int(c) }
    }
    return l1 == l2 ? 0 : (l1 < l2 ? -1 : 1)
}

/// Strict "less than" of two label names. They are validated ASCII, for which Swift's String
/// order is byte order (and has a memcmp fast path).
@inline(__always)
private func bytesLess(_ a: String, _ b: String) -> Bool {
    a < b
}

private func debugQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if scalar.value < 0x20 { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

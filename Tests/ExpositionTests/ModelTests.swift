import Exposition
import Testing

@Suite("Histogram, numbers, negotiation")
struct ModelTests {
    @Test func histogramBucketsAreCumulativeAndInfEqualsCount() {
        var h = Histogram(upperBounds: [0.1, 1, 10])
        // 0.1 lands in le=0.1 (le is inclusive); 10.5 only in +Inf; NaN is ignored.
        for v in [0.05, 0.1, 0.2, 1, 9.99, 10, 10.5, -3, .nan] { h.observe(v) }
        #expect(h.upperBounds == [0.1, 1, 10])
        #expect(h.counts == [3, 2, 2])  // (-3, 0.05, 0.1), (0.2, 1), (9.99, 10)
        #expect(h.count == 8)
        #expect(h.cumulativeCounts == [3, 5, 7])
        #expect(abs(h.sum - (0.05 + 0.1 + 0.2 + 1 + 9.99 + 10 + 10.5 - 3)) < 1e-9)

        let family = MetricFamily.histogram("t_seconds", help: "h", [([], h)])
        let buckets = family.samples.filter { $0.suffix == "_bucket" }
        #expect(buckets.map(\.value) == [3, 5, 7, 8])
        #expect(buckets.last?.labels == [Label("le", "+Inf")])
        #expect(family.samples.first { $0.suffix == "_count" }?.value == 8)
        // Monotonic and +Inf == count in the rendered output too.
        let p = try? MiniParser.parse(ExpositionRenderer.render([family], format: .text), openMetrics: false)
        let rendered = p?.samples(named: "t_seconds_bucket").map(\.value) ?? []
        #expect(rendered == [3, 5, 7, 8])
        #expect(zip(rendered, rendered.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(p?.value("t_seconds_count") == rendered.last)
    }

    @Test func histogramBoundsAreCleanedUp() {
        let h = Histogram(upperBounds: [5, 1, .infinity, 1, .nan, 2])
        #expect(h.upperBounds == [1, 2, 5])
        #expect(h.counts == [0, 0, 0])
        #expect(Histogram.exponentialBounds(start: 1, factor: 2, count: 4) == [1, 2, 4, 8])
    }

    @Test func emptyHistogramRendersZeroes() throws {
        let f = MetricFamily.histogram("e_seconds", help: "h", [([], Histogram(upperBounds: []))])
        let p = try MiniParser.parse(ExpositionRenderer.render([f], format: .openMetrics), openMetrics: true)
        #expect(p.samples.map(\.name) == ["e_seconds_bucket", "e_seconds_sum", "e_seconds_count"])
        #expect(p.samples.map(\.value) == [0, 0, 0])
    }

    @Test(arguments: [
        (Double.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"),
        (0, "0"), (-0.0, "0"), (1, "1"), (-42, "-42"), (123_456_789_012, "123456789012"),
        (9_007_199_254_740_992, "9007199254740992"), (1e15, "1000000000000000"), (1e16, "1e+16"), (1e20, "1e+20"),
        (0.1, "0.1"), (2.5, "2.5"), (1.0 / 3.0, "0.3333333333333333"), (1e-05, "1e-05"), (-1.5e-7, "-1.5e-07"),
    ])
    func sampleValues(value: Double, expected: String) {
        #expect(FloatFormat.value(value) == expected)
        if value.isFinite { #expect(Double(FloatFormat.value(value)) == value || abs(value) > 9e15) }
    }

    @Test(arguments: [
        (0.005, "0.005", "0.005"), (1, "1", "1.0"), (10, "10", "10.0"), (100000, "100000", "100000.0"),
        (1e6, "1e+06", "1e+06"), (1234567, "1.234567e+06", "1.234567e+06"), (0.0001, "0.0001", "0.0001"),
        (1e-05, "1e-05", "1e-05"), (1e-10, "1e-10", "1e-10"), (1e+10, "1e+10", "1e+10"), (0.999, "0.999", "0.999"),
        (2.5, "2.5", "2.5"), (0, "0", "0.0"), (-1, "-1", "-1.0"), (.infinity, "+Inf", "+Inf"), (1e100, "1e+100", "1e+100"),
        (123456.7, "123456.7", "123456.7"),
    ])
    func leValues(value: Double, go: String, openMetrics: String) {
        #expect(FloatFormat.goG(value) == go)
        #expect(FloatFormat.openMetricsCanonical(value) == openMetrics)
    }

    @Test(
        arguments: [
            (nil, ExpositionFormat.text),
            ("", .text),
            ("*/*", .text),
            ("text/plain", .text),
            ("application/openmetrics-text", .openMetrics),
            ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .openMetrics),
            ("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .text),  // Prometheus 2.5-era: only OM 0.0.1
            ("application/openmetrics-text;version=1.0.0;q=0", .text),
            ("application/openmetrics-text;q=0,text/plain;q=0.1", .text),
            ("application/openmetrics-text;q=0.0", .text),
            ("Application/OpenMetrics-Text; Version=1.0.0 ; q=0.5 , text/plain;q=0.4", .openMetrics),
            ("text/plain;q=1,application/openmetrics-text;q=0.5", .text),
            ("text/plain;q=0.5,application/openmetrics-text;q=0.5", .openMetrics),
            ("application/openmetrics-text;q=banana", .text),
            ("application/json", .text),
            (",,;;==", .text),
            ("application/openmetrics-text;version=\"1.0.0\"", .openMetrics),
        ] as [(String?, ExpositionFormat)])
    func negotiation(accept: String?, expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }

    @Test func contentTypes() {
        #expect(ExpositionFormat.text.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(ExpositionFormat.openMetrics.contentType == "application/openmetrics-text; version=1.0.0; charset=utf-8")
    }

    @Test func factoriesStripSuffixes() {
        #expect(MetricFamily.counter("x_total", help: "", [([], 1)]).name == "x")
        #expect(MetricFamily.counter("x", help: "", [([], 1)]).samples[0].suffix == "_total")
        #expect(MetricFamily.info("y_info", help: "", labels: []).name == "y")
        #expect(MetricFamily.info("y", help: "", labels: []).samples[0].value == 1)
    }
}

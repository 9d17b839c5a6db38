import Exposition
import Testing

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private func parse(_ families: [MetricFamily], _ format: ExpositionFormat) throws -> ParsedExposition {
    try MiniParser.parse(ExpositionRenderer.render(families, format: format), openMetrics: format == .openMetrics)
}

/// A representative set, shaped like what the watchdog exports.
func representativeFamilies() -> [MetricFamily] {
    var probe = Histogram(upperBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    for v in [0.003, 0.004, 0.02, 0.2, 0.7, 3, 12] { probe.observe(v) }
    var probe2 = Histogram(upperBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    probe2.observe(0.01)
    return [
        .gauge(
            "docker_watchdog_container_memory_bytes", help: "Memory used by the container, in bytes.",
            [
                ([Label("name", "web-1"), Label("compose_project", "shop")], 123_456_789),
                ([Label("name", "db \"primary\"\nline2"), Label("compose_project", "shop")], 987_654_321),
                ([Label("name", "C:\\path"), Label("compose_project", "")], 0),
            ]),
        .gauge("docker_watchdog_up", help: "1 if the Docker daemon answered the last probe.", value: 1),
        .counter(
            "docker_watchdog_container_restarts", help: "Restarts performed by the watchdog.",
            [
                ([Label("name", "web-1")], 3),
                ([Label("name", "db")], 0),
            ]),
        .info(
            "docker_watchdog_build", help: "Build information.",
            labels: [
                Label("version", "0.1.0"), Label("revision", "abc123"), Label("swift", "6.3"),
            ]),
        .histogram(
            "docker_watchdog_daemon_probe_duration_seconds", help: "Duration of daemon probes.",
            [
                ([Label("endpoint", "_ping")], probe),
                ([Label("endpoint", "version")], probe2),
            ]),
        .gauge(
            "docker_watchdog_collector_success", help: "1 if the collector succeeded.\nHelp with \\ backslash.",
            [
                ([Label("collector", "containers")], 1),
                ([Label("collector", "disk")], 0),
            ]),
        .gauge(
            "docker_watchdog_disk_reclaimable_ratio", help: "Reclaimable share, 0-1.",
            [
                ([Label("category", "images")], 0.25),
                ([Label("category", "volumes")], .nan),
                ([Label("category", "build_cache")], 1.0 / 3.0),
            ]),
        .gauge("docker_watchdog_sample_age_seconds", help: "Age of the snapshot.", value: .infinity),
    ]
}

@Suite("Rendering")
struct RendererTests {
    @Test func textRoundTrip() throws {
        let p = try parse(representativeFamilies(), .text)
        #expect(p.type["docker_watchdog_container_restarts_total"] == "counter")
        #expect(p.type["docker_watchdog_build_info"] == "gauge")
        #expect(p.type["docker_watchdog_daemon_probe_duration_seconds"] == "histogram")
        #expect(p.type["docker_watchdog_up"] == "gauge")
        #expect(p.value("docker_watchdog_container_restarts_total", ["name": "web-1"]) == 3)
        #expect(p.value("docker_watchdog_build_info", ["version": "0.1.0", "revision": "abc123", "swift": "6.3"]) == 1)
        #expect(
            p.value(
                "docker_watchdog_container_memory_bytes",
                ["name": "db \"primary\"\nline2", "compose_project": "shop"]) == 987_654_321)
        #expect(p.value("docker_watchdog_container_memory_bytes", ["name": "C:\\path", "compose_project": ""]) == 0)
        #expect(p.value("docker_watchdog_disk_reclaimable_ratio", ["category": "build_cache"]) == 1.0 / 3.0)
        #expect(p.value("docker_watchdog_disk_reclaimable_ratio", ["category": "volumes"])?.isNaN == true)
        #expect(p.value("docker_watchdog_sample_age_seconds") == .infinity)
        #expect(p.help["docker_watchdog_collector_success"] == "1 if the collector succeeded.\nHelp with \\ backslash.")
        #expect(!p.sawEOF)
        #expect(p.samples.count == 3 + 1 + 2 + 1 + 2 * 14 + 2 + 3 + 1)
    }

    @Test func openMetricsRoundTrip() throws {
        let bytes = ExpositionRenderer.render(representativeFamilies(), format: .openMetrics)
        #expect(text(bytes).hasSuffix("\n# EOF\n"))
        let p = try MiniParser.parse(bytes, openMetrics: true)
        #expect(p.sawEOF)
        // Counter: TYPE without _total, samples with it.
        #expect(p.type["docker_watchdog_container_restarts"] == "counter")
        #expect(p.type["docker_watchdog_container_restarts_total"] == nil)
        #expect(p.value("docker_watchdog_container_restarts_total", ["name": "db"]) == 0)
        // Info: TYPE info without _info, sample with it.
        #expect(p.type["docker_watchdog_build"] == "info")
        #expect(p.value("docker_watchdog_build_info", ["version": "0.1.0", "revision": "abc123", "swift": "6.3"]) == 1)
        // HELP follows TYPE in OpenMetrics.
        let i = try #require(p.events.firstIndex(of: "TYPE docker_watchdog_up"))
        #expect(p.events[i + 1] == "HELP docker_watchdog_up")
        // le values are canonical in OpenMetrics.
        let les = p.samples(named: "docker_watchdog_daemon_probe_duration_seconds_bucket")
            .filter { $0.labels["endpoint"] == "_ping" }.map { $0.labels["le"]! }
        #expect(les == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"])
    }

    @Test func textLeValuesFollowGoFormatting() throws {
        let p = try parse(representativeFamilies(), .text)
        let les = p.samples(named: "docker_watchdog_daemon_probe_duration_seconds_bucket")
            .filter { $0.labels["endpoint"] == "_ping" }.map { $0.labels["le"]! }
        #expect(les == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"])
    }

    @Test(arguments: [ExpositionFormat.text, .openMetrics])
    func oneHelpAndTypePerFamilyAndTypeBeforeSamples(format: ExpositionFormat) throws {
        let p = try parse(representativeFamilies() + representativeFamilies(), format)
        var typed: Set<String> = []
        var currentFamily = ""
        for event in p.events {
            let parts = event.split(separator: " ")
            if parts[0] == "TYPE" {
                #expect(!typed.contains(String(parts[1])))
                typed.insert(String(parts[1]))
                currentFamily = String(parts[1])
            } else if parts[0] == "SAMPLE" {
                // every sample belongs to the family whose TYPE came last
                #expect(parts[1].hasPrefix(currentFamily))
            }
        }
        // Duplicated input renders once: the second copy is merged and deduplicated.
        let single = try parse(representativeFamilies(), format)
        #expect(p.samples == single.samples)
    }

    @Test func escapingCannotInjectLines() throws {
        let evil = "x\"} 1\n# TYPE injected gauge\ninjected 666\n\\"
        let families: [MetricFamily] = [
            .gauge(
                "docker_watchdog_container_up", help: "Help \"quoted\"\n# TYPE fake gauge\\",
                [
                    ([Label("name", evil)], 1)
                ])
        ]
        for format in [ExpositionFormat.text, .openMetrics] {
            let bytes = ExpositionRenderer.render(families, format: format)
            let p = try MiniParser.parse(bytes, openMetrics: format == .openMetrics)
            #expect(p.samples.count == 1)
            #expect(p.samples[0].labels["name"] == evil)
            #expect(p.help["docker_watchdog_container_up"] == "Help \"quoted\"\n# TYPE fake gauge\\")
            #expect(p.lineCount == (format == .openMetrics ? 4 : 3))
            #expect(p.type["injected"] == nil)
        }
        let t = text(ExpositionRenderer.render(families, format: .text))
        #expect(t.contains(#"name="x\"} 1\n# TYPE injected gauge\ninjected 666\n\\""#))
        #expect(t.contains(#"# HELP docker_watchdog_container_up Help "quoted"\n# TYPE fake gauge\\"#))
        let om = text(ExpositionRenderer.render(families, format: .openMetrics))
        #expect(om.contains(#"# HELP docker_watchdog_container_up Help \"quoted\"\n# TYPE fake gauge\\"#))
    }

    @Test func mergingAndSorting() throws {
        let a = MetricFamily.gauge(
            "b_metric", help: "first help",
            [
                ([Label("z", "1"), Label("a", "2")], 1),
                ([Label("a", "1")], 2),
            ])
        let b = MetricFamily.gauge("a_metric", help: "a", value: 5)
        let c = MetricFamily.counter("b_metric", help: "second help", [([Label("a", "0")], 9)])  // merged: type of the first (gauge)
        let d = MetricFamily.gauge("b_metric", help: "third", [([Label("a", "0")], 3)])
        let result = ExpositionRenderer.renderDetailed([a, b, c, d], format: .text)
        let out = text(result.bytes)
        #expect(
            out == """
                # HELP a_metric a
                # TYPE a_metric gauge
                a_metric 5
                # HELP b_metric first help
                # TYPE b_metric gauge
                b_metric{a="0"} 3
                b_metric{a="1"} 2
                b_metric{a="2",z="1"} 1

                """)
        // The counter sample (suffix _total) does not fit the merged gauge family.
        #expect(result.invalidSamples == 1)
        #expect(result.familiesRendered == 2)
        #expect(result.samplesRendered == 4)
    }

    @Test func duplicateSeriesKeepTheFirst() throws {
        let f = MetricFamily.gauge(
            "dup", help: "h",
            [
                ([Label("a", "1"), Label("b", "2")], 1),
                ([Label("b", "2"), Label("a", "1")], 2),  // same label set, other order
                ([Label("a", "1")], 3),
            ])
        let g = MetricFamily.gauge("dup", help: "other collector", [([Label("a", "1")], 4)])
        let result = ExpositionRenderer.renderDetailed([f, g], format: .text)
        let p = try MiniParser.parse(result.bytes, openMetrics: false)
        #expect(p.value("dup", ["a": "1", "b": "2"]) == 1)
        #expect(p.value("dup", ["a": "1"]) == 3)
        #expect(p.samples.count == 2)
        #expect(result.duplicateSamples == 2)
    }

    @Test func invalidNamesAreDroppedAndCounted() throws {
        let families: [MetricFamily] = [
            .gauge("1bad", help: "bad family name", value: 1),
            .gauge("has-dash", help: "bad", value: 1),
            .gauge(
                "good", help: "ok",
                [
                    ([Label("ok", "1")], 1),
                    ([Label("bad-name", "x")], 2),
                    ([Label("__reserved", "x")], 3),
                    ([Label("9lives", "x")], 4),
                    ([Label("dupe", "a"), Label("dupe", "b")], 5),
                    ([Label("", "x")], 6),
                ]),
            MetricFamily(
                name: "wrong_suffix", help: "gauge with counter suffix", type: .gauge,
                samples: [Sample(suffix: "_total", labels: [], value: 1), Sample(value: 2)]),
            MetricFamily(
                name: "info_value", help: "info must be 1", type: .info,
                samples: [Sample(suffix: "_info", labels: [Label("a", "b")], value: 2)]),
        ]
        for format in [ExpositionFormat.text, .openMetrics] {
            let result = ExpositionRenderer.renderDetailed(families, format: format)
            let p = try MiniParser.parse(result.bytes, openMetrics: format == .openMetrics)
            #expect(p.samples.map(\.name).sorted() == ["good", "wrong_suffix"])
            #expect(result.droppedFamilies == 2)
            #expect(result.invalidSamples == 2 + 5 + 1 + 1)
            #expect(!result.problems.isEmpty)
        }
    }

    @Test func clashingRenderedNamesDropTheLaterFamily() throws {
        let families: [MetricFamily] = [
            .counter("requests", help: "counter", [([], 1)]),
            .gauge("requests_total", help: "gauge clashing with the counter's sample name", value: 2),
            .gauge("latency_count", help: "gauge first", value: 3),
            .histogram("latency", help: "clashes with latency_count", [([], Histogram(upperBounds: [1]))]),
        ]
        let result = ExpositionRenderer.renderDetailed(families, format: .text)
        let p = try MiniParser.parse(result.bytes, openMetrics: false)
        #expect(p.value("requests_total") == 1)
        #expect(p.value("latency_count") == 3)
        #expect(p.type["latency"] == nil)
        #expect(result.droppedFamilies == 2)
    }

    @Test func labelsAreWrittenInNameOrder() throws {
        let f = MetricFamily.gauge("m", help: "h", [([Label("zeta", "1"), Label("alpha", "2"), Label("mid", "3")], 1)])
        #expect(text(ExpositionRenderer.render([f], format: .text)).contains(#"m{alpha="2",mid="3",zeta="1"} 1"#))
    }

    @Test func emptyInputs() throws {
        #expect(ExpositionRenderer.render([], format: .text).isEmpty)
        #expect(text(ExpositionRenderer.render([], format: .openMetrics)) == "# EOF\n")
        let empty = MetricFamily.gauge("nothing", help: "no samples", [])
        #expect(text(ExpositionRenderer.render([empty], format: .text)) == "# HELP nothing no samples\n# TYPE nothing gauge\n")
        let noHelp = MetricFamily.gauge("quiet", help: "", value: 1)
        #expect(text(ExpositionRenderer.render([noHelp], format: .openMetrics)) == "# TYPE quiet gauge\nquiet 1\n# EOF\n")
    }

    @Test func histogramLayoutInOutput() throws {
        var h = Histogram(upperBounds: [1, 0.5, 2])  // unsorted on purpose
        for v in [0.1, 0.5, 0.7, 1, 5] { h.observe(v) }
        let f = MetricFamily.histogram("op_seconds", help: "ops", [([Label("op", "b")], h), ([Label("op", "a")], h)])
        let out = text(ExpositionRenderer.render([f], format: .text))
        #expect(
            out == """
                # HELP op_seconds ops
                # TYPE op_seconds histogram
                op_seconds_bucket{op="a",le="0.5"} 2
                op_seconds_bucket{op="a",le="1"} 4
                op_seconds_bucket{op="a",le="2"} 4
                op_seconds_bucket{op="a",le="+Inf"} 5
                op_seconds_sum{op="a"} 7.3
                op_seconds_count{op="a"} 5
                op_seconds_bucket{op="b",le="0.5"} 2
                op_seconds_bucket{op="b",le="1"} 4
                op_seconds_bucket{op="b",le="2"} 4
                op_seconds_bucket{op="b",le="+Inf"} 5
                op_seconds_sum{op="b"} 7.3
                op_seconds_count{op="b"} 5

                """)
    }

    @Test func shuffledHistogramSamplesAreRegrouped() throws {
        var h = Histogram(upperBounds: [0.1, 1, 10])
        for v in [0.05, 0.5, 5, 50] { h.observe(v) }
        var f = MetricFamily.histogram("x_seconds", help: "h", [([Label("k", "1")], h), ([Label("k", "2")], h)])
        f.samples.reverse()
        let p = try parse([f], .openMetrics)
        let names = p.samples.map { "\($0.name)|\($0.labels["k"]!)|\($0.labels["le"] ?? "")" }
        #expect(
            names == [
                "x_seconds_bucket|1|0.1", "x_seconds_bucket|1|1.0", "x_seconds_bucket|1|10.0", "x_seconds_bucket|1|+Inf",
                "x_seconds_sum|1|", "x_seconds_count|1|",
                "x_seconds_bucket|2|0.1", "x_seconds_bucket|2|1.0", "x_seconds_bucket|2|10.0", "x_seconds_bucket|2|+Inf",
                "x_seconds_sum|2|", "x_seconds_count|2|",
            ])
    }

    @Test func histogramWithUserLeLabelIsRejected() throws {
        let f = MetricFamily.histogram("h_seconds", help: "h", [([Label("le", "5")], Histogram(upperBounds: [1]))])
        let result = ExpositionRenderer.renderDetailed([f], format: .text)
        #expect(result.samplesRendered == 0)
        #expect(result.invalidSamples == 4)
    }

    /// The renderer remembers the label names of the previous sample; changing names, order,
    /// count, families or validity between samples must never reuse stale work.
    @Test func labelNameReuseBetweenSamples() throws {
        let families: [MetricFamily] = [
            .gauge(
                "a_first", help: "h",
                [
                    ([Label("x", "1"), Label("b", "2")], 1),
                    ([Label("x", "3"), Label("b", "4")], 2),
                    ([Label("b", "5"), Label("x", "6")], 3),  // same names, other order
                    ([Label("b", "7")], 4),  // fewer
                    ([Label("b", "8"), Label("b", "9")], 5),  // duplicate name: invalid
                    ([], 6),  // none, right after an invalid one
                    ([Label("bad-name", "x"), Label("b", "1")], 7),
                    ([Label("ok", "x"), Label("b", "1")], 8),  // same count as the invalid one
                ]),
            .gauge("b_second", help: "h", value: 9),  // no labels, after a labelled family
            .histogram("c_third_seconds", help: "h", [([Label("b", "1")], Histogram(upperBounds: [1]))]),
            .gauge("d_fourth", help: "h", [([Label("b", "1")], 10)]),  // same names as the histogram's _sum
        ]
        let result = ExpositionRenderer.renderDetailed(families, format: .text)
        let p = try MiniParser.parse(result.bytes, openMetrics: false)
        #expect(result.invalidSamples == 2)
        #expect(p.value("a_first", ["x": "1", "b": "2"]) == 1)
        #expect(p.value("a_first", ["x": "3", "b": "4"]) == 2)
        #expect(p.value("a_first", ["x": "6", "b": "5"]) == 3)
        #expect(p.value("a_first", ["b": "7"]) == 4)
        #expect(p.value("a_first") == 6)
        #expect(p.value("a_first", ["ok": "x", "b": "1"]) == 8)
        #expect(p.value("b_second") == 9)
        #expect(p.value("c_third_seconds_bucket", ["b": "1", "le": "1"]) == 0)
        #expect(p.value("c_third_seconds_count", ["b": "1"]) == 0)
        #expect(p.value("d_fourth", ["b": "1"]) == 10)
        #expect(p.samples(named: "a_first").allSatisfy { $0.labelNames == $0.labelNames.sorted() })
    }

    @Test func unicodeLabelValuesPassThrough() throws {
        let f = MetricFamily.gauge("u", help: "Grüße ✓", [([Label("name", "conteneur-é-日本")], 1)])
        for format in [ExpositionFormat.text, .openMetrics] {
            let p = try parse([f], format)
            #expect(p.samples[0].labels["name"] == "conteneur-é-日本")
            #expect(p.help["u"] == "Grüße ✓")
        }
    }
}

@Suite("Rendering in fragments")
struct FragmentRenderTests {
    /// Families with the awkward cases: a merge of two parts, an invalid family, a duplicate
    /// series, a clash, out-of-order names.
    func awkward() -> [MetricFamily] {
        representativeFamilies() + [
            .gauge("docker_watchdog_up", help: "second part, merged", [([Label("extra", "1")], 2)]),
            .gauge("0bad name", help: "dropped", value: 1),
            .gauge("a_first", help: "sorted first", [([Label("x", "1")], 1), ([Label("x", "1")], 2)]),
            .gauge("docker_watchdog_container_restarts_total", help: "clashes with the counter", value: 1),
        ]
    }

    @Test(arguments: [ExpositionFormat.text, .openMetrics])
    func fragmentsConcatenateToTheWholeRender(format: ExpositionFormat) {
        var cache = RenderFragmentCache()
        let fragments = ExpositionRenderer.renderFragments(awkward(), format: format, cache: &cache)
        #expect(fragments.flatMap(\.bytes) == ExpositionRenderer.render(awkward(), format: format))
        #expect(Set(fragments.map(\.name)).count == fragments.count)
        #expect(fragments.filter(\.reused).map(\.name) == (format == .openMetrics ? ["# EOF"] : []))
    }

    @Test(arguments: [ExpositionFormat.text, .openMetrics])
    func unchangedFamiliesAreReusedAndChangedOnesRendered(format: ExpositionFormat) {
        var cache = RenderFragmentCache()
        var families = awkward()
        _ = ExpositionRenderer.renderFragments(families, format: format, cache: &cache)
        let again = ExpositionRenderer.renderFragments(families, format: format, cache: &cache)
        #expect(again.allSatisfy { $0.reused })
        #expect(again.flatMap(\.bytes) == ExpositionRenderer.render(families, format: format))

        // One sample of one family changes; a NaN elsewhere must still count as unchanged.
        families[0].samples[1].value = 42
        let third = ExpositionRenderer.renderFragments(families, format: format, cache: &cache)
        #expect(third.filter { !$0.reused }.map(\.name) == ["docker_watchdog_container_memory_bytes"])
        #expect(third.flatMap(\.bytes) == ExpositionRenderer.render(families, format: format))

        // A family disappears: the cache forgets it, and the body follows.
        families.removeAll { $0.name == "docker_watchdog_sample_age_seconds" }
        let fourth = ExpositionRenderer.renderFragments(families, format: format, cache: &cache)
        #expect(!fourth.contains { $0.name == "docker_watchdog_sample_age_seconds" })
        #expect(fourth.flatMap(\.bytes) == ExpositionRenderer.render(families, format: format))
    }
}

import Exposition
import Foundation
import Testing

private let promtoolPath = "/usr/bin/promtool"

/// Pipes `input` into `promtool check metrics`; returns the exit status and combined output.
private func promtoolCheckMetrics(_ input: [UInt8]) throws -> (status: Int32, output: String) {
    let inputFile = FileManager.default.temporaryDirectory
        .appendingPathComponent("promtool-input-\(UUID().uuidString).prom")
    try Data(input).write(to: inputFile)
    defer { try? FileManager.default.removeItem(at: inputFile) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtoolPath)
    process.arguments = ["check", "metrics"]
    let stdout = Pipe()
    process.standardInput = try FileHandle(forReadingFrom: inputFile)
    process.standardOutput = stdout
    process.standardError = stdout
    try process.run()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

@Suite("promtool and benchmark")
struct PromtoolAndBenchmarkTests {
    @Test func promtoolAcceptsTextOutput() throws {
        guard FileManager.default.isExecutableFile(atPath: promtoolPath) else {
            print("NOTICE: \(promtoolPath) not installed; skipping promtool check (apt-get install prometheus)")
            return
        }
        let body = ExpositionRenderer.render(representativeFamilies(), format: .text)
        let (status, output) = try promtoolCheckMetrics(body)
        if status != 0 { print(String(decoding: body, as: UTF8.self)) }
        #expect(status == 0, "promtool check metrics: \(output)")
    }

    /// Not an assertion about promtool's OpenMetrics support (2.42 parses stdin as the text
    /// format only); records what it says so a newer promtool's behaviour is visible.
    @Test func promtoolOnOpenMetricsOutputIsReported() throws {
        guard FileManager.default.isExecutableFile(atPath: promtoolPath) else {
            print("NOTICE: \(promtoolPath) not installed; skipping")
            return
        }
        let body = ExpositionRenderer.render(representativeFamilies(), format: .openMetrics)
        let (status, output) = try promtoolCheckMetrics(body)
        print("promtool check metrics on OpenMetrics output: exit \(status): \(output.prefix(300))")
    }

    /// Prints the figure; no timing assertion. Debug builds are ~20x slower and only render 10,000
    /// samples; run `swift test -c release --filter renderBenchmark` for the real figure.
    @Test func renderBenchmark() {
        #if DEBUG
            let samples = 10_000
            let build = "debug build"
        #else
            let samples = 100_000
            let build = "release build"
        #endif
        for format in [ExpositionFormat.text, .openMetrics] {
            let figures = ExpositionBenchmark.run(samples: samples, iterations: 5, format: format)
            print("render benchmark (\(format), \(build)): \(figures)")
            #expect(figures.samples >= samples)
        }
    }
}

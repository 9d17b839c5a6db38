import Foundation

/// A property a fuzz target checks failed for one input (a trap or a sanitizer report is the
/// other kind of failure, and ends the process by itself).
public struct PropertyViolation: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One fuzz target: a pure function of the input bytes. It must never trap, hang or leak; it
/// throws `PropertyViolation` when an input breaks one of its stated properties.
public protocol FuzzTarget {
    /// The corpus directory name under `fuzz/corpus/`.
    static var name: String { get }
    static func run(_ input: [UInt8]) throws(PropertyViolation)
}

/// Runs a fuzz target under libFuzzer or replays files through it.
///
/// Built normally (`swift build`), a `fuzz-*` executable replays the files and directories named
/// on its command line (a corpus, a crash artifact) and exits non-zero on a violated property or an
/// input slower than `--max-seconds`; tests and CI without sanitizers use that. Built by
/// `scripts/checks/fuzz.sh` with `-DWATCHDOG_FUZZING`, coverage instrumentation and libFuzzer's
/// `fuzzer_no_main` runtime, the same executable hands its arguments to `LLVMFuzzerRunDriver`.
///
/// libFuzzer's usual `-sanitize=fuzzer` link cannot be used with SwiftPM: it links libFuzzer's own
/// `main` (whole-archive) while SwiftPM links every executable with `--defsym main=<module>_main`.
/// Keeping our own `main` and calling the driver avoids the clash and keeps the targets ordinary
/// executables for `swift build`.
public enum FuzzDriver {
    public static func main<T: FuzzTarget>(_ target: T.Type) -> Never {
        currentTarget = { bytes in
            do {
                try T.run(bytes)
            } catch {
                // Abort so libFuzzer (or the caller of the replayer) records the input as a crash.
                FileHandle.standardError.write(Data("\(T.name): property violated: \(error)\n".utf8))
                abort()
            }
        }
        #if WATCHDOG_FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
            exit(replay(name: T.name, arguments: Array(CommandLine.arguments.dropFirst())))
        #endif
    }

    /// Replays files and directories (non-recursive) of inputs; returns the exit status.
    static func replay(name: String, arguments: [String]) -> Int32 {
        var maxSeconds = 10.0
        var paths: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--max-seconds", let value = iterator.next().flatMap(Double.init) {
                maxSeconds = value
            } else if argument.hasPrefix("-") {
                FileHandle.standardError.write(
                    Data(
                        """
                        usage: fuzz-\(name) [--max-seconds S] FILE|DIR...
                        (this build replays inputs; scripts/checks/fuzz.sh builds it with libFuzzer)\n
                        """.utf8))
                return 2
            } else {
                paths.append(argument)
            }
        }
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("fuzz-\(name): no such file: \(path)\n".utf8))
                return 2
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        var slow = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let start = ContinuousClock.now
            currentTarget?(Array(data))
            let elapsed = ContinuousClock.now - start
            if elapsed > .seconds(maxSeconds) {
                FileHandle.standardError.write(Data("fuzz-\(name): \(file) took \(elapsed) (limit \(maxSeconds) s)\n".utf8))
                slow += 1
            }
        }
        print("fuzz-\(name): replayed \(files.count) inputs, \(slow) too slow")
        return slow == 0 ? 0 : 1
    }
}

/// The target of this process; set once by `FuzzDriver.main` before any input runs.
nonisolated(unsafe) private var currentTarget: (([UInt8]) -> Void)?

#if WATCHDOG_FUZZING
    /// libFuzzer's entry point in `libclang_rt.fuzzer_no_main` (linked by scripts/checks/fuzz.sh).
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// Called by libFuzzer on the main thread for every input.
    private func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
        currentTarget?(bytes)
        return 0
    }
#endif

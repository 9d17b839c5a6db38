import CSystemShims
import Dispatch
import FoundationEssentials

/// glibc malloc settings for a long-running sampler, and handing freed heap back to the kernel.
///
/// Why: at 1,000 containers the heap part of resident memory was about 25 MiB, most of it memory
/// glibc kept after transient buffers (a 1.4 MB container list, bodies of 750 KB) in up to 8 arenas
/// per core, one per thread that allocated. With two arenas, large buffers mmapped (so freeing one
/// returns it at once) and a trim after sampling rounds it was 14 MiB, at no measurable CPU cost
/// (BENCHMARKS.md). Settings given in the environment (`MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_`) are left to glibc.
public enum Allocator {
    public static let arenaMax: Int32 = 2
    public static let mmapThreshold = 256 << 10

    /// Applies the settings; call once, before the threads start.
    public static func tune(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let arenas = environment["MALLOC_ARENA_MAX"] == nil ? arenaMax : 0
        let threshold = environment["MALLOC_MMAP_THRESHOLD_"] == nil ? mmapThreshold : 0
        _ = cwd_tune_allocator(arenas, threshold)
    }

    private static let lastRelease = Mutex<ContinuousClock.Instant?>(nil)

    /// Returns free heap pages to the kernel, at most once per `minimumGap` across all threads
    /// (a trim walks the heap: cheap, but not something to do after every small round).
    public static func releaseFreeMemory(minimumGap: Duration = .seconds(5)) {
        let now = ContinuousClock.now
        let due = lastRelease.withLock { last -> Bool in
            if let last, now - last < minimumGap { return false }
            last = now
            return true
        }
        if due { _ = cwd_release_free_heap() }
    }

    private static let trimQueue = DispatchQueue(label: "docker-watchdog.allocator-trim", qos: .utility)
    private static let trimPending = Mutex(false)

    /// Like ``releaseFreeMemory(minimumGap:)``, but on a background queue, for the scrape path:
    /// a `/metrics` render drops the previous body's pieces, which would otherwise stay in the
    /// allocator until the next sampling round's trim, and the request must not wait for a trim.
    public static func releaseFreeMemorySoon(minimumGap: Duration = .seconds(1)) {
        let schedule = trimPending.withLock { pending -> Bool in
            if pending { return false }
            pending = true
            return true
        }
        guard schedule else { return }
        trimQueue.async {
            trimPending.withLock { $0 = false }
            releaseFreeMemory(minimumGap: minimumGap)
        }
    }
}

import Exposition
import Sampling

extension MetricCatalog {
    // MARK: process

    public static let processCPU = MetricDescriptor(
        name: "process_cpu_seconds", type: .counter,
        help: "User and system CPU time spent by the watchdog process.",
        labels: [], collector: "process")
    public static let processRSS = MetricDescriptor(
        name: "process_resident_memory_bytes", type: .gauge,
        help: "Resident memory of the watchdog process.",
        labels: [], collector: "process")
    public static let processVirtual = MetricDescriptor(
        name: "process_virtual_memory_bytes", type: .gauge,
        help: "Virtual memory of the watchdog process.",
        labels: [], collector: "process")
    public static let processOpenFDs = MetricDescriptor(
        name: "process_open_fds", type: .gauge,
        help: "Open file descriptors of the watchdog process.",
        labels: [], collector: "process")
    public static let processMaxFDs = MetricDescriptor(
        name: "process_max_fds", type: .gauge,
        help: "File descriptor limit of the watchdog process.",
        labels: [], collector: "process")
    public static let processThreads = MetricDescriptor(
        name: "docker_watchdog_process_threads", type: .gauge,
        help: "Threads of the watchdog process.",
        labels: [], collector: "process")
    public static let processStart = MetricDescriptor(
        name: "process_start_time_seconds", type: .gauge,
        help: "Unix time the watchdog process started.",
        labels: [], collector: "process")

    /// Every metric of the collector, in reference order.
    public static let processMetrics: [MetricDescriptor] = [
        processCPU, processRSS, processVirtual, processOpenFDs, processMaxFDs, processThreads, processStart,
    ]
}

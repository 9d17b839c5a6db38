import Remediation
import Sampling

/// Runs the remediation engine on a `CollectorRunner` of its own, so that its rounds get the same
/// thread, deadlines, liveness check and `docker_watchdog_collector_*{collector="remediation"}`
/// bookkeeping as the collectors', while the engine itself knows nothing of sampling.
struct RemediationLoop: Collector {
    let engine: RemediationEngine
    var name: String { "remediation" }
    var interval: Duration { engine.interval }
    var maxRoundDuration: Duration { engine.maxRoundDuration }

    func collect() -> CollectionResult {
        CollectionResult(families: engine.evaluate())
    }
}

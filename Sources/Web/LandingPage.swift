import FoundationEssentials
import TextFormatting
import Containers
import Remediation
import Sampling

/// The small HTML page at `/`: what this is, where the metrics are, and the host at a glance.
enum LandingPage {
    static func render(
        telemetryPath: String, host: HostStatus, statuses: [String: CollectorStatus], liveness: [(name: String, alive: Bool)],
        containers: [TrackedContainer] = [], history: [HealthTransition] = [], plan: [RemediationEngine.PlanEntry] = [],
        actions: [AuditRecord] = []
    ) -> String {
        let daemon = host.daemon
        let disk = host.disk
        let usage = host.usage
        var rows: [(String, String)] = []
        rows.append(("Docker daemon", daemon.up ? "up" : (daemon.everAnswered ? "DOWN" : "not reachable yet")))
        if let v = daemon.serverVersion { rows.append(("Server version", v)) }
        if let v = daemon.apiVersion { rows.append(("API version", v)) }
        if let v = daemon.storageDriver { rows.append(("Storage driver", v)) }
        if let v = daemon.rootDir { rows.append(("Docker root", v)) }
        if let ping = daemon.lastPingSeconds { rows.append(("Last ping", fixedPoint(ping * 1000, fractionDigits: 1) + " ms")) }
        if daemon.consecutiveFailures > 0 { rows.append(("Failed probes in a row", "\(daemon.consecutiveFailures)")) }
        if let error = daemon.lastError { rows.append(("Last daemon error", error)) }
        if let size = disk.sizeBytes, let avail = disk.availableBytes, size > 0 {
            rows.append(("Disk available", "\(bytes(avail)) of \(bytes(size)) (\(percent(Double(avail) / Double(size))))"))
        }
        if let files = disk.files, let free = disk.filesFree, files > 0 {
            rows.append(("Inodes free", "\(free) of \(files) (\(percent(Double(free) / Double(files))))"))
        }
        if disk.statfsHung { rows.append(("Disk", "statvfs is HUNG on \(disk.path ?? "?")")) }
        if let error = disk.lastError { rows.append(("Last disk error", error)) }
        for (name, c) in usage.categories {
            rows.append(("Usage: \(name)", "\(c.totalCount) objects, \(c.activeCount) active, \(bytes(UInt64(max(0, c.sizeBytes)))), \(bytes(UInt64(max(0, c.reclaimableBytes)))) reclaimable"))
        }
        if let error = usage.lastError { rows.append(("Last /system/df error", error)) }
        if !containers.isEmpty {
            let running = containers.filter { $0.state == "running" }.count
            let unhealthy = containers.filter { $0.health == "unhealthy" }.map(\.name).sorted()
            rows.append(("Containers", "\(containers.count) (\(running) running)"))
            rows.append(("Unhealthy", unhealthy.isEmpty ? "none" : unhealthy.joined(separator: ", ")))
        }

        var warnings: [String] = []
        if daemon.liveRestore == false {
            warnings.append("live-restore is off: restarting the Docker daemon stops every container on this host.")
        }
        for (name, alive) in liveness where !alive { warnings.append("the \(name) sampling loop has stalled") }

        let collectors = statuses.values.sorted { $0.name < $1.name }.map { s -> String in
            let last = s.lastSuccess.map { $0.formatted(.iso8601) } ?? "never"
            let state = s.success ? "ok" : "failing: \(escape(s.error ?? "?"))"
            return "<tr><td>\(escape(s.name))</td><td>\(state)</td><td>\(last)</td><td>\(s.runs)</td></tr>"
        }.joined(separator: "\n")

        // Remediation: each policy's switch and current plan, then the last actions.
        let policies = plan.map { p -> String in
            let mode = !p.enabled ? "off" : p.dryRun ? "on, dry run" : "on"
            let held = p.suppressed.map { " — holding back: \(escape($0))" } ?? ""
            let lines = p.enabled ? p.plan.prefix(12).map { "<li>\(escape($0))</li>" }.joined() : ""
            return "<tr><th>\(escape(p.policy))</th><td>\(mode)\(held)<ul>\(lines)</ul></td></tr>"
        }.joined(separator: "\n")
        let recent = actions.suffix(10).reversed().map { r -> String in
            let bytes = r.bytesReclaimed.map { " (\(Self.bytes(UInt64(max(0, $0)))))" } ?? ""
            return "<tr><td>\(r.time.formatted(.iso8601))</td><td>\(escape(r.policy))</td><td>\(escape(r.action))</td>"
                + "<td>\(escape(r.phase))\(r.dryRun ? " (dry run)" : "")\(bytes)</td><td>\(escape(r.targets.joined(separator: ", ")))</td>"
                + "<td>\(escape(r.error ?? ""))</td></tr>"
        }.joined(separator: "\n")

        // What fills the Docker disk: a bar of the breakdown, then the largest logs.
        let breakdown = host.diskBreakdown().categories
        let used = max(1, breakdown.reduce(0) { $0 + $1.bytes })
        let colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#bab0ac"]
        let bar = breakdown.enumerated().map { i, part in
            let width = fixedPoint(Double(part.bytes) / Double(used) * 100, fractionDigits: 2)
            return "<span style=\"display:inline-block;height:1.2em;width:\(width)%;background:\(colors[i % colors.count])\" "
                + "title=\"\(escape(part.name)) \(Self.bytes(UInt64(part.bytes)))\"></span>"
        }.joined()
        let legend = breakdown.enumerated().map { i, part in
            "<tr><td><span style=\"color:\(colors[i % colors.count])\">■</span> \(escape(part.name))</td><td>\(Self.bytes(UInt64(part.bytes)))</td></tr>"
        }.joined(separator: "\n")
        let logs = usage.largestLogs.map { "<tr><td>\(escape($0.name))</td><td>\(Self.bytes(UInt64(max(0, $0.bytes))))</td></tr>" }
            .joined(separator: "\n")
        let diskSection =
            breakdown.isEmpty
            ? "<p>Not measured yet (needs the disk and system_df collectors).</p>"
            : "<div style=\"width:100%;border:1px solid #ccc;line-height:0\">\(bar)</div>\n<table>\(legend)</table>"
                + (logs.isEmpty ? "" : "\n<h3>Largest container logs</h3>\n<table>\(logs)</table>")

        let info = BuildInfo.current
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>docker-watchdog</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .8em;text-align:left}\
            .warn{color:#a00;font-weight:bold}</style></head>
            <body>
            <h1>docker-watchdog</h1>
            <p>Version \(escape(info.version)) (Swift \(escape(info.swiftVersion))).
            <a href="\(escape(relative(telemetryPath)))">Metrics</a> · <a href="healthz">Health</a> ·
            <a href="api/v1/plan">Plan (JSON)</a> · <a href="api/v1/actions">Actions (JSON)</a> · <a href="api/v1/history">History (JSON)</a></p>
            \(warnings.map { "<p class=\"warn\">Warning: \(escape($0))</p>" }.joined(separator: "\n"))
            <h2>Host</h2>
            <table>
            \(rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n"))
            </table>
            <h2>What fills the Docker disk</h2>
            \(diskSection)
            <h2>Recent health transitions</h2>
            <table><tr><th>time</th><th>container</th><th>stack</th><th>change</th><th>last probe</th></tr>
            \(history.reversed().map { t in
                "<tr><td>\(t.time.formatted(.iso8601))</td><td>\(escape(t.container))</td><td>\(escape(t.stack ?? ""))</td>"
                    + "<td>\(escape(t.from)) → \(escape(t.to))</td><td>\(escape(t.output ?? ""))</td></tr>"
            }.joined(separator: "\n"))
            </table>
            <p><a href="api/v1/history">Full history (JSON)</a></p>
            <h2>Remediation</h2>
            <table>
            \(policies)
            </table>
            <h3>Recent actions</h3>
            <table><tr><th>time</th><th>policy</th><th>action</th><th>phase</th><th>targets</th><th>error</th></tr>
            \(recent)
            </table>
            <p><a href="api/v1/actions">All recent actions (JSON)</a> · <a href="api/v1/plan">Plan (JSON)</a></p>
            <h2>Collectors</h2>
            <table><tr><th>collector</th><th>state</th><th>last success</th><th>rounds</th></tr>
            \(collectors)
            </table>
            </body></html>

            """
    }

    /// Links are relative to the page at `/`, so that behind a reverse proxy with a route prefix
    /// (`/watchdog/`) they still lead to the watchdog's pages.
    static func relative(_ path: String) -> String {
        path.hasPrefix("/") ? String(path.dropFirst()) : path
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : fixedPoint(value, fractionDigits: 1) + " " + units[unit]
    }

    static func percent(_ ratio: Double) -> String { fixedPoint(ratio * 100, fractionDigits: 1) + "%" }
}

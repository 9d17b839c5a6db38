/// Decodes `GET /containers/{id}/json` with the list scanner's reader instead of `JSONDecoder`.
///
/// Why: an inspect is the one call of a steady containers round besides the list (the failing
/// streak of unhealthy containers moves with every probe), and the answer is large (mounts,
/// networks, the whole config, five probe logs) while the watchdog reads a dozen fields.
/// `JSONDecoder` built all of it first and was the largest part of such a round after the list.
/// It accepts and rejects what the `Decodable` conformance of ``ContainerInspect`` does, which a
/// differential test checks on real and generated answers.
enum ContainerInspectScanner {
    static let what = "GET /containers/{id}/json"

    static func decode(_ bytes: [UInt8]) throws(ModelDecodingError) -> ContainerInspect {
        try bytes.withUnsafeBufferPointer { (buffer) throws(ModelDecodingError) in
            var reader = Reader(bytes: buffer, what: what, indexed: false)
            reader.skipSpace()
            let inspect = try reader.inspect()
            reader.skipSpace()
            guard reader.i == buffer.count else { throw reader.failTop("malformed: data after the object") }
            return inspect
        }
    }
}

extension Reader {
    /// The inspect object at `i`.
    mutating func inspect() throws(ModelDecodingError) -> ContainerInspect {
        guard peek() != nil else { throw failTop("malformed: empty answer") }
        try beginObject(expected: "an object")
        var id: String?, name: String?, restartCount: Int?
        var state: ContainerInspect.State?, config: ContainerInspect.Config?
        var host = HostConfigFields()
        var logPath: String?
        var first = true
        while let member = try nextMember(&first) {
            field = member
            switch member {
            case "Id":
                // Required: null is as wrong as absent.
                guard !null() else { throw fail("required field is null") }
                id = try optionalString()
            case "Name": name = try optionalString()
            case "RestartCount": restartCount = try optionalInt()
            case "State":
                guard !null() else { throw fail("required field is null") }
                state = try inspectState()
            case "Config":
                guard !null() else { throw fail("required field is null") }
                config = try inspectConfig()
            case "HostConfig": host = try hostConfig()
            case "LogPath": logPath = try optionalString()
            default: try skipValue()
            }
            field = ""
        }
        guard let id else { throw fail("required field missing", field: "Id") }
        guard let state else { throw fail("required field missing", field: "State") }
        guard let config else { throw fail("required field missing", field: "Config") }
        let raw = name ?? ""
        return ContainerInspect(
            id: id, name: raw.hasPrefix("/") ? String(raw.dropFirst()) : raw, restartCount: restartCount ?? 0,
            state: state, config: config, restartPolicy: host.restartPolicy ?? "", logPath: logPath ?? "",
            logDriver: host.logDriver ?? "", logOptions: host.logOptions ?? [:])
    }

    private mutating func inspectState() throws(ModelDecodingError) -> ContainerInspect.State {
        try beginObject(expected: "State")
        var status: String?, oomKilled: Bool?, exitCode: Int?, startedAt: String?, finishedAt: String?
        var health: ContainerInspect.Health?
        var first = true
        while let member = try nextMember(&first) {
            field = "State.\(member)"
            switch member {
            case "Status": status = try optionalString()
            case "OOMKilled": oomKilled = try optionalBool()
            case "ExitCode": exitCode = try optionalInt()
            case "StartedAt": startedAt = try optionalString()
            case "FinishedAt": finishedAt = try optionalString()
            case "Health": health = null() ? nil : try inspectHealth()
            default: try skipValue()
            }
        }
        return ContainerInspect.State(
            status: status ?? "", oomKilled: oomKilled ?? false, exitCode: exitCode ?? 0,
            startedAt: startedAt.flatMap(DockerDate.parse), finishedAt: finishedAt.flatMap(DockerDate.parse), health: health)
    }

    private mutating func inspectHealth() throws(ModelDecodingError) -> ContainerInspect.Health {
        try beginObject(expected: "Health")
        var status: String?, streak: Int?, log: [ContainerInspect.HealthLog]?
        var first = true
        while let member = try nextMember(&first) {
            field = "State.Health.\(member)"
            switch member {
            case "Status": status = try optionalString()
            case "FailingStreak": streak = try optionalInt()
            case "Log":
                if null() { log = nil; continue }
                try beginArray(expected: "Array<HealthLog>")
                var entries: [ContainerInspect.HealthLog] = []
                var first = true
                while try nextElement(&first) {
                    field = "State.Health.Log[\(entries.count)]"
                    entries.append(try healthLog())
                }
                log = entries
            default: try skipValue()
            }
        }
        return ContainerInspect.Health(status: status ?? "none", failingStreak: streak ?? 0, log: log ?? [])
    }

    private mutating func healthLog() throws(ModelDecodingError) -> ContainerInspect.HealthLog {
        let base = field
        try beginObject(expected: "HealthLog")
        var exitCode: Int?, output: String?
        var first = true
        while let member = try nextMember(&first) {
            field = "\(base).\(member)"
            switch member {
            case "ExitCode": exitCode = try optionalInt()
            case "Output": output = try optionalString()
            default: try skipValue()
            }
        }
        return ContainerInspect.HealthLog(exitCode: exitCode, output: output)
    }

    private mutating func inspectConfig() throws(ModelDecodingError) -> ContainerInspect.Config {
        try beginObject(expected: "Config")
        var image: String?, labels: [String: String]?
        var first = true
        while let member = try nextMember(&first) {
            field = "Config.\(member)"
            switch member {
            case "Image": image = try optionalString()
            case "Labels": labels = try optionalStringMap()
            default: try skipValue()
            }
        }
        return ContainerInspect.Config(image: image ?? "", labels: labels ?? [:])
    }

    /// What the watchdog reads of `HostConfig`: the restart policy's name and the log driver with
    /// its options; nil where a level is absent or null.
    struct HostConfigFields {
        var restartPolicy: String?
        var logDriver: String?
        var logOptions: [String: String]?
    }

    private mutating func hostConfig() throws(ModelDecodingError) -> HostConfigFields {
        var out = HostConfigFields()
        if null() { return out }
        try beginObject(expected: "HostConfig")
        var first = true
        while let member = try nextMember(&first) {
            field = "HostConfig.\(member)"
            switch member {
            case "RestartPolicy":
                out.restartPolicy = nil
                if null() { continue }
                try beginObject(expected: "RestartPolicy")
                var inner = true
                while let key = try nextMember(&inner) {
                    field = "HostConfig.RestartPolicy.\(key)"
                    if key == "Name" { out.restartPolicy = try optionalString() } else { try skipValue() }
                }
            case "LogConfig":
                out.logDriver = nil
                out.logOptions = nil
                if null() { continue }
                try beginObject(expected: "LogConfig")
                var inner = true
                while let key = try nextMember(&inner) {
                    field = "HostConfig.LogConfig.\(key)"
                    switch key {
                    case "Type": out.logDriver = try optionalString()
                    case "Config": out.logOptions = try optionalStringMap()
                    default: try skipValue()
                    }
                }
            default: try skipValue()
            }
        }
        return out
    }
}

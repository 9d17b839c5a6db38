import Exposition

extension MetricCatalog {
    // MARK: configuration reload (SIGHUP)

    public static let configReloadSuccessful = MetricDescriptor(
        name: "docker_watchdog_config_last_reload_successful", type: .gauge,
        help: "1 if the last configuration reload (SIGHUP) succeeded, 0 if the files were invalid and the running configuration was kept.",
        labels: [], collector: "core")
    public static let configReloadSuccessTime = MetricDescriptor(
        name: "docker_watchdog_config_last_reload_success_timestamp_seconds", type: .gauge,
        help: "Unix time of the last successful configuration load (the start, or a SIGHUP).",
        labels: [], collector: "core")
    public static let configRestartRequired = MetricDescriptor(
        name: "docker_watchdog_config_restart_required", type: .gauge,
        help: "1 if the configuration on disk differs from the running one in keys that only apply after a restart (see the log of the reload for which).",
        labels: [], collector: "core")

    public static let reloadMetrics: [MetricDescriptor] = [configReloadSuccessful, configReloadSuccessTime, configRestartRequired, unauthorizedRequests, serverErrors]

    // MARK: the HTTP endpoint

    public static let unauthorizedRequests = MetricDescriptor(
        name: "docker_watchdog_http_unauthorized_requests", type: .counter,
        help:
            "Requests answered 401 because basic auth is configured and they carried no credentials or wrong ones (a browser's first request without credentials counts too). A steady rise is someone guessing passwords.",
        labels: [], collector: "core")
    public static let serverErrors = MetricDescriptor(
        name: "docker_watchdog_http_server_errors", type: .counter,
        help:
            "Errors the HTTP server (libmicrohttpd) reported: failed TLS handshakes (plain HTTP to the TLS port, an old TLS version, a missing client certificate), malformed requests it answered with 400 and closed, and whatever else it reports. Logged at most once per 10 s.",
        labels: [], collector: "core")
}

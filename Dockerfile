# docker-watchdog container image.
#
#   docker build -t docker-watchdog .                         # Swift build stage + Debian runtime
#   docker build -t docker-watchdog --target runtime-prebuilt \
#       --build-arg BINARY=docker-watchdog <dir holding a binary built on the host>
#
# Run it with the Docker socket as its only access to the host; the image's user is not root, so
# give it the socket's group (and, for disk metrics, the host's root read-only):
#
#   docker run -d --name docker-watchdog --restart unless-stopped \
#       --group-add "$(stat -c %g /var/run/docker.sock)" \
#       -v /var/run/docker.sock:/var/run/docker.sock \
#       -v /:/host:ro,rslave -v docker-watchdog-audit:/var/lib/docker-watchdog \
#       --read-only --cap-drop ALL --security-opt no-new-privileges \
#       -p 9734:9734 docker-watchdog --collector.disk.host-prefix /host
#
# The base images are build arguments so that the image can be built from bases made locally
# (scripts/checks/image.sh builds the runtime stage FROM a debootstrapped Debian imported with
# `docker import`, with no registry and no network). Stages are ordered so that the classic
# builder, which builds every stage before --target, never needs the Swift image for
# runtime-prebuilt. No `# syntax=` line: BuildKit would fetch that frontend from a registry, and
# the built-in one is enough (the binary keeps its mode, so COPY needs no --chmod).

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- runtime-base: Debian with the three C libraries the binary links, and its user -------------
FROM ${RUNTIME_IMAGE} AS runtime-base
# libcurl4 (Docker API over the unix socket, webhooks), libmicrohttpd12 (the HTTP server, with
# GnuTLS), libyaml-0-2 (the configuration files), ca-certificates (https webhooks). libnghttp2-14
# (HTTP/2 for BuildKit's build history) comes with libcurl4. Everything else the binary links (libstdc++6,
# zlib1g, libc6, libgcc-s1) is in every Debian base. Packages already present are not installed
# again, so a base that carries them builds without network.
ARG RUNTIME_PACKAGES="ca-certificates libcurl4 libmicrohttpd12 libyaml-0-2"
ARG WATCHDOG_UID=10001
RUN set -eu; \
    missing=""; \
    for p in $RUNTIME_PACKAGES; do \
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing="$missing $p"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid "$WATCHDOG_UID" docker-watchdog; \
    useradd --system --uid "$WATCHDOG_UID" --gid docker-watchdog --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin docker-watchdog; \
    install -d -o docker-watchdog -g docker-watchdog -m 0750 /var/lib/docker-watchdog
# The audit log (remediation.audit_log) lives here; mount a volume to keep it across containers.
WORKDIR /var/lib/docker-watchdog
EXPOSE 9734
# Numeric, so that runtimes can tell it is not root without reading /etc/passwd.
USER ${WATCHDOG_UID}:${WATCHDOG_UID}
ENTRYPOINT ["/usr/local/bin/docker-watchdog"]
# No HEALTHCHECK: the image has no HTTP client. Scrape /healthz from Prometheus instead
# (docker_watchdog_* metrics and `up`), or add one in a derived image.

# ---- runtime-prebuilt: the runtime with a binary built outside Docker -----------------------------
# BINARY is a path in the build context, e.g. a `swift build -c release --static-swift-stdlib`
# result copied next to a context of its own.
FROM runtime-base AS runtime-prebuilt
ARG BINARY=docker-watchdog
COPY ${BINARY} /usr/local/bin/docker-watchdog
# Fails the build when a shared library is missing from the base.
RUN ["/usr/local/bin/docker-watchdog", "--version"]

# ---- build: the Swift toolchain image ---------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev libyaml-dev libnghttp2-dev pkg-config; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.resolved is optional (not committed): the glob copies it when present.
COPY Package.* ./
RUN swift package resolve
COPY Sources ./Sources
# The Swift runtime is linked statically, so the runtime stage needs no Swift libraries.
RUN swift build -c release --static-swift-stdlib --product docker-watchdog \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/docker-watchdog" /out/docker-watchdog

# ---- runtime (default): the runtime with the binary from the build stage --------------------------
FROM runtime-base AS runtime
COPY --from=build /out/docker-watchdog /usr/local/bin/docker-watchdog
RUN ["/usr/local/bin/docker-watchdog", "--version"]

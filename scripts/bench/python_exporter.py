"""The exporter a user would write by hand: the `docker` SDK and `prometheus_client`, listing the
containers and their health on every scrape. A peer for scripts/bench.sh, not part of the product.

    python_exporter.py --docker-host unix:///path/docker.sock --listen 127.0.0.1:PORT

`client.containers.list(all=True)` is the SDK's documented way to list containers; it lists and
then inspects every container (that is where health lives), so each scrape costs 1 + N API calls.
"""
import argparse
import time

import docker
from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, GaugeMetricFamily

STATES = {"created": 0, "running": 1, "paused": 2, "restarting": 3, "removing": 4, "exited": 5, "dead": 6}
HEALTH = {"none": 0, "starting": 1, "healthy": 2, "unhealthy": 3}


class DockerCollector:
    def __init__(self, client):
        self.client = client

    def collect(self):
        labels = ["name", "image", "compose_project", "compose_service"]
        state = GaugeMetricFamily("docker_container_state", "Container state (0 created ... 6 dead).", labels=labels)
        health = GaugeMetricFamily("docker_container_health_status", "Container health (0 none ... 3 unhealthy).", labels=labels)
        for c in self.client.containers.list(all=True):
            attrs = c.attrs
            values = [
                c.name,
                attrs.get("Config", {}).get("Image", ""),
                c.labels.get("com.docker.compose.project", ""),
                c.labels.get("com.docker.compose.service", ""),
            ]
            st = attrs.get("State", {})
            state.add_metric(values, STATES.get(st.get("Status", ""), -1))
            health.add_metric(values, HEALTH.get((st.get("Health") or {}).get("Status", "none"), 0))
        yield state
        yield health


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--docker-host", required=True)
    parser.add_argument("--listen", required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    client = docker.DockerClient(base_url=args.docker_host, version="1.41", timeout=120)
    REGISTRY.register(DockerCollector(client))
    start_http_server(int(port), addr=host)
    print(f"listen={host}:{port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

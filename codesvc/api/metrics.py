"""Prometheus metrics: request counts and latency per route and status, plus domain counters."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per application, so several apps in one process never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        r = self.registry
        self.requests = Counter(
            "codesvc_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "codesvc_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "codesvc_events", "Events received, by outcome", ["kind", "status"], registry=r
        )
        self.color_changes = Counter(
            "codesvc_color_changes", "Stored colour changes, by new colour", ["color"], registry=r
        )
        self.swept = Counter(
            "codesvc_swept_persons",
            "Statuses moved by the sweeper when a deadline passed",
            registry=r,
        )
        self.scans = Counter(
            "codesvc_scans", "Scans answered, by colour shown", ["color"], registry=r
        )
        self.scan_batch = Histogram(
            "codesvc_scan_group_size",
            "Scan records committed together",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.overrides_proposed = Counter(
            "codesvc_overrides_proposed",
            "Manual colour overrides proposed",
            ["member"],
            registry=r,
        )
        self.override_alarms = Counter(
            "codesvc_override_alarms",
            "Times a commission member proposed more overrides in an hour than allowed",
            registry=r,
        )
        self.db_up = Gauge(
            "codesvc_database_up",
            "1 when the last readiness check reached the database",
            registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request; the labelled children are looked up once and kept."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
